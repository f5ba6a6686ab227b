/* gojson: Go's JSON syntax errors. Every expected text here is what
 * json.Unmarshal of Go 1.19 and 1.23 returns for the same bytes. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "gojson.h"

static char buf[128];

static const char *check(const char *s)
{
    const char *e = gojson_check((const unsigned char *)s, strlen(s), buf, sizeof(buf));
    return e ? e : "OK";
}

/* n opening brackets, then n closing ones when close is set. */
static const char *nested(size_t n, bool close)
{
    char *s = malloc(2 * n + 1);
    if (!s)
        return "malloc failed";
    memset(s, '[', n);
    memset(s + n, close ? ']' : '\0', close ? n : 1);
    s[close ? 2 * n : n] = '\0';
    const char *e = check(s);
    free(s);
    return e;
}

/* Input, and what Go says of it ("OK" when it is valid). */
static const struct {
    const char *json;
    const char *want;
} cases[] = {
    {"{\"alg\":\"RS256\"}", "OK"},
    {" {\"a\":[1,-0.5e+3,true,false,null,\"\\u00e9\\n\"]} ", "OK"},
    {"", "unexpected end of JSON input"},
    {"  ", "unexpected end of JSON input"},
    {"{\"a\":1", "unexpected end of JSON input"},
    {"{\"a\":\"b", "unexpected end of JSON input"},
    {"{\"alg\":\"RS256\"} x", "invalid character 'x' after top-level value"},
    {"{\"alg\" \"RS256\"}", "invalid character '\"' after object key"},
    {"{\"a\":1 \"b\":2}", "invalid character '\"' after object key:value pair"},
    {"[1 2]", "invalid character '2' after array element"},
    {"{1:2}", "invalid character '1' looking for beginning of object key string"},
    {"{,}", "invalid character ',' looking for beginning of object key string"},
    {"{\"a\":1,}", "invalid character '}' looking for beginning of object key string"},
    {"[1,]", "invalid character ']' looking for beginning of value"},
    {"{\"a\":tru}", "invalid character '}' in literal true (expecting 'e')"},
    {"{\"a\":nul}", "invalid character '}' in literal null (expecting 'l')"},
    {"{\"a\":fals}", "invalid character '}' in literal false (expecting 'e')"},
    {"tr", "invalid character ' ' in literal true (expecting 'u')"},
    {"{\"a\":\"\x01\"}", "invalid character '\\x01' in string literal"},
    {"{\"a\":\"\\x\"}", "invalid character 'x' in string escape code"},
    {"\"\\", "invalid character ' ' in string escape code"},
    {"{\"a\":\"\\u12g4\"}", "invalid character 'g' in \\u hexadecimal character escape"},
    {"{\"a\":-}", "invalid character '}' in numeric literal"},
    {"{\"a\":1.}", "invalid character '}' after decimal point in numeric literal"},
    {"1.", "invalid character ' ' after decimal point in numeric literal"},
    {"{\"a\":1e}", "invalid character '}' in exponent of numeric literal"},
    {"{\"a\":01}", "invalid character '1' after object key:value pair"},
    {"\x80", "invalid character '\\u0080' looking for beginning of value"},
    {"{\"\xe9\":1}x\xe9", "invalid character 'x' after top-level value"},
    {"\xe9", "invalid character '\xc3\xa9' looking for beginning of value"},
};

int main(void)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        CHECK_STR(check(cases[i].json), cases[i].want);
    CHECK_STR(nested(10000, true), "OK");
    CHECK_STR(nested(10001, false), "invalid character '[' exceeded max depth");
    return check_done("gojson");
}
