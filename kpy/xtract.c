/* xtract.c: a parallel entry writer with the restore's safety rules (see xtract.h). */
#include "autoconfig.h"
#include "xtract.h"
#include "error.h"
#include "progress.h"
#include "venvfacts.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

#define QCAP 1024 /* jobs waiting for the writers */

enum { T_DIR = 1, T_LNK = 2 };

/* a directory or symlink this extraction made: the only names kept in memory */
struct node {
	char *name;
	int type;
	size_t dir; /* T_DIR: its index in dirs */
};

struct dirfix {
	const char *name;
	mode_t mode;
	int has_mtime;
	struct timespec mtime;
};

struct xfile {
	int fd;
	mode_t perm;
	int has_mtime;
	struct timespec mtime;
	uint64_t size;
	atomic_int pending; /* pieces not yet written, plus the reader's hold until file_end */
	char name[];
};

struct job {
	struct xfile *f;
	int whole;          /* open, write, finish, free F; else a pwrite on F->fd */
	const unsigned char *p;
	size_t len;
	uint64_t off;
	void *ref;
	void *copy;         /* malloc'd copy of the data (ref NULL) */
};

struct kpy_xt {
	int dirfd;
	mode_t umask;
	struct kpy_xt_opts o;

	/* the reader's side */
	struct node *tab;
	size_t tcap, tlen;
	struct dirfix *dirs;
	size_t ndirs, dcap;
	struct xfile *cur;
	int cur_multi, cur_sent;
	char nbuf[PATH_MAX], tbuf[PATH_MAX];

	/* shared */
	pthread_mutex_t m;
	pthread_cond_t work, space, idle;
	struct job q[QCAP];
	size_t qhead, qlen, busy;
	size_t copied, peak_copied;
	int stop;
	atomic_int failed, abort;
	int ecode, eerrno;
	char why[1024];

	pthread_t *th;
	int nth;
};

static atomic_int no_openat2;

static void set_err(struct kpy_xt *x, int code, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void set_err(struct kpy_xt *x, int code, int errnum, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&x->m);
	if (!atomic_load(&x->failed)) {
		x->ecode = code;
		x->eerrno = errnum;
		va_start(ap, fmt);
		vsnprintf(x->why, sizeof(x->why), fmt, ap);
		va_end(ap);
		atomic_store(&x->failed, 1);
		/* wake a reader waiting for room */
		pthread_cond_broadcast(&x->space);
	}
	pthread_mutex_unlock(&x->m);
}

#define DAMAGED(...) (set_err(x, KPY_EDAMAGED, 0, __VA_ARGS__), -1)
#define SYSERR(err, ...) (set_err(x, KPY_EFAIL, (err), __VA_ARGS__), -1)
#define DUP() DAMAGED("it holds two entries with the same name")

/* open NAME under DIRFD, never through a symlink (openat2 where the kernel has it) */
static int open_beneath(int dirfd, const char *name, int flags, mode_t mode)
{
	/* valgrind does not know openat2 and says so in its log (make check-valgrind
	 * fails on any log line): there the checks above stand alone */
	if (!atomic_load(&no_openat2) && !RUNNING_ON_VALGRIND) {
		struct open_how how = { .flags = (uint64_t)flags, .mode = (flags & O_CREAT) ? mode : 0,
					.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS };
		long fd = syscall(SYS_openat2, dirfd, name, &how, sizeof(how));
		if (fd >= 0 || (errno != ENOSYS && errno != EPERM))
			return (int)fd;
		/* no openat2 (old kernel, or a seccomp filter): the checks above stand alone */
		atomic_store(&no_openat2, 1);
	}
	return openat(dirfd, name, flags, mode);
}

/* an open failed under the rules: the entry's fault or the system's */
static int open_failed(struct kpy_xt *x, const char *name, int err)
{
	if (err == EEXIST)
		return DUP();
	if (err == ELOOP || err == EXDEV || err == ENOTDIR)
		return DAMAGED("it holds an entry (%s) that would be written through a symlink or a file", name);
	return SYSERR(err, "cannot create %s", name);
}

/* ---- names ---- */

/* IN without "." and empty components into OUT: its length, -1 for an absolute
 * name, a ".." or nothing left, -2 when too long. */
