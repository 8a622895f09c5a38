/* publish.h: writing a file or directory under a temporary name beside its target,
 * then renaming it into place, so readers see the old or the new one, never a part;
 * and removing the temporaries of writers killed before they could. */
#ifndef KPY_PUBLISH_H
#define KPY_PUBLISH_H

#include <stddef.h>
#include <sys/types.h>

#include "error.h"

/* Temporary names are ".BASE" MARK "HOST-PID-XXXXXX" in the target's directory (BASE
 * cut short to fit NAME_MAX), and their writer holds a flock on them while it works.
 * kpy_temp_sweep removes those of this host whose writer is gone: its pid is dead and
 * the lock is free (the lock also covers a reused pid and writers in another pid
 * namespace). Those of other hosts on a shared file system are left alone. */
#define KPY_TEMP_MARK "."       /* files: ".NAME.tar.zst.HOST-PID-XXXXXX" */
#define KPY_TEMP_DIR_MARK ".kpy-" /* restored envs: ".NAME.kpy-HOST-PID-XXXXXX" */

/* "DIR/.BASE" MARK "HOST-PID-XXXXXX" into BUF (the X's for mkstemp or mkdtemp); DIR
 * may be "" for a name relative to a directory fd. -1 with E set if it does not fit. */
int kpy_temp_name(char *buf, size_t size, const char *dir, const char *base, const char *mark,
		  struct kpy_err *e);
/* Remove the temporaries with MARK in DIR (files, or directories with DIRS) of dead
 * writers on this host. Best effort: whatever cannot be checked or removed stays. */
void kpy_temp_sweep(const char *dir, const char *mark, int dirs);

/* A file being written: open with kpy_tmpfile_open, write to fd, then publish or
 * discard. Caller-owned; after either call nothing is left to free. */
struct kpy_tmpfile {
	int fd;             /* -1 once closed */
	int dfd;            /* the target's directory (AT_FDCWD: name is a path) */
	char name[4096];    /* the target, relative to dfd */
	char tmp[4096];     /* the temporary, relative to dfd; "" once gone */
};

#define KPY_PUBLISH_SYNC 1u      /* fsync the file before the rename, the directory after */
#define KPY_PUBLISH_NOREPLACE 2u /* an existing target is KPY_EEXIST and stays */

/* Create the temporary beside NAME (relative to DFD) with MODE (the umask applies),
 * locked; a failure names NAME. */
int kpy_tmpfile_open(struct kpy_tmpfile *t, int dfd, const char *name, mode_t mode,
		     struct kpy_err *e);
/* Close the temporary and rename it to the target (FLAGS above); on failure it is
 * removed and the target is as it was. */
int kpy_tmpfile_publish(struct kpy_tmpfile *t, unsigned flags, struct kpy_err *e);
/* Close and remove the temporary. */
void kpy_tmpfile_discard(struct kpy_tmpfile *t);

/* Replace NAME (relative to DFD) with LEN bytes of DATA through a temporary: MODE
 * (after the umask), or the old file's mode with KPY_PUBLISH_KEEPMODE; FLAGS as for
 * kpy_tmpfile_publish. */
#define KPY_PUBLISH_KEEPMODE 4u
int kpy_write_file(int dfd, const char *name, const void *data, size_t len, mode_t mode,
		   unsigned flags, struct kpy_err *e);

#endif
