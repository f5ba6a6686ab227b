/* Request headers -> Http_* environment for fork-mode functions. */
#ifndef FW_CGI_H
#define FW_CGI_H

#include <stddef.h>
#include <stdint.h>

#include "request.h"


struct cgi_request {
    const char *method;
    const char *path;          /* decoded path, as Go's r.URL.Path */
    const char *query;         /* raw query without '?', "" when none */
    const char *host;          /* Http_Host, NULL: none */
    const char *content_length;    /* Http_Content_Length, NULL: none */
    const char *content_length_old; /* Http_ContentLength (classic), NULL: none */
    const char *transfer_encoding; /* NULL when absent */
    const struct header *headers;
    size_t nheaders;
};

/* Build the environment: base (pointers reused, strings not copied) plus
 * Http_<Canonical_Name>=value for each header (repeats joined with ", ",
 * CR/LF/NUL turned into spaces, Host/Content-Length/Transfer-Encoding/Proxy
 * skipped) plus Http_Method, Http_Path, Http_Query (non-empty only), and
 * Http_Host, Http_Content_Length, Http_ContentLength and
 * Http_Transfer_Encoding where given. One allocation: free() the result.
 * NULL on allocation failure. */
char **cgi_build_env(char *const *base, const struct cgi_request *req);

/* Canonical header case as Go's CanonicalMIMEHeaderKey, '-' -> '_'.
 * Writes name_len bytes into out. */
void cgi_env_name(const char *name, size_t name_len, char *out);

#endif
