/* once.c: one restore per target directory, however many steps and tasks ask at once. */
#include "autoconfig.h"
#include "once.h"
#include "envarchive.h"
#include "publish.h"
#include "tree.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* <parent>/.<base>.lock for DEST into BUF; -1 (error set) if it does not fit. */
static int lock_path(const char *dest, char *buf, size_t size, struct kpy_err *e)
{
	const char *slash = strrchr(dest, '/');

	if (dest[0] != '/' || slash == NULL || slash[1] == '\0')
		return kpy_err_set(e, KPY_EINVAL, "cannot restore to '%s': give an absolute path", dest);
	int n = snprintf(buf, size, "%.*s/.%s.lock", (int)(slash - dest), dest, slash + 1);
	if (n < 0 || (size_t)n >= size)
		return kpy_err_set(e, KPY_EINVAL, "cannot restore: the path is too long (its lock file would exceed %zu bytes; use a shorter one): %s", size - 1, dest);
	return 0;
}

int kpy_lock_target(const char *dest, struct kpy_err *e)
{
	char lock[PATH_MAX];
	struct stat held, named;
	int fd;

	if (lock_path(dest, lock, sizeof(lock), e) < 0)
		return -1;
	for (;;) {
		/* a regular file opened for writing: NFS and Lustre grant LOCK_EX only on such */
		fd = open(lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0)
			return kpy_err_sys(e, errno, "cannot create the lock file %s", lock);
		while (flock(fd, LOCK_EX) < 0) {
			if (errno != EINTR || kpy_interrupted) {
				if (errno == EINTR)
					kpy_err_set(e, KPY_EFAIL, "interrupted while waiting for %s", lock);
				else
					kpy_err_sys(e, errno, "cannot lock %s", lock);
				close(fd);
				return -1;
			}
		}
		/* the holder before us removes the file as it lets go: ours only if it is
		 * still the one at the path, else take the new one */
		if (fstat(fd, &held) == 0 && lstat(lock, &named) == 0 &&
		    held.st_dev == named.st_dev && held.st_ino == named.st_ino)
			return fd;
		close(fd);
	}
}

void kpy_unlock_target(const char *dest, int fd)
{
	char lock[PATH_MAX];
	struct kpy_err ignore = KPY_ERR_INIT;

	if (lock_path(dest, lock, sizeof(lock), &ignore) == 0)
		unlink(lock); /* while still held: nothing is left beside DEST */
	close(fd);
}

int kpy_restore_once(const char *archive, const char *dest, const struct kpy_restore_opts *o,
		     int *restored, struct kpy_err *e)
{
	struct stat st;
	int fd, rv = -1;

	*restored = 0;
	if (dest[0] == '/' && stat(dest, &st) == 0 && S_ISDIR(st.st_mode))
		return 0; /* the common case of every later step: no lock, no work */
	if ((fd = kpy_lock_target(dest, e)) < 0)
		return -1;
	if (stat(dest, &st) == 0 && S_ISDIR(st.st_mode)) {
		rv = 0; /* another process restored it while we waited */
		goto out;
	}
	if (kpy_archive_restore(archive, dest, o, NULL, e) < 0)
		goto out;
	*restored = 1;
	rv = 0;
out:
	kpy_unlock_target(dest, fd);
	return rv;
}

int kpy_load_once(const char *archive, const char *dest, const struct kpy_restore_opts *o,
		  int replace, int *restored, struct kpy_err *e)
{
	char parent[PATH_MAX], aside[PATH_MAX], *text;
	const char *slash = strrchr(dest, '/');
	struct kpy_manifest m = { 0 };
	struct stat st;
	size_t len;
	int fd, rv = -1;

	*restored = 0;
	aside[0] = '\0';
	if (slash == NULL || slash == dest || slash[1] == '\0')
		return kpy_err_set(e, KPY_EINVAL, "cannot restore to '%s': give an absolute path", dest);
	if (kpy_pathf(parent, sizeof(parent), e, "%.*s", (int)(slash - dest), dest) < 0)
		return -1;
	if ((fd = kpy_lock_target(dest, e)) < 0)
		return -1;
	if (lstat(dest, &st) == 0) {
		if (!replace) {
			rv = 0; /* another process restored it while we waited */
			goto out;
		}
		if (kpy_pathf(aside, sizeof(aside), e, "%s/.%s.old-%ld", parent, slash + 1, (long)getpid()) < 0) {
			aside[0] = '\0';
			goto out;
		}
		if (rename(dest, aside) < 0) {
			kpy_err_sys(e, errno, "cannot move %s aside to replace it", dest);
			aside[0] = '\0';
			goto out;
		}
	}
	if (kpy_archive_restore(archive, dest, o, &m, e) < 0) {
		if (aside[0] != '\0' && rename(aside, dest) == 0)
			aside[0] = '\0';
		goto out;
	}
	*restored = 1;
	/* the save this env holds, for load and activate -l; written before the lock goes */
	if ((text = kpy_manifest_format(&m, &len)) != NULL) {
		char path[PATH_MAX];

		if (kpy_pathf(path, sizeof(path), NULL, "%s/.kpy", dest) == 0)
			mkdir(path, 0755);
		if (kpy_pathf(path, sizeof(path), NULL, "%s/%s", dest, KPY_MANIFEST_PATH) == 0)
			kpy_write_file(AT_FDCWD, path, text, len, 0644, 0, NULL);
		free(text);
	}
	rv = 0;
out:
	if (aside[0] != '\0') {
		struct kpy_err ignore = KPY_ERR_INIT;
		kpy_rmtree(aside, &ignore);
	}
	kpy_manifest_free(&m);
	kpy_unlock_target(dest, fd);
	return rv;
}
