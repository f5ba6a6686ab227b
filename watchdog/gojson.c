/* Go's JSON scanner as a state machine over bytes, kept only for what it
 * says about invalid input: the states and their error contexts follow
 * encoding/json's scanner, byte for byte, so the first bad byte and the
 * words for it are Go's. */
#include "gojson.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

/* encoding/json's limit on nested arrays and objects. */
#define MAX_DEPTH 10000

enum state {
    BEGIN_VALUE,
    BEGIN_VALUE_OR_EMPTY,  /* after '[' */
    BEGIN_STRING_OR_EMPTY, /* after '{' */
    BEGIN_STRING,          /* after "," in an object */
    END_VALUE,
    END_TOP,
    IN_STRING,
    IN_ESC,
    IN_ESC_U,
    NEG,
    ONE,                   /* in the digits of a number not starting with 0 */
    ZERO,
    DOT,
    DOT0,
    EXP,
    EXP_SIGN,
    EXP0,
    LITERAL,               /* true, false, null */
};

/* What each open array or object expects next. */
enum frame { OBJECT_KEY, OBJECT_VALUE, ARRAY_VALUE };

struct scan {
    enum state st;
    unsigned char *stack;
    size_t depth;
    const char *lit;       /* the rest of the literal being read (its next byte
                            * is the one an error says was expected) */
    const char *lit_name;
    int hex_left;          /* digits of a \u escape still to come */
    const char *error;     /* the context of Go's message; NULL while valid */
    unsigned char bad;
};

/* One byte as Go's scanner names it in an error, quotes included:
 * strconv.Quote of the byte taken as a rune, '"' and '\'' aside. */
static void quote_char(unsigned char c, char *buf, size_t len)
{
    static const char esc[] = "abtnvfr";
    if (c == '\'')
        snprintf(buf, len, "'\\''");
    else if (c == '\\')
        snprintf(buf, len, "'\\\\'");
    else if (c >= 7 && c <= 13)
        snprintf(buf, len, "'\\%c'", esc[c - 7]);
    else if (c < 0x20 || c == 0x7f)
        snprintf(buf, len, "'\\x%02x'", c);
    else if (c < 0x80)
        snprintf(buf, len, "'%c'", c);
    else if (c <= 0xa0 || c == 0xad)
        snprintf(buf, len, "'\\u%04x'", c);
    else
        snprintf(buf, len, "'%c%c'", 0xc0 | (c >> 6), 0x80 | (c & 0x3f));
}

