/* http_head: which headers stop at the proxy. */
#include <string.h>

#include "check.h"
#include "http_head.h"

static struct header hdr(const char *name)
{
    struct header h = {0};
    h.name = name;
    h.name_len = strlen(name);
    h.value = "v";
    h.value_len = 1;
    return h;
}

static bool dropped(const char *name, const char *connection)
{
    struct header h = hdr(name);
    return http_hop_by_hop(&h, http_connection_names(connection), false);
}

/* "keep-alive" alone names nothing more to drop; any other token does. */
static void test_connection_names(void)
{
    CHECK(http_connection_names(NULL) == NULL);
    CHECK(http_connection_names("") == NULL);
    CHECK(http_connection_names("keep-alive") == NULL);
    CHECK(http_connection_names(" Keep-Alive , keep-alive ") == NULL);
    CHECK_STR(http_connection_names("close"), "close");
    CHECK_STR(http_connection_names("keep-alive, X-Secret"), "keep-alive, X-Secret");
    CHECK_STR(http_connection_names("keep-alivex"), "keep-alivex");
}

static void test_hop_by_hop(void)
{
    /* Names in canonical case, as the parsers keep them. */
    static const char *const always[] = {"Connection", "Keep-Alive", "Te", "Trailer",
                                         "Transfer-Encoding", "Content-Length",
                                         "Proxy-Authorization", "Proxy-Connection", "Upgrade"};
    for (size_t i = 0; i < sizeof(always) / sizeof(always[0]); i++)
        CHECK(dropped(always[i], NULL));
    CHECK(!dropped("Content-Type", NULL));
    CHECK(!dropped("X-Secret", "keep-alive"));
    CHECK(dropped("X-Secret", "keep-alive, x-secret"));
    CHECK(dropped("X-Secret", "x-secret"));
    CHECK(!dropped("X-Secrets", "X-Secret"));
    /* Go deletes whatever header a token names, "close" included. */
    CHECK(dropped("Close", "close"));
    struct header up = hdr("Upgrade");
    CHECK(!http_hop_by_hop(&up, NULL, true));
    CHECK(!http_hop_by_hop(&up, http_connection_names("Upgrade"), true));
    CHECK(http_hop_by_hop(&up, NULL, false));
}

int main(void)
{
    test_connection_names();
    test_hop_by_hop();
    return check_done("http_head");
}
