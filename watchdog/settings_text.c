/* Settings as text: the lists of modes and values that messages name, and
 * --help, made from the table. */
#include "settings.h"

#include <stdarg.h>
#include <string.h>

#include "mode.h"

#define MAX_CHOICES 8

/* Text appended into a fixed buffer, cut when it is full. */
struct text {
    char *buf;
    size_t len, used;
};

static struct text text_in(char *buf, size_t len)
{
    buf[0] = '\0';
    return (struct text){buf, len, 0};
}

static void add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add(struct text *t, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (t->used >= t->len)
        return;
    va_start(ap, fmt);
    n = vsnprintf(t->buf + t->used, t->len - t->used, fmt, ap);
    va_end(ap);
    if (n > 0)
        t->used += (size_t)n;
}

/* names[0..n) as "a, b or c" (last is " or ") or "a, b, c" (last ", "). */
static void join(struct text *t, const char *const *names, size_t n, const char *last)
{
    for (size_t i = 0; i < n; i++)
        add(t, "%s%s", i == 0 ? "" : i + 1 == n ? last : ", ", names[i]);
}

static size_t mode_names(unsigned bits, const char *out[MAX_CHOICES])
{
    size_t n = 0;

    for (size_t i = 0; mode_at(i) && n < MAX_CHOICES; i++) {
        if (mode_bit(mode_at(i)) & bits)
            out[n++] = mode_at(i)->name;
    }
    return n;
}

/* The modes of bits, for messages: "streaming, serializing, classic". */
static void mode_list(struct text *t, unsigned bits)
{
    const char *names[MAX_CHOICES];

    join(t, names, mode_names(bits, names), ", ");
}

/* The values an enum or mode setting takes, in order. */
static size_t choices(const struct setting *s, const char *out[MAX_CHOICES])
{
    size_t n = 0;

    if (s->type == SETTING_MODE)
        return mode_names(MODES_ALL, out);
    for (; n < MAX_CHOICES && s->choices[n]; n++)
        out[n] = s->choices[n];
    return n;
}

int setting_choice(const struct setting *s, const char *v)
{
    const char *names[MAX_CHOICES];
    size_t n = choices(s, names);

    for (size_t i = 0; i < n; i++) {
        if (strcmp(v, names[i]) == 0)
            return (int)i;
    }
    return -1;
}

void setting_choice_list(const struct setting *s, char *buf, size_t len)
{
    const char *names[MAX_CHOICES];
    struct text t = text_in(buf, len);

    join(&t, names, choices(s, names), " or ");
}

void setting_mode_list(unsigned bits, char *buf, size_t len)
{
    struct text t = text_in(buf, len);

    mode_list(&t, bits);
}

/* ---- --help ---- */

/* The modes of bits, or "all but X" when X is the only one left out. */
static void add_modes(struct text *t, unsigned bits)
{
    const char *others[MAX_CHOICES];

    if (mode_names(MODES_ALL & ~bits, others) == 1) {
        add(t, "all but %s", others[0]);
        return;
    }
    mode_list(t, bits);
}

static void add_default(struct text *t, const struct setting *s)
{
    if (s->def)
        add(t, "%s", s->def);
    else if (s->follows)
        add(t, "(value of %s)", s->follows);
    else
        add(t, "(%s)", s->shown_def ? s->shown_def : "none");
}

/* The modes it is for, its help (an enum's: its values), then the modes
 * with another default: "(classic: 0)". */
static void add_meaning(struct text *t, const struct setting *s)
{
    const char *names[MAX_CHOICES];

    if (s->modes && s->modes != MODES_ALL) {
        add_modes(t, s->modes);
        add(t, ": ");
    }
    if (s->help)
        add(t, "%s", s->help);
    else
        join(t, names, choices(s, names), " or ");
    if (s->def_modes) {
        add(t, " (");
        mode_list(t, s->def_modes);
        add(t, ": %s)", s->mode_def ? s->mode_def : s->mode_def_shown);
    }
}

/* How an alias and the name combine (see lookup_order and either). */
static void add_alias_meaning(struct text *t, const struct setting *s)
{
    add(t, "same as %s; ", s->name);
    if (s->either || s->alias_wins)
        add(t, "%s", s->either ? "true when either is" : "wins when both are set");
    else
        add(t, "used when %s is unset", s->name);
}

struct columns {
    int name, def;
};

static int max_int(int a, size_t b)
{
    return (size_t)a > b ? a : (int)b;
}

/* Wide enough for every name and every default. */
static struct columns help_columns(void)
{
    struct columns c = {(int)strlen("VARIABLE"), (int)strlen("DEFAULT")};
    char def[80];
    const struct setting *s;

    for (size_t i = 0; (s = setting_at(i)) != NULL; i++) {
        struct text t = text_in(def, sizeof(def));
        add_default(&t, s);
        c.def = max_int(c.def, t.used);
        c.name = max_int(c.name, strlen(s->name));
        for (size_t a = 0; a < SETTING_ALIASES && s->aliases[a]; a++)
            c.name = max_int(c.name, strlen(s->aliases[a]));
    }
    return c;
}

static void print_row(FILE *out, struct columns c, const char *name, const char *def,
                      const char *meaning)
{
    fprintf(out, "  %-*s  %-*s  %s\n", c.name, name, c.def, def, meaning);
}

/* One row per name: the setting's own, then one per alias. */
static void print_setting(FILE *out, struct columns c, const struct setting *s)
{
    char def[80], meaning[256];
    struct text d = text_in(def, sizeof(def));
    struct text m = text_in(meaning, sizeof(meaning));

    add_default(&d, s);
    add_meaning(&m, s);
    print_row(out, c, s->name, def, meaning);
    for (size_t a = 0; a < SETTING_ALIASES && s->aliases[a]; a++) {
        m = text_in(meaning, sizeof(meaning));
        add_alias_meaning(&m, s);
        print_row(out, c, s->aliases[a], def, meaning);
    }
}

void config_print_help(FILE *out)
{
    struct columns c = help_columns();
    const struct setting *s;

    fputs("Usage: fwatchdog [-version | --version | -run-healthcheck | --help]\n\n"
          "  -version, --version  print version and git commit, exit\n"
          "  -run-healthcheck     exit 0 when the lock file exists, else 1\n"
          "  --help               this text\n\n"
          "Settings come from the environment. Durations: 10 (seconds), 500ms, 1m30s.\n"
          "Booleans: true/1 or false/0 (prefix_logs, log_callid: also Go's t/T/TRUE/True,\n"
          "f/F/FALSE/False; in classic mode, as the classic watchdog, 1 is false for its own).\n"
          "Empty means the default. Invalid values stop the watchdog (exit 2).\n\n",
          out);
    print_row(out, c, "VARIABLE", "DEFAULT", "MEANING");
    for (size_t i = 0; (s = setting_at(i)) != NULL; i++)
        print_setting(out, c, s);
}
