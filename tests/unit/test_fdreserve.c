/* fdreserve: descriptors held back for a function started when the table
 * is full. */
#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "check.h"
#include "fdreserve.h"

/* The lowest descriptor free now; the test process has none open above it. */
static int lowest_free(void)
{
    int fd = open("/dev/null", O_RDONLY);
    if (fd >= 0)
        close(fd);
    return fd;
}

static void test_fill_and_release(void)
{
    struct fd_reserve r;
    int before = lowest_free();
    fd_reserve_init(&r);
    CHECK(fd_reserve_fill(&r));
    CHECK(r.have == FD_RESERVE_SIZE);
    CHECK(lowest_free() == before + FD_RESERVE_SIZE);
    CHECK(fcntl(r.fds[0], F_GETFD) & FD_CLOEXEC);
    CHECK(fd_reserve_fill(&r)); /* already full: nothing more opened */
    CHECK(lowest_free() == before + FD_RESERVE_SIZE);
    CHECK(fd_reserve_release(&r) == FD_RESERVE_SIZE);
    CHECK(r.have == 0);
    CHECK(lowest_free() == before);
    CHECK(fd_reserve_release(&r) == 0);
    CHECK(fd_reserve_release(NULL) == 0);
    CHECK(fd_reserve_fill(NULL));
}

/* A table with room for three: the reserve keeps what it got, says it is
 * not full, and the released slots are usable again. */
static void test_partial_fill(void)
{
    struct rlimit old, low;
    struct fd_reserve r;
    int first = lowest_free();
    CHECK(getrlimit(RLIMIT_NOFILE, &old) == 0);
    low = old;
    low.rlim_cur = (rlim_t)first + 3;
    CHECK(setrlimit(RLIMIT_NOFILE, &low) == 0);
    fd_reserve_init(&r);
    CHECK(!fd_reserve_fill(&r));
    CHECK(r.have == 3);
    int fds[2];
    errno = 0;
    CHECK(pipe(fds) != 0 && fd_exhausted(errno));
    CHECK(fd_reserve_release(&r) == 3);
    CHECK(pipe(fds) == 0);
    close(fds[0]);
    close(fds[1]);
    /* Settled: one given back so a connection fits, then full with two. */
    CHECK(!fd_reserve_fill(&r) && r.have == 3);
    CHECK(!fd_reserve_settle(&r));
    CHECK(r.have == 2 && lowest_free() == first + 2);
    CHECK(fd_reserve_fill(&r) && r.have == 2);
    CHECK(fd_reserve_release(&r) == 2);
    CHECK(setrlimit(RLIMIT_NOFILE, &old) == 0);
    CHECK(fd_reserve_fill(&r) && r.have == 2); /* a bigger table later changes nothing */
    CHECK(fd_reserve_release(&r) == 2);
    /* Room to spare: the whole reserve is kept. */
    fd_reserve_init(&r);
    CHECK(fd_reserve_fill(&r) && fd_reserve_settle(&r) && r.have == FD_RESERVE_SIZE);
    CHECK(fd_reserve_release(&r) == FD_RESERVE_SIZE);
}

/* Nothing to copy (stdin closed, as in an image without /dev): an empty
 * reserve, and no claim that the table is full. */
static void test_no_stdin(void)
{
    struct fd_reserve r;
    int saved = dup(STDIN_FILENO);
    CHECK(saved > STDIN_FILENO);
    close(STDIN_FILENO);
    fd_reserve_init(&r);
    CHECK(fd_reserve_fill(&r));
    CHECK(r.have == 0);
    CHECK(dup2(saved, STDIN_FILENO) == STDIN_FILENO);
    close(saved);
}

static void test_exhausted(void)
{
    CHECK(fd_exhausted(EMFILE));
    CHECK(fd_exhausted(ENFILE));
    CHECK(!fd_exhausted(EAGAIN));
    CHECK(!fd_exhausted(0));
}

int main(void)
{
    test_fill_and_release();
    test_partial_fill();
    test_no_stdin();
    test_exhausted();
    return check_done("fdreserve");
}
