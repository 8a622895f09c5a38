/* tree.c: removing and making directory trees without following symlinks. */
#include "autoconfig.h"
#include "tree.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEPTH_MAX 64 /* open directories held at once; deeper ones are moved up */

/* Give the directory NAME in AT, if it is ours, the owner's rwx it needs to be read
 * and emptied (a failed restore may leave libarchive's modes, even 0000, behind).
 * AT_SYMLINK_NOFOLLOW: a symlink swapped in meanwhile is left alone. */
static void let_owner_in(int at, const char *name)
{
	struct stat st;

	if (fstatat(at, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode) &&
	    (st.st_mode & S_IRWXU) != S_IRWXU && st.st_uid == geteuid())
		(void)!fchmodat(at, name, (st.st_mode | S_IRWXU) & 07777, AT_SYMLINK_NOFOLLOW);
}

/* Empty the directory open at FD (which this function closes). Directories nested
 * DEPTH_MAX deep are renamed to the top directory TOPFD, counted in *MOVED, and
 * emptied by the caller's next round, so no tree is too deep to remove. */
static int empty_dir(int topfd, int fd, const char *top, int depth, unsigned *moved,
		     struct kpy_err *e)
{
	struct stat st;
	DIR *d;
	struct dirent *de;
	int rv = -1;

	if (fstat(fd, &st) == 0 && (st.st_mode & S_IRWXU) != S_IRWXU && st.st_uid == geteuid())
		fchmod(fd, (st.st_mode | S_IRWXU) & 07777);
	d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return kpy_err_sys(e, errno, "cannot remove %s", top);
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		int sub;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == 0)
			continue;
		if (errno != EISDIR && errno != EPERM)
			goto sys;
		if (depth >= DEPTH_MAX) {
			char name[64];
			for (;;) {
				snprintf(name, sizeof(name), ".kpy-deep.%u", (*moved)++);
				if (renameat2(dirfd(d), de->d_name, topfd, name, RENAME_NOREPLACE) == 0)
					break;
				if (errno != EEXIST)
					goto sys;
			}
			continue;
		}
		/* a directory: open it without following a symlink swapped in meanwhile */
		let_owner_in(dirfd(d), de->d_name);
		sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0)
			goto sys;
		if (empty_dir(topfd, sub, top, depth + 1, moved, e) < 0)
			goto fail;
		if (unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR) < 0)
			goto sys;
	}
	if (errno != 0)
		goto sys;
	rv = 0;
	goto fail;
sys:
	kpy_err_sys(e, errno, "cannot remove %s", top);
fail:
	closedir(d);
	return rv;
}

int kpy_rmtree(const char *path, struct kpy_err *e)
{
	struct stat st;
	unsigned moved, before;
	int fd, rv = -1;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : kpy_err_sys(e, errno, "cannot remove %s", path);
	if (!S_ISDIR(st.st_mode)) {
		if (unlink(path) < 0 && errno != ENOENT)
			return kpy_err_sys(e, errno, "cannot remove %s", path);
		return 0;
	}
	let_owner_in(AT_FDCWD, path);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return kpy_err_sys(e, errno, "cannot remove %s", path);
	moved = 0;
	do {
		/* a fresh open file description: a dup() would share the old read offset */
		int round = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		before = moved;
		if (round < 0) {
			kpy_err_sys(e, errno, "cannot remove %s", path);
			goto out;
		}
		if (empty_dir(fd, round, path, 0, &moved, e) < 0)
			goto out;
	} while (moved != before);
	if (rmdir(path) < 0 && errno != ENOENT) {
		kpy_err_sys(e, errno, "cannot remove %s", path);
		goto out;
	}
	rv = 0;
out:
	close(fd);
	return rv;
}

int kpy_mkdirs(const char *path, int mode, struct kpy_err *e)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(buf))
		return kpy_err_set(e, KPY_EINVAL, "cannot make directory '%s': bad path", path);
	/* relative to whatever the working directory happens to be (slurmstepd's!) */
	if (path[0] != '/')
		return kpy_err_set(e, KPY_EINVAL, "cannot make directory '%s': not an absolute path", path);
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(buf, (mode_t)mode) < 0 && errno != EEXIST)
			return kpy_err_sys(e, errno, "cannot make directory %s", buf);
		*p = c;
		if (c == '\0')
			break;
	}
	struct stat st;
	if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
		return kpy_err_set(e, KPY_EFAIL, "%s exists and is not a directory: remove it or choose another path", path);
	return 0;
}

int kpy_pathf(char *buf, size_t size, struct kpy_err *e, const char *fmt, ...)
{
	va_list ap;
	char *full = NULL;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < size)
		return 0;
	if (e == NULL)
		return -1;
	va_start(ap, fmt);
	if (vasprintf(&full, fmt, ap) < 0)
		full = NULL;
	va_end(ap);
	kpy_err_set(e, KPY_EINVAL, "a path is longer than the limit of %zu bytes (use shorter names): %s",
		    size - 1, full ? full : buf);
	free(full);
	return -1;
}