static int canon(const char *in, char *out, size_t cap)
{
	size_t o = 0;

	if (in == NULL || in[0] == '/')
		return -1;
	for (const char *p = in; *p;) {
		size_t n;
		while (*p == '/')
			p++;
		if (*p == '\0')
			break;
		n = strcspn(p, "/");
		if (n == 1 && p[0] == '.') {
			p += n;
			continue;
		}
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return -1;
		if (o + n + 2 > cap)
			return -2;
		if (o > 0)
			out[o++] = '/';
		memcpy(out + o, p, n);
		o += n;
		p += n;
	}
	out[o] = '\0';
	return o == 0 ? -1 : (int)o;
}

static int canon_or_fail(struct kpy_xt *x, const char *in, char *out)
{
	int n = canon(in, out, PATH_MAX);
	if (n == -1)
		return DAMAGED("it holds an entry with an absolute or '..' path; refusing to write outside the target");
	if (n == -2)
		return DAMAGED("it holds an entry whose name is too long");
	return n;
}

static size_t hash(const char *s, size_t len)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
	return (size_t)h;
}

static struct node *lookup(struct kpy_xt *x, const char *s, size_t len)
{
	if (x->tcap == 0)
		return NULL;
	for (size_t i = hash(s, len) & (x->tcap - 1);; i = (i + 1) & (x->tcap - 1)) {
		struct node *n = &x->tab[i];
		if (n->name == NULL)
			return NULL;
		if (strncmp(n->name, s, len) == 0 && n->name[len] == '\0')
			return n;
	}
}

/* Remember S (LEN bytes) as a directory or symlink; for a directory, its fixup. */
static int insert(struct kpy_xt *x, const char *s, size_t len, int type, mode_t mode,
		  const struct timespec *mtime)
{
	struct node *n;

	if (2 * (x->tlen + 1) > x->tcap) {
		size_t cap = x->tcap ? 2 * x->tcap : 1024;
		struct node *t = calloc(cap, sizeof(*t));
		if (t == NULL)
			return SYSERR(ENOMEM, "out of memory");
		for (size_t i = 0; i < x->tcap; i++) {
			if (x->tab[i].name == NULL)
				continue;
			size_t j = hash(x->tab[i].name, strlen(x->tab[i].name)) & (cap - 1);
			while (t[j].name != NULL)
				j = (j + 1) & (cap - 1);
			t[j] = x->tab[i];
		}
		free(x->tab);
		x->tab = t;
		x->tcap = cap;
	}
	if (type == T_DIR && x->ndirs == x->dcap) {
		size_t cap = x->dcap ? 2 * x->dcap : 256;
		struct dirfix *d = realloc(x->dirs, cap * sizeof(*d));
		if (d == NULL)
			return SYSERR(ENOMEM, "out of memory");
		x->dirs = d;
		x->dcap = cap;
	}
	size_t i = hash(s, len) & (x->tcap - 1);
	while (x->tab[i].name != NULL)
		i = (i + 1) & (x->tcap - 1);
	n = &x->tab[i];
	if ((n->name = strndup(s, len)) == NULL)
		return SYSERR(ENOMEM, "out of memory");
	n->type = type;
	x->tlen++;
	if (type == T_DIR) {
		struct dirfix *d = &x->dirs[x->ndirs];
		n->dir = x->ndirs++;
		d->name = n->name;
		d->mode = mode;
		d->has_mtime = mtime != NULL;
		if (mtime != NULL)
			d->mtime = *mtime;
	}
	return 0;
}

/* Every parent of NAME (LEN bytes, canonical) a directory of ours; missing ones are
 * made (as tar does). CREATE 0: only check, for a hard link's target. */
