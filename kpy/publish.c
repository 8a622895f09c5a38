/* publish.c: temporaries beside their targets, renamed into place; stale ones swept. */
#include "autoconfig.h"
#include "publish.h"
#include "fdio.h"
#include "tree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void host_name(char *buf, size_t size)
{
	if (gethostname(buf, size) < 0 || buf[0] == '\0')
		snprintf(buf, size, "localhost");
	buf[size - 1] = '\0';
	for (char *p = buf; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '.' || *p == '-'))
			*p = '_';
}

int kpy_temp_name(char *buf, size_t size, const char *dir, const char *base, const char *mark,
		  struct kpy_err *e)
{
	char host[256], tag[320];
	int room;

	host_name(host, sizeof(host));
	snprintf(tag, sizeof(tag), "%s%s-%ld-XXXXXX", mark, host, (long)getpid());
	/* ".BASE" + tag within NAME_MAX: a long BASE is cut, the tag never */
	room = NAME_MAX - 1 - (int)strlen(tag);
	if (room < 1)
		return kpy_err_set(e, KPY_EINVAL, "the host name %s is too long for a temporary name", host);
	if (dir[0] == '\0')
		return kpy_pathf(buf, size, e, ".%.*s%s", room, base, tag);
	return kpy_pathf(buf, size, e, "%s/.%.*s%s", strcmp(dir, "/") ? dir : "", room, base, tag);
}

/* The writer's pid if NAME is a temporary "...MARK HOST-PID-XXXXXX" of this host,
 * else 0. */
static pid_t temp_pid(const char *name, const char *mark, const char *host)
{
	size_t n = strlen(name), ml = strlen(mark), hl = strlen(host);
	const char *p;
	long pid = 0, mul = 1;

	if (name[0] != '.' || n < 8 || name[n - 7] != '-')
		return 0;
	p = name + n - 8;
	while (p > name && *p >= '0' && *p <= '9' && mul < 10000000000L) {
		pid += (*p - '0') * mul;
		mul *= 10;
		p--;
	}
	if (mul == 1 || *p != '-' || pid <= 0 || pid > INT_MAX)
		return 0;
	if ((size_t)(p - name) < ml + hl || memcmp(p - hl, host, hl) != 0 ||
	    memcmp(p - hl - ml, mark, ml) != 0)
		return 0;
	return (pid_t)pid;
}

void kpy_temp_sweep(const char *dir, const char *mark, int dirs)
{
	char host[256];
	struct dirent *de;
	DIR *d = opendir(dir);

	if (d == NULL)
		return;
	host_name(host, sizeof(host));
	while ((de = readdir(d)) != NULL) {
		pid_t pid = temp_pid(de->d_name, mark, host);
		int fd;

		if (pid == 0 || pid == getpid() || kill(pid, 0) == 0 || errno != ESRCH)
			continue;
		fd = openat(dirfd(d), de->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC |
			    (dirs ? O_DIRECTORY : 0));
		if (fd < 0)
			continue;
		/* a shared lock still conflicts with the writer's exclusive one, and NFS
		 * (which emulates flock with fcntl locks) grants it on a read-only fd */
		if (flock(fd, LOCK_SH | LOCK_NB) == 0 || errno == ENOLCK || errno == ENOSYS ||
		    errno == EOPNOTSUPP || errno == EINVAL || errno == EBADF) {
			if (!dirs) {
				unlinkat(dirfd(d), de->d_name, 0);
			} else {
				char path[PATH_MAX];
				struct kpy_err ignore = KPY_ERR_INIT;
				if (kpy_pathf(path, sizeof(path), &ignore, "%s/%s", dir, de->d_name) == 0)
					kpy_rmtree(path, &ignore);
			}
		}
		close(fd);
	}
	closedir(d);
}

