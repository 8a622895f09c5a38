/* zseek_bench.c: time kpy/zseek.c's writer on a tar, against which zstd -3 -T0 is
 * compared (tests/bench/zseek.sh), and decode the result in parallel.
 *   zseek_bench [-l LEVEL] [-t THREADS] [-f FRAME_MIB] [-e] [-d DTHREADS] IN.tar OUT.zst
 * -e ends a frame at a tar entry boundary once it holds half a frame (what save would
 * do); without it frames are cut by size only. -d decodes OUT with DTHREADS threads.
 * Built by hand against a configured tree (not part of make):
 *   cc -O2 -I_build -Ikpy tests/bench/zseek_bench.c _build/kpy/.libs/libkpycore.a \
 *      -larchive -lzstd -liniparser -o zseek_bench */
#include "zseek.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static double cpu(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
	       ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Offsets of the tar's entry headers, from libarchive. */
static int64_t *entry_offsets(const char *path, size_t *n)
{
	struct archive *a = archive_read_new();
	struct archive_entry *ae;
	int64_t *v = NULL;
	size_t cap = 0;

	*n = 0;
	archive_read_support_format_tar(a);
	if (archive_read_open_filename(a, path, 1 << 16) != ARCHIVE_OK)
		return NULL;
	for (;;) {
		int64_t at = archive_read_header_position(a);
		if (archive_read_next_header(a, &ae) != ARCHIVE_OK)
			break;
		if (*n == cap && (v = realloc(v, (cap = cap ? 2 * cap : 1024) * sizeof(*v))) == NULL)
			exit(1);
		v[(*n)++] = at;
	}
	archive_read_free(a);
	return v;
}

struct job {
	const char *path;
	const struct kpy_zs_index *ix;
	size_t t, nt;
	int rv;
};

static void *decode(void *arg)
{
	struct job *j = arg;
	struct kpy_err e = KPY_ERR_INIT;
	struct kpy_zs_dec *d = kpy_zs_dec_new();
	unsigned char *buf = malloc(j->ix->dmax + 1);
	int fd = open(j->path, O_RDONLY);

	for (size_t i = j->t; j->rv == 0 && i < j->ix->n; i += j->nt)
		if (kpy_zs_dec_frame(d, fd, j->path, j->ix, i, buf, &e) < 0) {
			fprintf(stderr, "%s\n", e.msg);
			j->rv = -1;
		}
	close(fd);
	free(buf);
	kpy_zs_dec_free(d);
	return NULL;
}

int main(int argc, char **argv)
{
	int level = 3, threads = 1, by_entry = 0, dthreads = 0, o;
	size_t frame = 4u << 20, nent = 0, next = 0;
	struct kpy_err e = KPY_ERR_INIT;
	struct kpy_zs_writer *w;
	int64_t *ent = NULL;

	while ((o = getopt(argc, argv, "l:t:f:ed:")) != -1) {
		switch (o) {
		case 'l': level = atoi(optarg); break;
		case 't': threads = atoi(optarg); break;
		case 'f': frame = (size_t)atoi(optarg) << 20; break;
		case 'e': by_entry = 1; break;
		case 'd': dthreads = atoi(optarg); break;
		default: return 2;
		}
	}
	if (argc - optind != 2)
		return 2;
	if (by_entry)
		ent = entry_offsets(argv[optind], &nent);
	int in = open(argv[optind], O_RDONLY), out = open(argv[optind + 1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	static unsigned char buf[1 << 16];
	int64_t at = 0;
	ssize_t n;
	double t0 = now(), c0 = cpu();

	if (in < 0 || out < 0 || kpy_zs_open(out, level, threads, frame, &w, &e) < 0) {
		fprintf(stderr, "cannot start: %s\n", e.msg);
		return 1;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0) {
		size_t off = 0;
		while (off < (size_t)n) {
			size_t len = (size_t)n - off;
			while (next < nent && ent[next] <= at)
				next++;
			if (next < nent && ent[next] - at < (int64_t)len)
				len = (size_t)(ent[next] - at);
			if (kpy_zs_write(w, buf + off, len, &e) < 0)
				return fprintf(stderr, "%s\n", e.msg), 1;
			off += len;
			at += (int64_t)len;
			if (next < nent && ent[next] == at && kpy_zs_pending(w) >= frame / 2 &&
			    kpy_zs_end_frame(w, &e) < 0)
				return fprintf(stderr, "%s\n", e.msg), 1;
		}
	}
	if (kpy_zs_finish(w, &e) < 0)
		return fprintf(stderr, "%s\n", e.msg), 1;
	double t1 = now(), c1 = cpu();
	size_t frames;
	uint64_t bin, bout;
	kpy_zs_stats(w, &frames, &bin, &bout);
	kpy_zs_free(w);
	close(out);
	printf("level %d threads %d frame %zu MiB%s: %zu frames, %llu -> %llu bytes, %.2f s (cpu %.2f s)",
	       level, threads, frame >> 20, by_entry ? " (entry ends)" : "", frames,
	       (unsigned long long)bin, (unsigned long long)bout, t1 - t0, c1 - c0);
	if (dthreads > 0) {
		struct kpy_zs_index ix;
		int fd = open(argv[optind + 1], O_RDONLY);
		pthread_t tid[64];
		struct job jobs[64];
		double t2 = now();
		if (kpy_zs_index_read(fd, argv[optind + 1], &ix, &e) != 0)
			return fprintf(stderr, "%s\n", e.msg), 1;
		for (int t = 0; t < dthreads && t < 64; t++) {
			jobs[t] = (struct job){ argv[optind + 1], &ix, (size_t)t, (size_t)dthreads, 0 };
			pthread_create(&tid[t], NULL, decode, &jobs[t]);
		}
		for (int t = 0; t < dthreads && t < 64; t++)
			pthread_join(tid[t], NULL);
		printf(", decode on %d threads %.2f s", dthreads, now() - t2);
		kpy_zs_index_free(&ix);
		close(fd);
	}
	printf("\n");
	free(ent);
	return 0;
}
