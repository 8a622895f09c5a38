/* fdio.h: reads and writes that finish (EINTR and short counts retried), and the whole
 * of a small file in memory. */
#ifndef KPY_FDIO_H
#define KPY_FDIO_H

#include <stddef.h>
#include <sys/types.h>

#include "error.h"

/* Read up to N bytes from FD, fewer only at end of file; -1 with errno on failure. */
ssize_t kpy_read_full(int fd, void *buf, size_t n);
/* Write all N bytes to FD: 0, or -1 with errno (EIO for a write that wrote nothing). */
int kpy_write_full(int fd, const void *buf, size_t n);

/* The first MAX bytes at most of PATH (a symlink is not followed with NOFOLLOW) in
 * *TEXT, malloc'd and NUL-terminated, and *LEN (may be NULL). -1 with errno set and
 * *TEXT NULL when it cannot be opened or read; E (may be NULL) gets the message.
 * *TRUNCATED (may be NULL) is 1 when the file holds more than MAX bytes. */
int kpy_read_file(const char *path, size_t max, int nofollow, char **text, size_t *len,
		  int *truncated, struct kpy_err *e);

#endif
