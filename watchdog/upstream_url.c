/* upstream_url: http://host:port[/prefix], resolved without a resolver.
 * The binary is static, so glibc's NSS (and with it DNS) is not there:
 * names come from the hosts file, the way a container's own name does. */
#include "upstream.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_HOST 256

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* A numeric address into addr; 0 when it is one. */
static int numeric_addr(const char *host, int port, struct upstream_url *out)
{
    struct sockaddr_in *sin = (struct sockaddr_in *)&out->addr;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out->addr;

    memset(&out->addr, 0, sizeof(out->addr));
    if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)port);
        out->addrlen = sizeof(*sin);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)port);
        out->addrlen = sizeof(*sin6);
        return 0;
    }
    return -1;
}

/* Does this hosts-file line name host? Then its address goes to addr. */
static bool hosts_line_match(char *line, const char *host, char *addr, size_t addrlen)
{
    char *save = NULL;
    char *hash = strchr(line, '#');
    if (hash)
        *hash = '\0';
    char *first = strtok_r(line, " \t\r\n", &save);
    if (!first)
        return false;
    for (char *name; (name = strtok_r(NULL, " \t\r\n", &save));) {
        if (strcasecmp(name, host) == 0 && strlen(first) < addrlen) {
            strcpy(addr, first);
            return true;
        }
    }
    return false;
}

/* The first address the hosts file gives for host that parses. */
static int hosts_lookup(const char *hosts_file, const char *host, int port,
                        struct upstream_url *out)
{
    char line[1024], addr[INET6_ADDRSTRLEN + 8];
    int rc = -1;
    FILE *f = hosts_file ? fopen(hosts_file, "r") : NULL;

    if (!f)
        return -1;
    while (rc != 0 && fgets(line, sizeof(line), f)) {
        if (hosts_line_match(line, host, addr, sizeof(addr)))
            rc = numeric_addr(addr, port, out);
    }
    fclose(f);
    return rc;
}

static bool valid_name(const char *host)
{
    if (!*host)
        return false;
    for (const char *p = host; *p; p++) {
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.' && *p != '_')
            return false;
    }
    return true;
}

static int resolve(const char *host, bool bracketed, int port, const char *hosts_file,
                   struct upstream_url *out, char *err, size_t errlen)
{
    if (bracketed) {
        if (!strchr(host, ':') || numeric_addr(host, port, out) != 0)
            return fail(err, errlen, "\"[%s]\" is not an IPv6 address", host);
        return 0;
    }
    if (numeric_addr(host, port, out) == 0)
        return 0;
    if (!valid_name(host))
        return fail(err, errlen, "\"%s\" is not a valid host", host);
    out->named = true;
    out->name_len = strlen(host);
    if (hosts_lookup(hosts_file, host, port, out) == 0)
        return 0;
    if (strcasecmp(host, "localhost") == 0)
        return numeric_addr("127.0.0.1", port, out);
    return fail(err, errlen,
                "host \"%s\" is not an IP address and is not in %s (no DNS in a static binary)",
                host, hosts_file ? hosts_file : "/etc/hosts");
}

static int parse_port(const char *s, size_t len, int *port)
{
    long v = 0;
    if (len == 0 || len > 5)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (v < 1 || v > 65535)
        return -1;
    *port = (int)v;
    return 0;
}

/* Split the authority into host and port. */
static int split_authority(const char *auth, size_t len, char *host, bool *bracketed,
                           int *port, char *err, size_t errlen)
{
    const char *colon;
    const char *hstart = auth;
    size_t hlen;

    *bracketed = len > 0 && auth[0] == '[';
    if (*bracketed) {
        const char *close = memchr(auth, ']', len);
        if (!close)
            return fail(err, errlen, "unterminated '[' in the host");
        hstart = auth + 1;
        hlen = (size_t)(close - hstart);
        colon = close + 1 < auth + len && close[1] == ':' ? close + 1 : NULL;
        if (!colon && close + 1 != auth + len)
            return fail(err, errlen, "unexpected characters after ']'");
    } else {
        colon = memchr(auth, ':', len);
        hlen = colon ? (size_t)(colon - auth) : len;
    }
    if (hlen == 0)
        return fail(err, errlen, "no host");
    if (hlen >= MAX_HOST)
        return fail(err, errlen, "host too long");
    memcpy(host, hstart, hlen);
    host[hlen] = '\0';
    if (!colon)
        return fail(err, errlen, "no port (expected http://host:port)");
    if (parse_port(colon + 1, (size_t)(auth + len - colon - 1), port) != 0)
        return fail(err, errlen, "invalid port \"%.*s\" (1-65535)", (int)(auth + len - colon - 1),
                    colon + 1);
    return 0;
}

static int parse_prefix(const char *path, struct upstream_url *out, char *err, size_t errlen)
{
    size_t len = strlen(path);
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)path[i];
        if (ch <= ' ' || ch >= 0x7f)
            return fail(err, errlen, "invalid character in the path");
    }
    /* Kept as written, a trailing slash too: the upstream gets prefix +
     * request-target, as from the Go watchdog (".../api/" + "/x" is
     * "/api//x"). */
    out->prefix = strndup(path, len);
    if (!out->prefix)
        return fail(err, errlen, "out of memory");
    out->prefix_len = len;
    return 0;
}

int upstream_parse_url(const char *url, const char *hosts_file, struct upstream_url *out,
                       char *err, size_t errlen)
{
    char host[MAX_HOST];
    bool bracketed;
    int port = 0;

    memset(out, 0, sizeof(*out));
    if (strncasecmp(url, "https://", 8) == 0)
        return fail(err, errlen, "https is not supported: the function must listen on plain http://");
    if (strncasecmp(url, "http://", 7) != 0)
        return fail(err, errlen, "\"%s\" must start with http://", url);
    const char *auth = url + 7;
    if (strpbrk(auth, "?#"))
        return fail(err, errlen, "a query or fragment is not allowed");
    size_t alen = strcspn(auth, "/");
    if (memchr(auth, '@', alen))
        return fail(err, errlen, "credentials in the URL are not supported");
    if (alen >= sizeof(out->authority))
        return fail(err, errlen, "host too long");
    if (split_authority(auth, alen, host, &bracketed, &port, err, errlen) != 0 ||
        resolve(host, bracketed, port, hosts_file, out, err, errlen) != 0)
        return -1;
    memcpy(out->authority, auth, alen);
    out->authority[alen] = '\0';
    return parse_prefix(auth + alen, out, err, errlen);
}

void upstream_url_free(struct upstream_url *u)
{
    free(u->prefix);
    u->prefix = NULL;
}
