/* fanout.c: the broadcast copy of an archive: checksum, token, the copy's place and
 * checks on a node, sbcast, and the clean-up at the job's end. */
#include "autoconfig.h"
#include "fanout.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fdio.h"
#include "manifest.h"

/* ---- XXH64 ---- */

#define P1 0x9E3779B185EBCA87ULL
#define P2 0xC2B2AE3D27D4EB4FULL
#define P3 0x165667B19E3779F9ULL
#define P4 0x85EBCA77C2B2AE63ULL
#define P5 0x27D4EB2F165667C5ULL

static uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

static uint64_t rd64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint32_t rd32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t xround(uint64_t acc, uint64_t in)
{
	acc += in * P2;
	acc = rotl(acc, 31);
	return acc * P1;
}

static uint64_t xmerge(uint64_t acc, uint64_t val)
{
	acc ^= xround(0, val);
	return acc * P1 + P4;
}

void kpy_sum_init(struct kpy_sum *s)
{
	memset(s, 0, sizeof(*s));
	s->v[0] = P1 + P2;
	s->v[1] = P2;
	s->v[2] = 0;
	s->v[3] = 0 - P1;
}

static void stripe(struct kpy_sum *s, const unsigned char *p)
{
	for (int i = 0; i < 4; i++)
		s->v[i] = xround(s->v[i], rd64(p + (size_t)8 * (size_t)i));
}

void kpy_sum_update(struct kpy_sum *s, const void *data, size_t len)
{
	const unsigned char *p = data;

	s->total += len;
	if (s->n > 0) {
		size_t take = 32 - s->n < len ? 32 - s->n : len;
		memcpy(s->buf + s->n, p, take);
		s->n += take;
		p += take;
		len -= take;
		if (s->n < 32)
			return;
		stripe(s, s->buf);
		s->n = 0;
	}
	for (; len >= 32; p += 32, len -= 32)
		stripe(s, p);
	memcpy(s->buf, p, len);
	s->n = len;
}

uint64_t kpy_sum_final(const struct kpy_sum *s)
{
	const unsigned char *p = s->buf;
	size_t n = s->n;
	uint64_t h;

	if (s->total >= 32) {
		h = rotl(s->v[0], 1) + rotl(s->v[1], 7) + rotl(s->v[2], 12) + rotl(s->v[3], 18);
		for (int i = 0; i < 4; i++)
			h = xmerge(h, s->v[i]);
	} else {
		h = P5;
	}
	h += (uint64_t)s->total;
	for (; n >= 8; p += 8, n -= 8) {
		h ^= xround(0, rd64(p));
		h = rotl(h, 27) * P1 + P4;
	}
	if (n >= 4) {
		h ^= (uint64_t)rd32(p) * P1;
		h = rotl(h, 23) * P2 + P3;
		p += 4;
		n -= 4;
	}
	for (; n > 0; p++, n--) {
		h ^= (uint64_t)*p * P5;
		h = rotl(h, 11) * P1;
	}
	h ^= h >> 33;
	h *= P2;
	h ^= h >> 29;
	h *= P3;
	h ^= h >> 32;
	return h;
}

/* ---- the token ---- */

const char *kpy_fanout_var(const char *kind)
{
	return strcmp(kind, KPY_KIND_UV) == 0 ? "KPY_FANOUT_UV" : "KPY_FANOUT_VENV";
}

int kpy_fanout_format(const struct kpy_fanout *f, char *buf, size_t size)
{
	int n = snprintf(buf, size, "%" PRIu32 ":%llu:%016" PRIx64 ":%s:%s", f->jobid, f->size,
			 f->sum, f->id, f->name);

	return n < 0 || (size_t)n >= size ? -1 : 0;
}

