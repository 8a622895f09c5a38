/* once.c: one restore per target directory, however many steps and tasks ask at once. */
#include "autoconfig.h"
#include "once.h"
#include "archive.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

int kpy_restore_once(const char *archive, const char *dest, int *restored,
		     struct kpy_err *e)
{
	char lock[PATH_MAX];
	const char *slash = strrchr(dest, '/');
	struct stat st;
	int fd, rv = -1;

	*restored = 0;
	if (dest[0] == '/' && stat(dest, &st) == 0 && S_ISDIR(st.st_mode))
		return 0; /* the common case of every later step: no lock, no work */
	if (dest[0] != '/' || slash == NULL || slash[1] == '\0')
		return kpy_err_set(e, KPY_EINVAL, "cannot restore to '%s': give an absolute path", dest);
	int n = snprintf(lock, sizeof(lock), "%.*s/.%s.lock", (int)(slash - dest), dest, slash + 1);
	if (n < 0 || (size_t)n >= sizeof(lock))
		return kpy_err_set(e, KPY_EINVAL, "cannot restore: the path is too long (its lock file would exceed %zu bytes; use a shorter one): %s", sizeof(lock) - 1, dest);
	fd = open(lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return kpy_err_sys(e, errno, "cannot create the lock file %s", lock);
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			kpy_err_sys(e, errno, "cannot lock %s", lock);
			goto out;
		}
	}
	if (stat(dest, &st) == 0 && S_ISDIR(st.st_mode)) {
		rv = 0; /* another process restored it while we waited */
		goto out;
	}
	if (kpy_archive_restore(archive, dest, NULL, NULL, e) < 0)
		goto out;
	*restored = 1;
	rv = 0;
out:
	close(fd); /* releases the lock; the file stays so waiters lock the same inode */
	return rv;
}
