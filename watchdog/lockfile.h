/* The lock file that tells orchestrators the watchdog is ready. */
#ifndef FW_LOCKFILE_H
#define FW_LOCKFILE_H

#include <stdbool.h>
#include <stddef.h>

/* Create path, mode 0660, after logging that it does; with make_dir, its
 * directory first as Go's os.MkdirAll does. 0, or -1 with why =
 * "mkdir DIR: reason" or "open PATH: reason". */
int lock_write(const char *path, bool make_dir, char *why, size_t whylen);
void lock_remove(const char *path);
bool lock_exists(const char *path);

#endif
