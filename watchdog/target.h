/* The request target and method as the Go watchdog's net/http treats them
 * before any handler: percent-decoding, ServeMux's path cleaning (a 301
 * to the clean path) and request methods beyond llhttp's list. */
#ifndef FW_TARGET_H
#define FW_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Longest method token carried past llhttp. */
#define TARGET_METHOD_MAX 32

/* Percent-decode raw into out (at least strlen(raw) + 1 bytes): the
 * decoded length, or -1 on a malformed escape. The result may hold NULs. */
ssize_t target_decode(const char *raw, char *out);
/* True when path needs neither decoding nor cleaning (the common case,
 * checked without allocating). */
bool target_plain(const char *path);
/* ServeMux's cleanPath of a decoded path: malloc'd, NULL when out of
 * memory. Equal to path when nothing needs cleaning. */
char *target_clean(const char *path);
/* A byte that Go's URL type leaves as it is in a path (unreserved and
 * "$&+,/:;=@"); every other is escaped as %XX. */
bool target_path_safe(unsigned char c);
/* A redirect's Location for a decoded path and a raw query ("" or NULL:
 * none), escaped as Go's url.URL.String does. malloc'd. */
char *target_location(const char *path, const char *query);
/* The path of a request target: itself in origin-form, the part after
 * the authority in absolute-form ("" when there is none). */
const char *target_path_part(const char *uri);
/* A method llhttp parses itself. */
bool target_method_known(const char *m, size_t len);
/* An RFC 9110 token: one or more tchars (a method, a header name). */
bool target_token(const char *s, size_t len);
/* A header name as Go's CanonicalMIMEHeaderKey writes it into out (which
 * may be name itself): a token gets its first letter and each letter after
 * a '-' upper case, the others lower ("x-api-KEY" -> "X-Api-Key"); any
 * other name is copied as it is. Whether it was a token. */
bool target_canonical(const char *name, size_t len, char *out);
/* The same in place without the token check, for the parsers: a name that
 * is not a token gets its letters' case changed all the same (they refuse
 * or drop such names). Eight bytes at a time. */
void target_canonical_token(char *name, size_t len);
/* Whether the name is not empty and has only letters, digits and '-', as
 * nearly every field name (a token no parser reads otherwise); when it
 * has, it is put in canonical case in place, and when not, part of it may
 * have been. Eight bytes at a time. */
bool target_canonical_plain(char *name, size_t len);
/* Whether the name is plain as above, leaving it as it is. */
bool target_plain_name(const char *name, size_t len);
/* A byte of a plain name: a letter, a digit or '-'. */
static inline bool target_plain_byte(unsigned c)
{
    return (c | 0x20u) - 'a' < 26u || c - '0' < 10u || c == '-';
}
/* RFC 9110 field-content: visible ASCII, obs-text, space and tab; no other
 * control byte (CR, NUL, DEL). */
bool target_field_value(const char *s, size_t len);
/* A method token (RFC 9110 tchars) of at most TARGET_METHOD_MAX bytes. */
bool target_method_token(const char *m, size_t len);
/* llhttp 8 takes the byte after a CR that starts a header value ("X-A:
 * \rb") as that line's LF, where Go reads the CR and what follows as the
 * value; the parser's next value span (empty, or a folded line's) comes
 * after that byte and any spaces and tabs. For the value span at `at`: how
 * many bytes before it that CR is, 0 when the span does not follow one.
 * start is where the memory being parsed begins; tail holds the two bytes
 * parsed before it, oldest first (target_note_tail). */
size_t target_bare_cr_scan(const char *at, const char *start, const char tail[2]);
static inline size_t target_bare_cr_before(const char *at, const char *start, const char tail[2])
{
    /* "Name: value" or "Name:value", as nearly every value comes (the
     * colon not a CR's next byte) */
    ptrdiff_t have = at - start;
    if (have >= 3 && at[-1] == ' ' && at[-2] == ':' && at[-3] != '\r')
        return 0;
    if (have >= 2 && at[-1] == ':' && at[-2] != '\r')
        return 0;
    return target_bare_cr_scan(at, start, tail);
}
/* The byte k places before at (k >= 1): in the memory from start, else
 * in tail (as above); -1 further back than that. */
int target_byte_before(const char *at, size_t k, const char *start, const char tail[2]);
/* Whether the two bytes before at (as above) are a CRLF. */
static inline bool target_crlf_before(const char *at, const char *start, const char tail[2])
{
    return target_byte_before(at, 2, start, tail) == '\r' &&
           target_byte_before(at, 1, start, tail) == '\n';
}
/* tail (as above) once the n bytes at p have been parsed. */
void target_note_tail(char tail[2], const char *p, size_t n);

#endif
