/* The lock file that tells orchestrators the watchdog is ready. */
#ifndef FW_LOCKFILE_H
#define FW_LOCKFILE_H

#include <stdbool.h>

/* Create path (and its directory), mode 0660. 0 / -1 (logged). */
int lock_write(const char *path);
void lock_remove(const char *path);
bool lock_exists(const char *path);

#endif
