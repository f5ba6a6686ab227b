/* Host names resolved on the event loop with libevent's evdns. */
#include "resolve.h"

#include <event2/dns.h>

#include "log.h"

struct evdns_base *resolve_new(struct event_base *base, const char *resolv_conf,
                               const char *hosts_file)
{
    /* Not EVDNS_BASE_INITIALIZE_NAMESERVERS: it would read the fixed
     * /etc/resolv.conf and, with it, the fixed /etc/hosts. */
    struct evdns_base *dns = evdns_base_new(base, 0);
    int rc;

    if (!dns)
        return NULL;
    resolv_conf = resolv_conf ? resolv_conf : RESOLVE_RESOLV_CONF;
    rc = evdns_base_resolv_conf_parse(dns, DNS_OPTION_SEARCH | DNS_OPTION_NAMESERVERS |
                                               DNS_OPTION_MISC, resolv_conf);
    /* 1: cannot open, 6: no nameserver line; libevent then uses its
     * defaults, which is what a program without a resolv.conf gets. */
    if (rc != 0 && rc != 1 && rc != 6)
        log_warn("resolver: cannot read %s (error %d): using defaults", resolv_conf, rc);
    /* Hosts entries answer first, the way they do for glibc; a missing
     * file is no error. */
    evdns_base_load_hosts(dns, hosts_file ? hosts_file : RESOLVE_HOSTS);
    return dns;
}
