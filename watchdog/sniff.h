/* The Content-Type Go's net/http gives a body that has none: the WHATWG
 * sniffing table of http.DetectContentType, on the first 512 bytes. */
#ifndef FW_SNIFF_H
#define FW_SNIFF_H

#include <stddef.h>

#define SNIFF_LEN 512

/* A static string; never NULL ("application/octet-stream" at worst). */
const char *sniff_type(const char *data, size_t len);

#endif
