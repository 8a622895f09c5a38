/* mkfiles: the file-creation limit of a restore. Reads a whole tree (directories,
 * files, symlinks, with modes and mtimes) into memory, then times only re-creating it
 * under DST from memory with N threads: directories first (parents first), then the
 * files and symlinks shared out by an atomic counter, big files cut into chunks
 * written with pwrite(), then mtimes as tar sets them. No compression, no archive
 * parsing: what is left is what the file system costs.
 *
 *   mkfiles [-j THREADS] SRC DST      DST must not exist
 *
 * Prints "mkfiles: F files, D dirs, L links, B bytes, T threads: S s" on stdout.
 * Built by `make bench` (tests/bench/README.md). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (8u << 20) /* files bigger than this are written by several threads */

struct ent {
	char type;	      /* 'd', 'f', 'l' */
	char *dst;	      /* full destination path */
	mode_t mode;
	struct timespec mtime;
	size_t size;
	char *data;	      /* file bytes, or the link target */
	int fd;		      /* big files: opened before the workers start */
};

struct item {
	struct ent *e;
	size_t off, len;      /* len == 0 and off == 0: the whole (small) file or link */
	int whole;
};

static struct ent *ents;
static size_t nents, cents;
static const char *src_root, *dst_root;
static struct item *items;
static size_t nitems;
static atomic_size_t next_item;
static atomic_int failed;

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (p == NULL) {
		perror("mkfiles: malloc");
		exit(1);
	}
	return p;
}

static int read_all(const char *path, char *buf, size_t n)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t got = 0;

	if (fd < 0)
		return -1;
	while (got < n) {
		ssize_t r = read(fd, buf + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			close(fd);
			return -1;
		}
		got += (size_t)r;
	}
	close(fd);
	return 0;
}

static int visit(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	struct ent e = { 0 };
	const char *rel = path + strlen(src_root);

	if (flag == FTW_D)
		e.type = 'd';
	else if (flag == FTW_F && S_ISREG(st->st_mode))
		e.type = 'f';
	else if (flag == FTW_SL)
		e.type = 'l';
	else
		return 0; /* sockets, fifos, devices: as kpy, left out */
	if (asprintf(&e.dst, "%s%s", dst_root, rel) < 0) {
		perror("mkfiles: asprintf");
		exit(1);
	}
	e.mode = st->st_mode & 07777;
	e.mtime = st->st_mtim;
	e.fd = -1;
	if (e.type == 'f') {
		e.size = (size_t)st->st_size;
		e.data = xmalloc(e.size);
		if (read_all(path, e.data, e.size) < 0) {
			fprintf(stderr, "mkfiles: read %s: %s\n", path, strerror(errno));
			exit(1);
		}
	} else if (e.type == 'l') {
		e.data = xmalloc((size_t)st->st_size + 1);
		ssize_t n = readlink(path, e.data, (size_t)st->st_size + 1);
		if (n < 0 || n > st->st_size) {
			fprintf(stderr, "mkfiles: readlink %s failed\n", path);
			exit(1);
		}
		e.data[n] = '\0';
	}
	if (nents == cents) {
		cents = cents ? cents * 2 : 4096;
		ents = realloc(ents, cents * sizeof(*ents));
		if (ents == NULL) {
			perror("mkfiles: realloc");
			exit(1);
		}
	}
	ents[nents++] = e;
	return 0;
}

