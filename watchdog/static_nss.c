/* Linked into the static build only (meson -Dstatic=true).
 *
 * libevent's evutil.o refers to getaddrinfo, getservbyname and
 * getprotobynumber. In a static glibc those pull in NSS, which dlopens
 * libnss_*.so at run time and so cannot work in a FROM scratch image (ld
 * warns "requires at runtime the shared libraries"); libevent_extra's
 * http.o (the key-set client of jwt_auth) adds getnameinfo. Host names are
 * resolved by evdns on the event loop instead (resolve.c). Defining them here keeps
 * glibc's versions out of the link: numeric addresses and ports only, nothing
 * read from /etc, no dlopen. The watchdog resolves no names through NSS; this
 * also takes about 140 KB off the binary. */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct numeric_ai {
    struct addrinfo ai;
    struct sockaddr_storage ss;
};

static int parse_port(const char *service, unsigned short *port)
{
    char *end;
    unsigned long n;

    *port = 0;
    if (!service)
        return 0;
    n = strtoul(service, &end, 10);
    if (*service == '\0' || *end != '\0' || n > 65535)
        return EAI_SERVICE;
    *port = htons((unsigned short)n);
    return 0;
}

/* node: a numeric IPv4 or IPv6 address, or NULL for the any/loopback
 * address; service: a port number or NULL. One result, never a list. */
int getaddrinfo(const char *node, const char *service,
                const struct addrinfo *hints, struct addrinfo **res)
{
    static const struct addrinfo none;
    struct numeric_ai *r;
    struct sockaddr_in *in4;
    struct sockaddr_in6 *in6;
    unsigned short port;
    int family, passive, err;

    if (!hints)
        hints = &none;
    if (!node && !service)
        return EAI_NONAME;
    if ((err = parse_port(service, &port)) != 0)
        return err;
    if (!(r = calloc(1, sizeof *r)))
        return EAI_MEMORY;
    in4 = (struct sockaddr_in *)&r->ss;
    in6 = (struct sockaddr_in6 *)&r->ss;
    family = hints->ai_family;
    passive = hints->ai_flags & AI_PASSIVE;

    if (node) {
        if (family != AF_INET6 && inet_pton(AF_INET, node, &in4->sin_addr) == 1)
            family = AF_INET;
        else if (family != AF_INET && inet_pton(AF_INET6, node, &in6->sin6_addr) == 1)
            family = AF_INET6;
        else
            goto noname;
    } else if (family == AF_INET6) {
        in6->sin6_addr = passive ? in6addr_any : in6addr_loopback;
    } else {
        family = AF_INET;
        in4->sin_addr.s_addr = htonl(passive ? INADDR_ANY : INADDR_LOOPBACK);
    }

    if (family == AF_INET) {
        in4->sin_family = AF_INET;
        in4->sin_port = port;
        r->ai.ai_addrlen = sizeof *in4;
    } else if (family == AF_INET6) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = port;
        r->ai.ai_addrlen = sizeof *in6;
    } else {
        goto noname;
    }
    r->ai.ai_family = family;
    r->ai.ai_socktype = hints->ai_socktype;
    r->ai.ai_protocol = hints->ai_protocol;
    r->ai.ai_addr = (struct sockaddr *)&r->ss;
    *res = &r->ai;
    return 0;

noname:
    free(r);
    return EAI_NONAME;
}

void freeaddrinfo(struct addrinfo *ai)
{
    /* Every list getaddrinfo above returns has one element, allocated with
     * its address. */
    free(ai);
}

/* Always numeric, whatever the flags ask: no reverse lookups. */
int getnameinfo(const struct sockaddr *sa, socklen_t salen, char *host, socklen_t hostlen,
                char *serv, socklen_t servlen, int flags)
{
    const void *addr;
    unsigned short port;

    if (flags & NI_NAMEREQD)
        return EAI_NONAME;
    if (sa->sa_family == AF_INET && salen >= (socklen_t)sizeof(struct sockaddr_in)) {
        addr = &((const struct sockaddr_in *)sa)->sin_addr;
        port = ((const struct sockaddr_in *)sa)->sin_port;
    } else if (sa->sa_family == AF_INET6 && salen >= (socklen_t)sizeof(struct sockaddr_in6)) {
        addr = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        port = ((const struct sockaddr_in6 *)sa)->sin6_port;
    } else {
        return EAI_FAMILY;
    }
    if (host && hostlen && !inet_ntop(sa->sa_family, addr, host, hostlen))
        return EAI_OVERFLOW;
    if (serv && servlen && snprintf(serv, servlen, "%u", ntohs(port)) >= (int)servlen)
        return EAI_OVERFLOW;
    return 0;
}

struct servent *getservbyname(const char *name, const char *proto)
{
    (void)name;
    (void)proto;
    return NULL;
}

struct protoent *getprotobynumber(int proto)
{
    (void)proto;
    return NULL;
}
