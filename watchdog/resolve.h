/* Host names resolved on the event loop, without glibc's NSS (which a
 * static binary cannot load): libevent's evdns reads the hosts file, then
 * asks the nameservers of resolv.conf, with its search list and ndots (a
 * Kubernetes pod's resolv.conf names the cluster DNS, search domains such
 * as <ns>.svc.cluster.local and ndots:5, so "gateway.openfaas" resolves as
 * it does for any program in the pod). */
#ifndef FW_RESOLVE_H
#define FW_RESOLVE_H

struct event_base;
struct evdns_base;

#define RESOLVE_RESOLV_CONF "/etc/resolv.conf"
#define RESOLVE_HOSTS "/etc/hosts"

/* A resolver for base; paths NULL take the defaults above. A missing
 * resolv.conf leaves libevent's defaults (nameserver 127.0.0.1), a missing
 * hosts file no host entries. NULL when out of memory. Free with
 * evdns_base_free(dns, 1). */
struct evdns_base *resolve_new(struct event_base *base, const char *resolv_conf,
                               const char *hosts_file);

#endif