static bool space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static bool hex(unsigned char c)
{
    return digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int fail(struct scan *s, unsigned char c, const char *context)
{
    s->error = context;
    s->bad = c;
    return -1;
}

static int push(struct scan *s, unsigned char c, enum frame f, enum state next)
{
    if (s->depth == MAX_DEPTH)
        return fail(s, c, "exceeded max depth");
    s->stack[s->depth++] = (unsigned char)f;
    s->st = next;
    return 0;
}

static void pop(struct scan *s)
{
    s->depth--;
    s->st = s->depth == 0 ? END_TOP : END_VALUE;
}

static int end_top(struct scan *s, unsigned char c)
{
    return space(c) ? 0 : fail(s, c, "after top-level value");
}

/* A value just ended: what may follow it depends on what holds it. */
static int end_value(struct scan *s, unsigned char c)
{
    if (s->depth == 0) {
        s->st = END_TOP;
        return end_top(s, c);
    }
    s->st = END_VALUE;
    if (space(c))
        return 0;
    unsigned char *top = &s->stack[s->depth - 1];
    switch ((enum frame)*top) {
    case OBJECT_KEY:
        if (c != ':')
            return fail(s, c, "after object key");
        *top = OBJECT_VALUE;
        s->st = BEGIN_VALUE;
        return 0;
    case OBJECT_VALUE:
        if (c == ',') {
            *top = OBJECT_KEY;
            s->st = BEGIN_STRING;
        } else if (c == '}') {
            pop(s);
        } else {
            return fail(s, c, "after object key:value pair");
        }
        return 0;
    default:
        if (c == ',')
            s->st = BEGIN_VALUE;
        else if (c == ']')
            pop(s);
        else
            return fail(s, c, "after array element");
        return 0;
    }
}

static int begin_literal(struct scan *s, const char *rest, const char *name)
{
    s->lit = rest;
    s->lit_name = name;
    s->st = LITERAL;
    return 0;
}

static int begin_value(struct scan *s, unsigned char c)
{
    if (space(c))
        return 0;
    switch (c) {
    case '{': return push(s, c, OBJECT_KEY, BEGIN_STRING_OR_EMPTY);
    case '[': return push(s, c, ARRAY_VALUE, BEGIN_VALUE_OR_EMPTY);
    case '"': s->st = IN_STRING; return 0;
    case '-': s->st = NEG; return 0;
    case '0': s->st = ZERO; return 0;
    case 't': return begin_literal(s, "rue", "true");
    case 'f': return begin_literal(s, "alse", "false");
    case 'n': return begin_literal(s, "ull", "null");
    default: break;
    }
    if (digit(c)) {
        s->st = ONE;
        return 0;
    }
    return fail(s, c, "looking for beginning of value");
}

static int begin_string(struct scan *s, unsigned char c)
{
    if (space(c))
        return 0;
    if (c != '"')
        return fail(s, c, "looking for beginning of object key string");
    s->st = IN_STRING;
    return 0;
}

static int in_string(struct scan *s, unsigned char c)
{
    if (c == '"')
        s->st = END_VALUE;
    else if (c == '\\')
        s->st = IN_ESC;
    else if (c < 0x20)
        return fail(s, c, "in string literal");
    return 0;
}

static int in_escape(struct scan *s, unsigned char c)
{
    switch (c) {
    case 'b': case 'f': case 'n': case 'r': case 't': case '\\': case '/': case '"':
        s->st = IN_STRING;
        return 0;
    case 'u':
        s->st = IN_ESC_U;
        s->hex_left = 4;
        return 0;
    default:
        return fail(s, c, "in string escape code");
    }
}

static int in_escape_u(struct scan *s, unsigned char c)
{
    if (!hex(c))
        return fail(s, c, "in \\u hexadecimal character escape");
    if (--s->hex_left == 0)
        s->st = IN_STRING;
    return 0;
}

/* After the integer part: a fraction, an exponent or the value's end. */
static int after_integer(struct scan *s, unsigned char c)
{
    if (c == '.')
        s->st = DOT;
    else if (c == 'e' || c == 'E')
        s->st = EXP;
    else
        return end_value(s, c);
    return 0;
}

static int exponent_digit(struct scan *s, unsigned char c)
{
    if (!digit(c))
        return fail(s, c, "in exponent of numeric literal");
    s->st = EXP0;
    return 0;
}

static int in_number(struct scan *s, unsigned char c)
{
    switch (s->st) {
    case NEG:
        if (!digit(c))
            return fail(s, c, "in numeric literal");
        s->st = c == '0' ? ZERO : ONE;
        return 0;
    case ONE:
        return digit(c) ? 0 : after_integer(s, c);
    case ZERO:
        return after_integer(s, c);
    case DOT:
        if (!digit(c))
            return fail(s, c, "after decimal point in numeric literal");
        s->st = DOT0;
        return 0;
    case DOT0:
        if (c == 'e' || c == 'E') {
            s->st = EXP;
            return 0;
        }
        return digit(c) ? 0 : end_value(s, c);
    case EXP:
        if (c == '+' || c == '-') {
            s->st = EXP_SIGN;
            return 0;
        }
        return exponent_digit(s, c); /* the sign is optional */
    case EXP_SIGN:
        return exponent_digit(s, c);
    default: /* EXP0 */
        return digit(c) ? 0 : end_value(s, c);
    }
}

static int in_literal(struct scan *s, unsigned char c)
{
    if (c != (unsigned char)*s->lit)
        return fail(s, c, "in literal"); /* the rest of the words from lit */
    if (*++s->lit == '\0')
        s->st = END_VALUE;
    return 0;
}

static int step(struct scan *s, unsigned char c)
{
    switch (s->st) {
    case BEGIN_VALUE: return begin_value(s, c);
    case BEGIN_VALUE_OR_EMPTY:
        if (space(c))
            return 0;
        return c == ']' ? end_value(s, c) : begin_value(s, c);
    case BEGIN_STRING_OR_EMPTY:
        if (space(c))
            return 0;
        if (c == '}') {
            s->stack[s->depth - 1] = OBJECT_VALUE;
            return end_value(s, c);
        }
        return begin_string(s, c);
    case BEGIN_STRING: return begin_string(s, c);
    case END_VALUE: return end_value(s, c);
    case END_TOP: return end_top(s, c);
    case IN_STRING: return in_string(s, c);
    case IN_ESC: return in_escape(s, c);
    case IN_ESC_U: return in_escape_u(s, c);
    case LITERAL: return in_literal(s, c);
    default: return in_number(s, c);
    }
}

/* The end of the input: as Go, one more space settles a number that
 * ended it (or fails on what still needed a byte). */
static bool ends_well(struct scan *s)
{
    return s->st == END_TOP || (step(s, ' ') == 0 && s->st == END_TOP);
}

const char *gojson_check(const unsigned char *p, size_t n, char *buf, size_t len)
{
    struct scan s = {.st = BEGIN_VALUE};
    const char *result = NULL;
    char q[16];

    /* every level opens with one byte of the input */
    s.stack = malloc(n < MAX_DEPTH ? n + 1 : MAX_DEPTH);
    if (!s.stack)
        return "out of memory";
    for (size_t i = 0; i < n && !s.error; i++)
        step(&s, p[i]);
    if (!s.error && !ends_well(&s) && !s.error)
        result = "unexpected end of JSON input";
    if (s.error) {
        quote_char(s.bad, q, sizeof(q));
        if (s.st == LITERAL)
            snprintf(buf, len, "invalid character %s in literal %s (expecting '%c')", q,
                     s.lit_name, *s.lit);
        else
            snprintf(buf, len, "invalid character %s %s", q, s.error);
        result = buf;
    }
    free(s.stack);
    return result;
}