static int parents(struct kpy_xt *x, char *name, size_t len, int create)
{
	char *slash = memrchr(name, '/', len);
	struct node *n;

	if (slash == NULL)
		return 0;
	if ((n = lookup(x, name, (size_t)(slash - name))) != NULL && n->type == T_DIR)
		return 0; /* the usual case: its parents were checked when it was made */
	for (char *p = strchr(name, '/'); p != NULL && p <= slash; p = strchr(p + 1, '/')) {
		size_t plen = (size_t)(p - name);
		n = lookup(x, name, plen);
		if (n != NULL && n->type == T_DIR)
			continue;
		if (n != NULL)
			return DAMAGED("it holds an entry under a symlink (%.*s); refusing to write through it",
				       (int)plen, name);
		if (!create)
			return DAMAGED("it holds a hard link to something that is not a regular file before it");
		*p = '\0';
		int r = mkdirat(x->dirfd, name, 0700), err = errno;
		*p = '/';
		if (r < 0 && err == EEXIST)
			return DAMAGED("it holds an entry under %.*s, which is not a directory", (int)plen, name);
		if (r < 0)
			return SYSERR(err, "cannot create %.*s", (int)plen, name);
		if (insert(x, name, plen, T_DIR, 0755 & ~x->umask, NULL) < 0)
			return -1;
	}
	return 0;
}

/* ---- the writers ---- */

static int write_all(struct kpy_xt *x, struct xfile *f, int fd, const unsigned char *p, size_t len,
		     uint64_t off, int positioned)
{
	while (len > 0) {
		ssize_t n = positioned ? pwrite(fd, p, len, (off_t)off) : write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return SYSERR(n < 0 ? errno : EIO, "cannot write %s", f->name);
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
		kpy_progress_add(x->o.progress, (uint64_t)n, 0);
	}
	return 0;
}

/* mode, mtime, close; FD is closed whatever happens */
static int finish(struct kpy_xt *x, struct xfile *f, int fd)
{
	int rv = 0;

	if (!atomic_load(&x->abort)) {
		if ((f->perm & 07777) != (f->perm & 0777 & ~x->umask) && fchmod(fd, f->perm) < 0)
			rv = SYSERR(errno, "cannot set the mode of %s", f->name);
		if (rv == 0 && f->has_mtime) {
			struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT }, f->mtime };
			if (futimens(fd, ts) < 0)
				rv = SYSERR(errno, "cannot set the time of %s", f->name);
		}
	}
	if (close(fd) < 0 && rv == 0 && !atomic_load(&x->abort))
		rv = SYSERR(errno, "cannot write %s", f->name);
	if (rv == 0)
		kpy_progress_add(x->o.progress, 0, 1);
	return rv;
}

/* a piece of a file is done (or dropped): the last one finishes and frees it */
static void piece_done(struct kpy_xt *x, struct xfile *f)
{
	if (atomic_fetch_sub(&f->pending, 1) == 1) {
		if (f->fd >= 0)
			finish(x, f, f->fd);
		free(f);
	}
}

static void run(struct kpy_xt *x, struct job *j)
{
	int skip = atomic_load(&x->failed) || atomic_load(&x->abort);

	if (j->whole) {
		struct xfile *f = j->f;
		if (!skip) {
			int fd = open_beneath(x->dirfd, f->name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
					      f->perm & 0777);
			if (fd < 0)
				open_failed(x, f->name, errno);
			else if (write_all(x, f, fd, j->p, j->len, 0, 0) < 0 ||
				 (f->size > j->len && ftruncate(fd, (off_t)f->size) < 0 &&
				  SYSERR(errno, "cannot write %s", f->name)))
				close(fd);
			else
				finish(x, f, fd);
		}
		free(f);
	} else {
		if (!skip)
			write_all(x, j->f, j->f->fd, j->p, j->len, j->off, 1);
		piece_done(x, j->f);
	}
	if (j->ref != NULL && x->o.release != NULL)
		x->o.release(x->o.release_ctx, j->ref);
	free(j->copy);
}

static void *writer(void *arg)
{
	struct kpy_xt *x = arg;
	struct job j;

	pthread_mutex_lock(&x->m);
	for (;;) {
		while (x->qlen == 0 && !x->stop)
			pthread_cond_wait(&x->work, &x->m);
		if (x->qlen == 0)
			break;
		j = x->q[x->qhead];
		x->qhead = (x->qhead + 1) % QCAP;
		x->qlen--;
		x->busy++;
		pthread_mutex_unlock(&x->m);
		run(x, &j);
		pthread_mutex_lock(&x->m);
		x->busy--;
		if (j.copy != NULL)
			x->copied -= j.len;
		pthread_cond_broadcast(&x->space);
		if (x->qlen == 0 && x->busy == 0)
			pthread_cond_broadcast(&x->idle);
	}
	pthread_mutex_unlock(&x->m);
	return NULL;
}

