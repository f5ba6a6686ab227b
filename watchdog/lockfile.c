#include "lockfile.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

/* why = "OP PATH: reason" in the Go watchdogs' words: Go's errno texts
 * are glibc's with a lower-case first letter. */
static void say_why(char *why, size_t len, const char *op, const char *path, int err)
{
    const char *text = strerror(err);
    snprintf(why, len, "%s %s: %c%s", op, path, tolower((unsigned char)text[0]), text + 1);
}

/* Go's os.MkdirAll for dir: an existing directory is left alone, an
 * existing non-directory on the way is ENOTDIR (named), the rest is made
 * top down. */
static int make_dirs(char *dir, char *why, size_t whylen)
{
    struct stat st;

    if (stat(dir, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            return 0;
        say_why(why, whylen, "mkdir", dir, ENOTDIR);
        return -1;
    }
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        int rc = make_dirs(dir, why, whylen);
        *slash = '/';
        if (rc != 0)
            return -1;
    }
    if (mkdir(dir, 0777) != 0 && !(errno == EEXIST && stat(dir, &st) == 0 && S_ISDIR(st.st_mode))) {
        say_why(why, whylen, "mkdir", dir, errno);
        return -1;
    }
    return 0;
}

static int make_parent(const char *path, char *why, size_t whylen)
{
    char dir[PATH_MAX];

    if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir)) {
        say_why(why, whylen, "mkdir", path, ENAMETOOLONG);
        return -1;
    }
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return 0;
    *slash = '\0';
    return make_dirs(dir, why, whylen);
}

int lock_write(const char *path, bool make_dir, char *why, size_t whylen)
{
    log_info("Writing lock-file to: %s", path);
    if (make_dir && make_parent(path, why, whylen) != 0)
        return -1;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0660);
    if (fd < 0) {
        say_why(why, whylen, "open", path, errno);
        return -1;
    }
    /* The umask must not narrow the mode health checkers rely on. */
    fchmod(fd, 0660);
    close(fd);
    return 0;
}

void lock_remove(const char *path)
{
    if (unlink(path) != 0 && errno != ENOENT && errno != ENOTDIR)
        log_warn("removing lock file %s: %s", path, strerror(errno));
}

bool lock_exists(const char *path)
{
    return access(path, F_OK) == 0;
}