static int pwrite_all(int fd, const char *p, size_t n, off_t off)
{
	while (n > 0) {
		ssize_t w = pwrite(fd, p, n, off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w, n -= (size_t)w, off += w;
	}
	return 0;
}

static void fail(const char *what, const char *path)
{
	fprintf(stderr, "mkfiles: %s %s: %s\n", what, path, strerror(errno));
	atomic_store(&failed, 1);
}

static void *worker(void *arg)
{
	size_t i;

	(void)arg;
	while ((i = atomic_fetch_add(&next_item, 1)) < nitems) {
		struct item *it = &items[i];
		struct ent *e = it->e;

		if (!it->whole) {
			if (pwrite_all(e->fd, e->data + it->off, it->len, (off_t)it->off) < 0)
				fail("write", e->dst);
			continue;
		}
		if (e->type == 'l') {
			if (symlink(e->data, e->dst) < 0)
				fail("symlink", e->dst);
			continue;
		}
		int fd = open(e->dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, e->mode);
		if (fd < 0) {
			fail("create", e->dst);
			continue;
		}
		struct timespec ts[2] = { e->mtime, e->mtime };
		if (pwrite_all(fd, e->data, e->size, 0) < 0 || futimens(fd, ts) < 0)
			fail("write", e->dst);
		if (close(fd) < 0)
			fail("close", e->dst);
	}
	return NULL;
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	long threads = sysconf(_SC_NPROCESSORS_ONLN);
	size_t i, nfiles = 0, ndirs = 0, nlinks = 0, bytes = 0;
	int c;

	while ((c = getopt(argc, argv, "j:")) != -1) {
		if (c != 'j' || (threads = strtol(optarg, NULL, 10)) < 1) {
			fprintf(stderr, "usage: mkfiles [-j THREADS] SRC DST\n");
			return 2;
		}
	}
	if (argc - optind != 2) {
		fprintf(stderr, "usage: mkfiles [-j THREADS] SRC DST\n");
		return 2;
	}
	src_root = argv[optind];
	dst_root = argv[optind + 1];
	if (access(dst_root, F_OK) == 0) {
		fprintf(stderr, "mkfiles: %s exists\n", dst_root);
		return 1;
	}
	if (nftw(src_root, visit, 64, FTW_PHYS) < 0) {
		fprintf(stderr, "mkfiles: walk %s: %s\n", src_root, strerror(errno));
		return 1;
	}
	for (i = 0; i < nents; i++) {
		struct ent *e = &ents[i];
		ndirs += e->type == 'd';
		nlinks += e->type == 'l';
		if (e->type == 'f') {
			nfiles++;
			bytes += e->size;
			nitems += e->size > CHUNK ? (e->size + CHUNK - 1) / CHUNK : 1;
		} else if (e->type == 'l') {
			nitems++;
		}
	}
	items = xmalloc(nitems * sizeof(*items));
	/* big-file chunks first, so they spread over the threads; then the rest */
	size_t k = 0;
	for (i = 0; i < nents; i++) {
		struct ent *e = &ents[i];
		if (e->type == 'f' && e->size > CHUNK)
			for (size_t off = 0; off < e->size; off += CHUNK)
				items[k++] = (struct item){ e, off, e->size - off < CHUNK ? e->size - off : CHUNK, 0 };
	}
	for (i = 0; i < nents; i++) {
		struct ent *e = &ents[i];
		if ((e->type == 'f' && e->size <= CHUNK) || e->type == 'l')
			items[k++] = (struct item){ e, 0, 0, 1 };
	}
	pthread_t *tids = xmalloc((size_t)threads * sizeof(*tids));
	umask(0);

	double t0 = now();
	for (i = 0; i < nents; i++) { /* nftw gives parents before children */
		struct ent *e = &ents[i];
		if (e->type == 'd' && mkdir(e->dst, 0700) < 0) {
			fail("mkdir", e->dst);
			return 1;
		}
		if (e->type == 'f' && e->size > CHUNK &&
		    (e->fd = open(e->dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, e->mode)) < 0) {
			fail("create", e->dst);
			return 1;
		}
	}
	for (long t = 0; t < threads; t++)
		if (pthread_create(&tids[t], NULL, worker, NULL) != 0) {
			fprintf(stderr, "mkfiles: pthread_create failed\n");
			return 1;
		}
	for (long t = 0; t < threads; t++)
		pthread_join(tids[t], NULL);
	for (i = nents; i-- > 0;) { /* big files closed; directories' modes and mtimes last, deepest first */
		struct ent *e = &ents[i];
		struct timespec ts[2] = { e->mtime, e->mtime };
		if (e->fd >= 0 && (futimens(e->fd, ts) < 0 || close(e->fd) < 0))
			fail("close", e->dst);
		if (e->type == 'd' && (chmod(e->dst, e->mode) < 0 || utimensat(AT_FDCWD, e->dst, ts, 0) < 0))
			fail("chmod", e->dst);
	}
	double t1 = now();

	if (atomic_load(&failed))
		return 1;
	printf("mkfiles: %zu files, %zu dirs, %zu links, %zu bytes, %ld threads: %.3f s\n",
	       nfiles, ndirs, nlinks, bytes, threads, t1 - t0);
	return 0;
}