/* Queue J (its copy, if any, counted): waits for room; on failure J is dropped (its
 * ref released, its file's piece done) and -1 returned. */
static int submit(struct kpy_xt *x, struct job *j)
{
	pthread_mutex_lock(&x->m);
	while (!atomic_load(&x->failed) &&
	       (x->qlen == QCAP || (j->copy != NULL && x->copied > 0 && x->copied + j->len > KPY_XT_COPY_MAX)))
		pthread_cond_wait(&x->space, &x->m);
	if (atomic_load(&x->failed)) {
		pthread_mutex_unlock(&x->m);
		atomic_store(&x->abort, 1);
		run(x, j); /* skips the work, does the bookkeeping */
		return -1;
	}
	if (j->copy != NULL) {
		x->copied += j->len;
		if (x->copied > x->peak_copied)
			x->peak_copied = x->copied;
	}
	x->q[(x->qhead + x->qlen) % QCAP] = *j;
	x->qlen++;
	pthread_cond_signal(&x->work);
	pthread_mutex_unlock(&x->m);
	return 0;
}

/* ---- the entries ---- */

struct kpy_xt *kpy_xt_new(int dirfd, const struct kpy_xt_opts *o)
{
	struct kpy_xt *x = calloc(1, sizeof(*x));
	pthread_attr_t attr;
	int n = o->threads < 1 ? 1 : o->threads;

	if (x == NULL || (x->th = calloc((size_t)n, sizeof(*x->th))) == NULL) {
		free(x);
		errno = ENOMEM;
		return NULL;
	}
	x->dirfd = dirfd;
	x->o = *o;
	x->umask = kpy_current_umask();
	pthread_mutex_init(&x->m, NULL);
	pthread_cond_init(&x->work, NULL);
	pthread_cond_init(&x->space, NULL);
	pthread_cond_init(&x->idle, NULL);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 1u << 20);
	for (int i = 0; i < n; i++) {
		int err = pthread_create(&x->th[i], &attr, writer, x);
		if (err != 0) {
			pthread_attr_destroy(&attr);
			kpy_xt_free(x);
			errno = err;
			return NULL;
		}
		x->nth++;
	}
	pthread_attr_destroy(&attr);
	return x;
}

int kpy_xt_dir(struct kpy_xt *x, const char *name, mode_t perm, const struct timespec *mtime)
{
	int len;
	struct node *n;

	if (atomic_load(&x->failed) || (len = canon_or_fail(x, name, x->nbuf)) < 0)
		return -1;
	if ((n = lookup(x, x->nbuf, (size_t)len)) != NULL) {
		if (n->type != T_DIR)
			return DUP();
		/* a directory may repeat (or come after what was made for its files) */
		struct dirfix *d = &x->dirs[n->dir];
		d->mode = perm & 01777;
		d->has_mtime = mtime != NULL;
		if (mtime != NULL)
			d->mtime = *mtime;
		return 0;
	}
	if (parents(x, x->nbuf, (size_t)len, 1) < 0)
		return -1;
	if (mkdirat(x->dirfd, x->nbuf, 0700) < 0)
		return errno == EEXIST ? DUP() : SYSERR(errno, "cannot create %s", x->nbuf);
	return insert(x, x->nbuf, (size_t)len, T_DIR, perm & 01777, mtime);
}

int kpy_xt_symlink(struct kpy_xt *x, const char *name, const char *target, const struct timespec *mtime)
{
	int len;

	if (atomic_load(&x->failed) || (len = canon_or_fail(x, name, x->nbuf)) < 0)
		return -1;
	if (target == NULL || target[0] == '\0')
		return DAMAGED("it holds a symlink without a target");
	if (lookup(x, x->nbuf, (size_t)len) != NULL)
		return DUP();
	if (parents(x, x->nbuf, (size_t)len, 1) < 0)
		return -1;
	if (symlinkat(target, x->dirfd, x->nbuf) < 0)
		return errno == EEXIST ? DUP() : SYSERR(errno, "cannot create %s", x->nbuf);
	if (mtime != NULL) {
		struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT }, *mtime };
		if (utimensat(x->dirfd, x->nbuf, ts, AT_SYMLINK_NOFOLLOW) < 0)
			return SYSERR(errno, "cannot set the time of %s", x->nbuf);
	}
	kpy_progress_add(x->o.progress, 0, 1);
	return insert(x, x->nbuf, (size_t)len, T_LNK, 0, NULL);
}

