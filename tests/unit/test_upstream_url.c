/* upstream_parse_url: accepted forms, resolution, and every rejection. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "upstream.h"

static int failures;

#define CHECK(cond)                                                        \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
            failures++;                                                    \
        }                                                                  \
    } while (0)

static const char *hosts_path;

/* Parse and check address, port and prefix; "" expect_ip means failure. */
static void expect(const char *url, const char *ip, int port, const char *prefix)
{
    struct upstream_url u;
    char err[256] = "", got[INET6_ADDRSTRLEN] = "";
    int rc = upstream_parse_url(url, hosts_path, &u, err, sizeof(err));
    if (!*ip) {
        if (rc != -1 || !*err)
            fprintf(stderr, "accepted %s\n", url);
        CHECK(rc == -1 && *err);
        return;
    }
    if (rc != 0)
        fprintf(stderr, "rejected %s: %s\n", url, err);
    CHECK(rc == 0);
    if (rc != 0)
        return;
    const struct sockaddr *sa = (const struct sockaddr *)&u.addr;
    int p;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &s4->sin_addr, got, sizeof(got));
        p = ntohs(s4->sin_port);
    } else {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &s6->sin6_addr, got, sizeof(got));
        p = ntohs(s6->sin6_port);
    }
    if (strcmp(got, ip) != 0 || p != port || strcmp(u.prefix, prefix) != 0)
        fprintf(stderr, "%s: got %s port %d prefix \"%s\"\n", url, got, p, u.prefix);
    CHECK(strcmp(got, ip) == 0);
    CHECK(p == port);
    CHECK(strcmp(u.prefix, prefix) == 0);
    CHECK(u.prefix_len == strlen(prefix));
    upstream_url_free(&u);
}

int main(void)
{
    char path[] = "/tmp/test_hosts_XXXXXX";
    int fd = mkstemp(path);
    const char *hosts = "# comment\n127.0.0.1\tlocalhost\n"
                        "10.1.2.3   fn-server fn.local  # trailing\n"
                        "::1 ip6-only\n";
    if (fd < 0 || write(fd, hosts, strlen(hosts)) != (ssize_t)strlen(hosts))
        return 1;
    close(fd);
    hosts_path = path;

    expect("http://127.0.0.1:5000", "127.0.0.1", 5000, "");
    expect("HTTP://127.0.0.1:5000/", "127.0.0.1", 5000, "/");
    expect("http://127.0.0.1:5000/api/v1/", "127.0.0.1", 5000, "/api/v1/");
    expect("http://127.0.0.1:5000/api/v1", "127.0.0.1", 5000, "/api/v1");
    expect("http://[::1]:8080", "::1", 8080, "");
    expect("http://localhost:3000", "127.0.0.1", 3000, "");
    expect("http://FN-SERVER:80/x", "10.1.2.3", 80, "/x");
    expect("http://fn.local:65535", "10.1.2.3", 65535, "");
    expect("http://ip6-only:1", "::1", 1, "");

    expect("http://127.0.0.1", "", 0, "");           /* no port */
    expect("http://127.0.0.1:", "", 0, "");
    expect("http://127.0.0.1:0", "", 0, "");
    expect("http://127.0.0.1:65536", "", 0, "");
    expect("http://127.0.0.1:80a", "", 0, "");
    expect("https://127.0.0.1:443", "", 0, "");
    expect("ftp://127.0.0.1:21", "", 0, "");
    expect("127.0.0.1:5000", "", 0, "");
    expect("http://:5000", "", 0, "");
    expect("http://user@127.0.0.1:5000", "", 0, "");
    expect("http://127.0.0.1:5000/a?b", "", 0, "");
    expect("http://127.0.0.1:5000/a#b", "", 0, "");
    expect("http://127.0.0.1:5000/a b", "", 0, "");
    expect("http://[::1:5000", "", 0, "");
    expect("http://[127.0.0.1]:5000", "", 0, "");
    expect("http://[::1]x:5000", "", 0, "");
    expect("http://unknown-host:5000", "", 0, "");
    expect("http://bad_host!:5000", "", 0, "");
    expect("http://1.2.3:5000", "", 0, "");

    /* Without a hosts file, localhost still works and names do not. */
    hosts_path = "/nonexistent/hosts";
    expect("http://localhost:9", "127.0.0.1", 9, "");
    expect("http://fn-server:9", "", 0, "");

    unlink(path);
    if (failures)
        fprintf(stderr, "%d failure(s)\n", failures);
    return failures ? 1 : 0;
}
