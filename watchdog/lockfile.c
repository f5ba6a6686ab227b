#include "lockfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

/* mkdir -p for the directory part of path. */
static int make_parent(const char *path)
{
    char dir[PATH_MAX];
    if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
        return -1;
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return 0;
    *slash = '\0';
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(dir, 0755) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

int lock_write(const char *path)
{
    if (make_parent(path) != 0) {
        log_error("lock file %s: %s", path, strerror(errno));
        return -1;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0660);
    if (fd < 0) {
        log_error("lock file %s: %s", path, strerror(errno));
        return -1;
    }
    /* The umask must not narrow the mode health checkers rely on. */
    fchmod(fd, 0660);
    close(fd);
    log_info("Writing lock-file to: %s", path);
    return 0;
}

void lock_remove(const char *path)
{
    if (unlink(path) != 0 && errno != ENOENT)
        log_warn("removing lock file %s: %s", path, strerror(errno));
}

bool lock_exists(const char *path)
{
    return access(path, F_OK) == 0;
}