int kpy_xt_hardlink(struct kpy_xt *x, const char *name, const char *target)
{
	int len, tlen;
	struct stat st;

	if (atomic_load(&x->failed) || (len = canon_or_fail(x, name, x->nbuf)) < 0 ||
	    (tlen = canon_or_fail(x, target, x->tbuf)) < 0)
		return -1;
	/* the target: a file (not one of our directories or symlinks) under directories
	 * of ours, written before */
	if (lookup(x, x->tbuf, (size_t)tlen) != NULL || parents(x, x->tbuf, (size_t)tlen, 0) < 0)
		return DAMAGED("it holds a hard link to something that is not a regular file before it");
	if (lookup(x, x->nbuf, (size_t)len) != NULL)
		return DUP();
	if (parents(x, x->nbuf, (size_t)len, 1) < 0)
		return -1;
	/* rare (kpy saves hard links as files): let the writers make the target first */
	if (kpy_xt_wait(x) < 0)
		return -1;
	if (fstatat(x->dirfd, x->tbuf, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
		return DAMAGED("it holds a hard link to something that is not a regular file before it");
	if (linkat(x->dirfd, x->tbuf, x->dirfd, x->nbuf, 0) < 0)
		return errno == EEXIST ? DUP() : SYSERR(errno, "cannot create %s", x->nbuf);
	kpy_progress_add(x->o.progress, 0, 1);
	return 0;
}

int kpy_xt_file(struct kpy_xt *x, const char *name, mode_t perm, uint64_t size, const struct timespec *mtime)
{
	int len;
	struct xfile *f;

	if (atomic_load(&x->failed) || (len = canon_or_fail(x, name, x->nbuf)) < 0)
		return -1;
	if (lookup(x, x->nbuf, (size_t)len) != NULL)
		return DUP();
	if (parents(x, x->nbuf, (size_t)len, 1) < 0)
		return -1;
	if ((f = malloc(sizeof(*f) + (size_t)len + 1)) == NULL)
		return SYSERR(ENOMEM, "out of memory");
	memcpy(f->name, x->nbuf, (size_t)len + 1);
	f->fd = -1;
	f->perm = perm & 01777;
	f->size = size;
	f->has_mtime = mtime != NULL;
	if (mtime != NULL)
		f->mtime = *mtime;
	atomic_init(&f->pending, 0);
	x->cur = f;
	x->cur_multi = x->cur_sent = 0;
	return 0;
}

int kpy_xt_data(struct kpy_xt *x, const void *p, size_t len, uint64_t off, void *ref)
{
	struct xfile *f = x->cur;
	struct job j = { .f = f, .p = p, .len = len, .off = off, .ref = ref };

	if (atomic_load(&x->failed) || f == NULL || len == 0 || x->cur_sent) {
		if (ref != NULL && x->o.release != NULL)
			x->o.release(x->o.release_ctx, ref);
		if (atomic_load(&x->failed))
			return -1;
		if (f == NULL || x->cur_sent)
			return DAMAGED("it holds data outside a file");
		return 0;
	}
	if (off > f->size || len > f->size - off) {
		if (ref != NULL && x->o.release != NULL)
			x->o.release(x->o.release_ctx, ref);
		return DAMAGED("it holds more data for %s than its size", f->name);
	}
	if (ref == NULL) {
		if ((j.copy = malloc(len)) == NULL)
			return SYSERR(ENOMEM, "out of memory");
		memcpy(j.copy, p, len);
		j.p = j.copy;
	}
	if (!x->cur_multi && off == 0 && len == f->size) {
		/* the whole file in one piece: a writer does everything */
		j.whole = 1;
		x->cur = NULL; /* the job owns it now: more data is damage */
		x->cur_sent = 1;
		return submit(x, &j);
	}
	if (!x->cur_multi) {
		/* in pieces: opened here, written at offsets, finished by the last piece */
		int fd = open_beneath(x->dirfd, f->name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
				      f->perm & 0777);
		if (fd < 0 || (f->size > 0 && ftruncate(fd, (off_t)f->size) < 0)) {
			int err = errno;
			if (fd >= 0)
				close(fd);
			free(j.copy);
			if (ref != NULL && x->o.release != NULL)
				x->o.release(x->o.release_ctx, ref);
			return fd < 0 ? open_failed(x, f->name, err) : SYSERR(err, "cannot write %s", f->name);
		}
		f->fd = fd;
		atomic_store(&f->pending, 1);
		x->cur_multi = 1;
	}
	atomic_fetch_add(&f->pending, 1);
	return submit(x, &j);
}

int kpy_xt_file_end(struct kpy_xt *x)
{
	struct xfile *f = x->cur;
	int rv = 0;

	if (f == NULL) {
		x->cur_multi = x->cur_sent = 0;
		return atomic_load(&x->failed) ? -1 : 0;
	}
	x->cur = NULL;
	if (x->cur_multi)
		piece_done(x, f); /* the reader's hold */
	else if (!x->cur_sent) {
		/* no data at all: empty (or all holes) */
		struct job j = { .f = f, .whole = 1 };
		if (atomic_load(&x->failed))
			free(f);
		else
			rv = submit(x, &j);
	}
	x->cur_multi = x->cur_sent = 0;
	return atomic_load(&x->failed) ? -1 : rv;
}

int kpy_xt_wait(struct kpy_xt *x)
{
	pthread_mutex_lock(&x->m);
	while (x->qlen > 0 || x->busy > 0)
		pthread_cond_wait(&x->idle, &x->m);
	pthread_mutex_unlock(&x->m);
	return atomic_load(&x->failed) ? -1 : 0;
}

int kpy_xt_fixup(struct kpy_xt *x)
{
	if (kpy_xt_wait(x) < 0)
		return -1;
	/* made parents first, so backwards is children first: a directory's mtime is set
	 * after everything in it, and a 0555 one is closed after its contents are done */
	for (size_t i = x->ndirs; i-- > 0;) {
		const struct dirfix *d = &x->dirs[i];
		int fd = open_beneath(x->dirfd, d->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
		if (fd < 0)
			return SYSERR(errno, "cannot open %s", d->name);
		int bad = fchmod(fd, d->mode) < 0;
		if (!bad && d->has_mtime) {
			struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT }, d->mtime };
			bad = futimens(fd, ts) < 0;
		}
		int err = errno;
		close(fd);
		if (bad)
			return SYSERR(err, "cannot set the mode or time of %s", d->name);
	}
	return 0;
}

int kpy_xt_error(const struct kpy_xt *x, int *errnum, const char **why)
{
	if (!atomic_load(&x->failed))
		return 0;
	if (errnum != NULL)
		*errnum = x->eerrno;
	if (why != NULL)
		*why = x->why;
	return x->ecode;
}

size_t kpy_xt_peak_copied(const struct kpy_xt *x)
{
	return x->peak_copied;
}

void kpy_xt_free(struct kpy_xt *x)
{
	if (x == NULL)
		return;
	pthread_mutex_lock(&x->m);
	atomic_store(&x->abort, 1);
	x->stop = 1;
	pthread_cond_broadcast(&x->work);
	pthread_mutex_unlock(&x->m);
	for (int i = 0; i < x->nth; i++)
		pthread_join(x->th[i], NULL);
	if (x->cur != NULL && x->cur_multi)
		piece_done(x, x->cur);
	else if (x->cur != NULL)
		free(x->cur);
	for (size_t i = 0; i < x->tcap; i++)
		free(x->tab[i].name);
	free(x->tab);
	free(x->dirs);
	free(x->th);
	pthread_cond_destroy(&x->work);
	pthread_cond_destroy(&x->space);
	pthread_cond_destroy(&x->idle);
	pthread_mutex_destroy(&x->m);
	free(x);
}
