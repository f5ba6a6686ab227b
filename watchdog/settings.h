/* The settings table: one row per setting, with its names, type, default,
 * field, modes, rules and help. config_load walks it and --help prints it;
 * it is exposed so that the unit tests can check every row. */
#ifndef FW_SETTINGS_H
#define FW_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

enum setting_type {
    SETTING_BOOL,     /* bool: true/1, false/0/empty */
    SETTING_INT,      /* int, or int64_t when the field is that wide; min..max */
    SETTING_DURATION, /* int64_t milliseconds; a bare integer is seconds */
    SETTING_SIZE,     /* int64_t bytes; k, M, G suffixes */
    SETTING_STRING,   /* char *, malloc'd; NULL when unset */
    SETTING_ENUM,     /* an enum field: the index of the value in choices */
    SETTING_MODE,     /* const struct mode *, named as in the table of modes */
};

#define SETTING_ALIASES 2

struct loader;

struct setting {
    const char *name;
    const char *aliases[SETTING_ALIASES]; /* more names for it; NULL-terminated */
    bool alias_wins;          /* a set alias is taken before name (else name first) */
    bool either;              /* a boolean with aliases: true when any of its names is */
    enum setting_type type;
    size_t offset, size;      /* its field in struct config */
    const char *def;          /* the default, in the variable's syntax; NULL: unset */
    unsigned def_modes;       /* in these modes (MODE_* bits) the default is mode_def */
    const char *mode_def;     /* NULL: unset */
    const char *mode_def_shown; /* --help's words for a NULL mode_def */
    const char *follows;      /* no def: the value of this earlier setting */
    const char *shown_def;    /* --help's words for a NULL def */
    unsigned modes;           /* the modes it applies to; 0: all */
    unsigned required;        /* a string: the modes in which it must be set */
    const char *unset_hint;   /* ... and the message's reason when it is not */
    const char *only;         /* set: outside modes, a value but 0 is an error;
                               * the words for those modes in the message */
    int64_t min, max;         /* SETTING_INT */
    const char *what;         /* SETTING_INT, _ENUM, _MODE: the kind of value, in messages */
    const char *const *choices; /* SETTING_ENUM, NULL-terminated */
    bool positive;            /* SETTING_DURATION: 0 is refused */
    bool negative_is_none;    /* SETTING_DURATION: a negative value is taken, as
                               * the Go watchdogs take it, as no limit (else refused) */
    bool keep_empty;          /* an empty value is a value (or an error), not unset */
    enum bool_dialect dialect; /* SETTING_BOOL: the spellings Go's reader takes */
    bool classic_true_only;   /* SETTING_BOOL: in classic mode, read as the classic
                               * watchdog reads it (BOOL_TRUE_ONLY) */
    /* A rule past the value's syntax, run after the value is in cfg and only
     * in the modes it applies to; name is the variable the value came from.
     * 0, or -1 with the message. */
    int (*check)(const struct loader *l, const char *name, struct config *cfg);
    const char *help;
};

/* The rows in --help order, mode first (it decides defaults and which
 * rules run); NULL past the last. */
const struct setting *setting_at(size_t i);
/* By name or alias; NULL when unknown. */
const struct setting *setting_find(const char *name);

/* settings_text.c: the index of v among the values an enum or mode
 * setting takes, -1 when it is none of them; those values as "a, b or c";
 * the modes of bits (MODE_* bits) as "a, b, c". */
int setting_choice(const struct setting *s, const char *v);
void setting_choice_list(const struct setting *s, char *buf, size_t len);
void setting_mode_list(unsigned bits, char *buf, size_t len);

#endif