/* mkstemp relative to a directory fd: the X's at the end of T->tmp filled in. */
static int open_unique(struct kpy_tmpfile *t, mode_t mode)
{
	static const char digits[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	size_t n = strlen(t->tmp);
	unsigned long long r;
	struct timespec ts;

	if (n < 6 || strcmp(t->tmp + n - 6, "XXXXXX") != 0) {
		errno = EINVAL;
		return -1;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	r = (unsigned long long)ts.tv_nsec ^ ((unsigned long long)getpid() << 20) ^ (unsigned long long)ts.tv_sec;
	for (int tries = 0; tries < 100; tries++) {
		unsigned long long x = r;
		for (int i = 0; i < 6; i++, x /= 62)
			t->tmp[n - 6 + i] = digits[x % 62];
		int fd = openat(t->dfd, t->tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
		if (fd >= 0 || errno != EEXIST)
			return fd;
		r = r * 6364136223846793005ULL + 1442695040888963407ULL;
	}
	errno = EEXIST;
	return -1;
}

int kpy_tmpfile_open(struct kpy_tmpfile *t, int dfd, const char *name, mode_t mode,
		     struct kpy_err *e)
{
	const char *slash = strrchr(name, '/');
	char dir[4096];

	t->fd = -1;
	t->dfd = dfd;
	t->tmp[0] = '\0';
	if (kpy_pathf(t->name, sizeof(t->name), e, "%s", name) < 0 ||
	    kpy_pathf(dir, sizeof(dir), e, "%.*s", slash ? (int)(slash - name) : 0, name) < 0)
		return -1;
	if (slash != NULL && dir[0] == '\0')
		snprintf(dir, sizeof(dir), "/");
	if (kpy_temp_name(t->tmp, sizeof(t->tmp), dir, slash ? slash + 1 : name, KPY_TEMP_MARK, e) < 0) {
		t->tmp[0] = '\0';
		return -1;
	}
	if ((t->fd = open_unique(t, mode)) < 0) {
		t->tmp[0] = '\0';
		return kpy_err_sys(e, errno, "cannot write beside %s", name);
	}
	flock(t->fd, LOCK_EX | LOCK_NB); /* held until it is closed: see kpy_temp_sweep */
	return 0;
}

void kpy_tmpfile_discard(struct kpy_tmpfile *t)
{
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
	if (t->tmp[0] != '\0')
		unlinkat(t->dfd, t->tmp, 0);
	t->tmp[0] = '\0';
}

static void sync_dir(int dfd, const char *name)
{
	const char *slash = strrchr(name, '/');
	char dir[4096];
	int fd;

	if (slash == NULL)
		fd = dfd == AT_FDCWD ? open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
				     : openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	else if (snprintf(dir, sizeof(dir), "%.*s", slash == name ? 1 : (int)(slash - name), name) >= (int)sizeof(dir))
		return;
	else
		fd = openat(dfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

int kpy_tmpfile_publish(struct kpy_tmpfile *t, unsigned flags, struct kpy_err *e)
{
	int r;

	if ((flags & KPY_PUBLISH_SYNC) && fsync(t->fd) < 0) {
		kpy_err_sys(e, errno, "cannot write %s", t->name);
		goto fail;
	}
	r = close(t->fd);
	t->fd = -1;
	if (r < 0) {
		kpy_err_sys(e, errno, "cannot write %s", t->name);
		goto fail;
	}
	if (flags & KPY_PUBLISH_NOREPLACE) {
		/* link(), or on file systems without hard links, renameat2(RENAME_NOREPLACE) */
		r = linkat(t->dfd, t->tmp, t->dfd, t->name, 0);
		if (r < 0 && (errno == EPERM || errno == ENOTSUP || errno == EOPNOTSUPP || errno == EMLINK))
			r = renameat2(t->dfd, t->tmp, t->dfd, t->name, RENAME_NOREPLACE);
		else if (r == 0)
			unlinkat(t->dfd, t->tmp, 0);
		if (r < 0 && errno == EEXIST) {
			kpy_err_set(e, KPY_EEXIST, "%s already exists", t->name);
			goto fail;
		}
	} else {
		r = renameat(t->dfd, t->tmp, t->dfd, t->name);
	}
	if (r < 0) {
		kpy_err_sys(e, errno, "cannot replace %s", t->name);
		goto fail;
	}
	t->tmp[0] = '\0';
	if (flags & KPY_PUBLISH_SYNC)
		sync_dir(t->dfd, t->name);
	return 0;
fail:
	kpy_tmpfile_discard(t);
	return -1;
}

int kpy_write_file(int dfd, const char *name, const void *data, size_t len, mode_t mode,
		   unsigned flags, struct kpy_err *e)
{
	struct kpy_tmpfile t;
	struct stat st;

	if (kpy_tmpfile_open(&t, dfd, name, mode, e) < 0)
		return -1;
	if ((flags & KPY_PUBLISH_KEEPMODE) && fstatat(dfd, name, &st, 0) == 0 &&
	    fchmod(t.fd, st.st_mode & 07777) < 0) {
		kpy_err_sys(e, errno, "cannot write %s", name);
		kpy_tmpfile_discard(&t);
		return -1;
	}
	if (kpy_write_full(t.fd, data, len) < 0) {
		kpy_err_sys(e, errno, "cannot write %s", name);
		kpy_tmpfile_discard(&t);
		return -1;
	}
	return kpy_tmpfile_publish(&t, flags & ~KPY_PUBLISH_KEEPMODE, e);
}