static int hex16(const char *s)
{
	for (int i = 0; i < 16; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

int kpy_fanout_parse(const char *s, struct kpy_fanout *f)
{
	unsigned long long job, size;
	char *end;

	memset(f, 0, sizeof(*f));
	if (s == NULL || s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	job = strtoull(s, &end, 10);
	if (errno != 0 || *end != ':' || job == 0 || job > UINT32_MAX || end[1] < '0' || end[1] > '9')
		return -1;
	s = end + 1;
	size = strtoull(s, &end, 10);
	if (errno != 0 || *end != ':')
		return -1;
	s = end + 1;
	if (!hex16(s) || s[16] != ':')
		return -1;
	f->sum = strtoull(s, &end, 16);
	s += 17;
	if (!hex16(s) || s[16] != ':' || s[17] == '\0' || strlen(s + 17) >= sizeof(f->name))
		return -1;
	memcpy(f->id, s, 16);
	f->id[16] = '\0';
	strcpy(f->name, s + 17);
	f->jobid = (uint32_t)job;
	f->size = size;
	return 0;
}

int kpy_fanout_new_id(struct kpy_fanout *f, struct kpy_err *e)
{
	unsigned char r[8];

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		return kpy_err_sys(e, errno, "cannot get random bytes");
	for (int i = 0; i < 8; i++)
		snprintf(f->id + (size_t)2 * (size_t)i, 3, "%02x", r[i]);
	return 0;
}

char *kpy_fanout_path(const char *tmpdir, const struct kpy_fanout *f, uid_t uid)
{
	char *p;

	if (asprintf(&p, "%s/" KPY_FANOUT_DIR "/%" PRIu32 ".%u.%s.%c.%llu.%016" PRIx64 ".%s",
		     tmpdir, f->jobid, (unsigned)uid, f->id, f->uv ? 'u' : 'v', f->size, f->sum,
		     f->name) < 0)
		return NULL;
	return p;
}

/* the part of a copy's file name after "<jobid>.<uid>." into F */
static int parse_file_name(const char *s, struct kpy_fanout *f)
{
	char *end;

	if (!hex16(s) || s[16] != '.' || (s[17] != 'u' && s[17] != 'v') || s[18] != '.' ||
	    s[19] < '0' || s[19] > '9')
		return -1;
	memcpy(f->id, s, 16);
	f->id[16] = '\0';
	f->uv = s[17] == 'u';
	errno = 0;
	f->size = strtoull(s + 19, &end, 10);
	if (errno != 0 || *end != '.' || !hex16(end + 1) || end[17] != '.' || end[18] == '\0' ||
	    strlen(end + 18) >= sizeof(f->name))
		return -1;
	f->sum = strtoull(end + 1, NULL, 16);
	strcpy(f->name, end + 18);
	return 0;
}

int kpy_fanout_find(const char *tmpdir, uint32_t jobid, uid_t uid, int uv, const char *name,
		    struct kpy_fanout *out)
{
	char *base = NULL, prefix[64];
	struct timespec newest = { 0, 0 };
	struct dirent *d;
	struct stat st;
	size_t plen;
	int found = 0;
	DIR *dir;

	snprintf(prefix, sizeof(prefix), "%" PRIu32 ".%u.", jobid, (unsigned)uid);
	plen = strlen(prefix);
	if (asprintf(&base, "%s/" KPY_FANOUT_DIR, tmpdir) < 0)
		return 0;
	dir = opendir(base);
	free(base);
	if (dir == NULL)
		return 0;
	while ((d = readdir(dir)) != NULL) {
		struct kpy_fanout f = { .jobid = jobid };

		if (strncmp(d->d_name, prefix, plen) != 0 || parse_file_name(d->d_name + plen, &f) < 0 ||
		    f.uv != !!uv || strcmp(f.name, name) != 0)
			continue;
		if (fstatat(dirfd(dir), d->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode) || st.st_uid != uid)
			continue;
		if (!found || st.st_mtim.tv_sec > newest.tv_sec ||
		    (st.st_mtim.tv_sec == newest.tv_sec && st.st_mtim.tv_nsec > newest.tv_nsec)) {
			*out = f;
			newest = st.st_mtim;
			found = 1;
		}
	}
	closedir(dir);
	return found;
}

/* ---- copy and checksum ---- */

#define CHUNK (1 << 20)

int kpy_fanout_copy(const char *src, int dst, struct kpy_fanout *f, struct kpy_err *e)
{
	struct kpy_sum s;
	char *buf = malloc(CHUNK);
	int fd = -1, rv = -1;
	ssize_t n;

	if (buf == NULL)
		return kpy_err_set(e, KPY_EFAIL, "out of memory");
	if ((fd = open(src, O_RDONLY | O_CLOEXEC)) < 0) {
		kpy_err_sys(e, errno, "cannot open %s", src);
		goto out;
	}
	kpy_sum_init(&s);
	while ((n = kpy_read_full(fd, buf, CHUNK)) > 0) {
		kpy_sum_update(&s, buf, (size_t)n);
		if (kpy_write_full(dst, buf, (size_t)n) < 0) {
			kpy_err_sys(e, errno, "cannot write the local copy of %s", src);
			goto out;
		}
	}
	if (n < 0) {
		kpy_err_sys(e, errno, "cannot read %s", src);
		goto out;
	}
	f->size = s.total;
	f->sum = kpy_sum_final(&s);
	rv = 0;
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return rv;
}

int kpy_fanout_sum_fd(int fd, unsigned long long *size, uint64_t *sum, struct kpy_err *e)
{
	struct kpy_sum s;
	char *buf = malloc(CHUNK);
	off_t off = 0;
	ssize_t n;

	if (buf == NULL)
		return kpy_err_set(e, KPY_EFAIL, "out of memory");
	kpy_sum_init(&s);
	while ((n = pread(fd, buf, CHUNK, off)) > 0) {
		kpy_sum_update(&s, buf, (size_t)n);
		off += n;
	}
	free(buf);
	if (n < 0)
		return kpy_err_sys(e, errno, "cannot read");
	*size = s.total;
	*sum = kpy_sum_final(&s);
	return 0;
}

/* ---- the base directory ---- */

static int base_ok(const struct stat *st)
{
	return S_ISDIR(st->st_mode) && st->st_uid == 0 && (st->st_mode & 07777) == 01733;
}

/* Someone else's entry where the base goes (a directory, file or symlink another user
 * made before root did): renamed to kpy-bcast.squatted.<random>, never followed or
 * deleted. 1 when moved, 0 when there was nothing to move, -1 on error. */
static int move_aside(int tfd, const char *tmpdir, struct kpy_err *e)
{
	unsigned char r[6];
	char aside[64];
	struct stat st;

	if (fstatat(tfd, KPY_FANOUT_DIR, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : kpy_err_sys(e, errno, "cannot inspect %s/" KPY_FANOUT_DIR,
							 tmpdir);
	if (S_ISDIR(st.st_mode) && st.st_uid == 0)
		return 0;
	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		return kpy_err_sys(e, errno, "cannot get random bytes");
	snprintf(aside, sizeof(aside), KPY_FANOUT_DIR ".squatted.%02x%02x%02x%02x%02x%02x",
		 r[0], r[1], r[2], r[3], r[4], r[5]);
	if (renameat2(tfd, KPY_FANOUT_DIR, tfd, aside, RENAME_NOREPLACE) < 0)
		return errno == ENOENT ? 0 : kpy_err_sys(e, errno, "cannot move aside %s/"
							 KPY_FANOUT_DIR ", which is not root's", tmpdir);
	return 1;
}

int kpy_fanout_base_make(const char *tmpdir, struct kpy_err *e)
{
	struct stat st;
	int tfd, fd = -1, rv = -1, moved;

	if ((tfd = open(tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return kpy_err_sys(e, errno, "cannot open %s (plugstack.conf tmpdir=)", tmpdir);
	if ((moved = move_aside(tfd, tmpdir, e)) < 0)
		goto out;
	if (mkdirat(tfd, KPY_FANOUT_DIR, 0700) < 0 && errno != EEXIST) {
		kpy_err_sys(e, errno, "cannot make %s/" KPY_FANOUT_DIR, tmpdir);
		goto out;
	}
	fd = openat(tfd, KPY_FANOUT_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		kpy_err_sys(e, errno, "cannot open %s/" KPY_FANOUT_DIR " (it must be root's "
			    "directory)", tmpdir);
		goto out;
	}
	if (st.st_uid != 0) {
		/* replaced again between the move and the open */
		kpy_err_set(e, KPY_EFAIL, "%s/" KPY_FANOUT_DIR " belongs to uid %u, not root: the "
			    "broadcast copies are not used", tmpdir, (unsigned)st.st_uid);
		goto out;
	}
	if (!base_ok(&st) && fchmod(fd, 01733) < 0) {
		kpy_err_sys(e, errno, "cannot chmod 1733 %s/" KPY_FANOUT_DIR, tmpdir);
		goto out;
	}
	rv = moved;
out:
	if (fd >= 0)
		close(fd);
	close(tfd);
	return rv;
}

int kpy_fanout_check(const char *tmpdir, const struct kpy_fanout *f, uid_t uid, char **path,
		     struct kpy_err *e)
{
	char *p = kpy_fanout_path(tmpdir, f, uid), *base = NULL;
	unsigned long long size = 0;
	uint64_t sum = 0;
	struct stat st;
	int fd = -1;

	*path = NULL;
	if (p == NULL || asprintf(&base, "%s/" KPY_FANOUT_DIR, tmpdir) < 0) {
		free(p);
		return kpy_err_set(e, KPY_EFAIL, "out of memory");
	}
	if (lstat(base, &st) < 0 || !base_ok(&st)) {
		kpy_err_set(e, KPY_EFAIL, "%s is not root's directory of mode 1733", base);
		goto fail;
	}
	if ((fd = open(p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)) < 0) {
		kpy_err_sys(e, errno, "cannot open the copy %s", p);
		goto fail;
	}
	if (fstat(fd, &st) < 0) {
		kpy_err_sys(e, errno, "cannot stat the copy %s", p);
		goto fail;
	}
	if (!S_ISREG(st.st_mode) || st.st_uid != uid || st.st_nlink != 1) {
		kpy_err_set(e, KPY_EFAIL, "the copy %s is not a regular file of uid %u with one "
			    "link", p, (unsigned)uid);
		goto fail;
	}
	if ((unsigned long long)st.st_size != f->size) {
		kpy_err_set(e, KPY_EFAIL, "the copy %s has %lld bytes, the original %llu", p,
			    (long long)st.st_size, f->size);
		goto fail;
	}
	if (kpy_fanout_sum_fd(fd, &size, &sum, e) < 0)
		goto fail;
	if (size != f->size || sum != f->sum) {
		kpy_err_set(e, KPY_EFAIL, "the copy %s has checksum %016" PRIx64 ", the original "
			    "%016" PRIx64, p, sum, f->sum);
		goto fail;
	}
	close(fd);
	free(base);
	*path = p;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	free(base);
	free(p);
	return -1;
}

/* ---- sbcast ---- */

extern char **environ;

int kpy_fanout_send(char *const *envp, uint32_t jobid, const char *src, const char *dst,
		    unsigned timeout, struct kpy_err *e)
{
	char job[32], msg[512];
	int errp[2], status = 0;
	size_t got = 0;
	struct timespec t0, now;
	pid_t pid;

	snprintf(job, sizeof(job), "--jobid=%" PRIu32, jobid);
	if (pipe2(errp, O_CLOEXEC) < 0)
		return kpy_err_sys(e, errno, "cannot run sbcast: pipe");
	pid = fork();
	if (pid < 0) {
		close(errp[0]);
		close(errp[1]);
		return kpy_err_sys(e, errno, "cannot run sbcast: fork");
	}
	if (pid == 0) {
		char *argv[] = { "sbcast", job, "--force", (char *)src, (char *)dst, NULL };
		int nul = open("/dev/null", O_RDWR | O_CLOEXEC);

		/* its own process group: a deadline stops it and whatever it started */
		setpgid(0, 0);

		if (nul < 0 || dup2(nul, 0) < 0 || dup2(nul, 1) < 0 || dup2(errp[1], 2) < 0)
			_exit(127);
		if (envp != NULL)
			environ = (char **)envp;
		execvp("sbcast", argv);
		dprintf(2, "cannot run sbcast: %s\n", strerror(errno));
		_exit(127);
	}
	close(errp[1]);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd pfd = { errp[0], POLLIN, 0 };
		long left;
		ssize_t n;

		clock_gettime(CLOCK_MONOTONIC, &now);
		left = (long)timeout * 1000 - ((now.tv_sec - t0.tv_sec) * 1000 +
					       (now.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			close(errp[0]);
			return kpy_err_set(e, KPY_EFAIL, "sbcast took longer than %u seconds and "
					   "was stopped", timeout);
		}
		if (poll(&pfd, 1, (int)left) < 0) {
			int err = errno;
			if (err == EINTR)
				continue;
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			close(errp[0]);
			return kpy_err_sys(e, err, "cannot run sbcast: poll");
		}
		if (pfd.revents == 0)
			continue;
		if (got < sizeof(msg) - 1)
			n = read(errp[0], msg + got, sizeof(msg) - 1 - got);
		else {
			char drop[256];
			n = read(errp[0], drop, sizeof(drop));
			if (n > 0)
				continue;
		}
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(errp[0]);
	msg[got] = '\0';
	msg[strcspn(msg, "\n")] = '\0';
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return kpy_err_sys(e, errno, "sbcast: waitpid");
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status))
		return kpy_err_set(e, KPY_EFAIL, "sbcast exited with status %d%s%s",
				   WEXITSTATUS(status), msg[0] ? ": " : "", msg);
	return kpy_err_set(e, KPY_EFAIL, "sbcast was killed by signal %d%s%s",
			   WIFSIGNALED(status) ? WTERMSIG(status) : 0, msg[0] ? ": " : "", msg);
}

/* ---- clean-up ---- */

int kpy_fanout_remove(const char *tmpdir, uint32_t jobid, uid_t uid, struct kpy_err *e)
{
	char prefix[64];
	struct dirent *d;
	struct stat st;
	size_t plen;
	int fd, dfd, count = 0;
	DIR *dir;

	snprintf(prefix, sizeof(prefix), "%" PRIu32 ".%u.", jobid, (unsigned)uid);
	plen = strlen(prefix);
	if ((fd = open(tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return kpy_err_sys(e, errno, "cannot open %s", tmpdir);
	dfd = openat(fd, KPY_FANOUT_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	close(fd);
	if (dfd < 0)
		return errno == ENOENT ? 0 : kpy_err_sys(e, errno, "cannot open %s/" KPY_FANOUT_DIR,
							 tmpdir);
	if (fstat(dfd, &st) < 0 || !base_ok(&st)) {
		close(dfd);
		return kpy_err_set(e, KPY_EFAIL, "leaving %s/" KPY_FANOUT_DIR " alone: not root's "
				   "directory of mode 1733", tmpdir);
	}
	if ((dir = fdopendir(dfd)) == NULL) {
		close(dfd);
		return kpy_err_sys(e, errno, "cannot read %s/" KPY_FANOUT_DIR, tmpdir);
	}
	while ((d = readdir(dir)) != NULL) {
		if (strncmp(d->d_name, prefix, plen) != 0)
			continue;
		if (fstatat(dirfd(dir), d->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode) || st.st_uid != uid)
			continue;
		if (unlinkat(dirfd(dir), d->d_name, 0) == 0)
			count++;
	}
	closedir(dir);
	return count;
}
