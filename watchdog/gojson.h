/* The syntax check Go's encoding/json runs before it decodes anything, for
 * its error texts: a token the Go watchdog refuses as malformed JSON is
 * refused here in the same words. The decoding itself is jansson's. */
#ifndef FWATCHDOG_GOJSON_H
#define FWATCHDOG_GOJSON_H

#include <stddef.h>

/* NULL when the n bytes at p are one JSON value, whitespace around it
 * allowed; otherwise the text of the SyntaxError json.Unmarshal returns
 * ("invalid character 'x' after object key", "unexpected end of JSON
 * input"), written to buf (at least 96 bytes) or a constant. */
const char *gojson_check(const unsigned char *p, size_t n, char *buf, size_t len);

#endif
