/* zseek.c: zstd's seekable format: a threaded writer of independent frames with a seek
 * table, the table's reader, and a frame decoder (see zseek.h). */
#include "autoconfig.h"
#include "zseek.h"
#include "buf.h"
#include "fdio.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#define SKIPPABLE_MAGIC 0x184D2A5Eu
#define SEEKABLE_MAGIC 0x8F92EAB1u
#define ZSTD_MAGIC 0xFD2FB528u
#define FOOTER_SIZE 9
#define SKIP_HEADER 8
#define DESC_CHECKSUM 0x80u
#define DESC_RESERVED 0x7Cu /* bits 2-6; bits 0-1 are unused, left alone */

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

/* --- writer --- */

/* A frame's buffers. Frame number s lives in slot s % nslots; its state follows from
 * the writer's counters (filling: s == submitted; queued or compressing: taken..;
 * written: s < head) and from done. */
struct slot {
	unsigned char *in, *out;
	size_t in_len, out_len;
	size_t zr;    /* what ZSTD_compress2 returned */
	int done;     /* compressed, not yet written */
};

struct entry {
	uint32_t csize, dsize, checksum;
};

struct worker {
	struct kpy_zs_writer *w;
	ZSTD_CCtx *cctx;
	pthread_t tid;
	int started;
};

struct kpy_zs_writer {
	int fd;
	size_t frame_max, out_cap;
	struct slot *slots;
	size_t nslots;
	struct worker *workers;
	int nworkers;
	pthread_mutex_t mu;
	pthread_cond_t work, done;
	int sync_ok;           /* mu and the conds were initialized */
	int stop;              /* workers exit */
	/* frame numbers: head..submitted-1 are handed to the workers (those from taken
	 * on not yet picked up), submitted is being filled */
	size_t head, taken, submitted;
	struct entry *ent;     /* one per frame written */
	size_t nent, ent_cap;
	uint64_t in_total, out_total;
	int failed, finished;
	struct kpy_err err;    /* the first failure, repeated to every later call */
};

static int w_fail(struct kpy_zs_writer *w, struct kpy_err *e)
{
	w->failed = 1;
	return kpy_err_set(e, w->err.code, "%s", w->err.msg);
}

static void *worker_main(void *arg)
{
	struct worker *k = arg;
	struct kpy_zs_writer *w = k->w;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->stop && w->taken == w->submitted)
			pthread_cond_wait(&w->work, &w->mu);
		if (w->stop)
			break;
		struct slot *s = &w->slots[w->taken % w->nslots];
		w->taken++;
		pthread_mutex_unlock(&w->mu);
		s->zr = ZSTD_compress2(k->cctx, s->out, w->out_cap, s->in, s->in_len);
		pthread_mutex_lock(&w->mu);
		s->done = 1;
		pthread_cond_broadcast(&w->done);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* Write frame w->head to FD (waiting for it when WAIT, else only if it is done): 1 if
 * written, 0 if not done yet, -1 on failure (w->err set). */
static int write_head(struct kpy_zs_writer *w, int wait)
{
	struct slot *s = &w->slots[w->head % w->nslots];
	struct entry *ent;

	pthread_mutex_lock(&w->mu);
	while (wait && !s->done)
		pthread_cond_wait(&w->done, &w->mu);
	int done = s->done;
	pthread_mutex_unlock(&w->mu);
	if (!done)
		return 0;
	/* the worker set done under mu and touches the slot no more: it is ours */
	if (ZSTD_isError(s->zr))
		return kpy_err_set(&w->err, KPY_EFAIL, "zstd cannot compress: %s", ZSTD_getErrorName(s->zr));
	s->out_len = s->zr;
	if (s->out_len < 4 || s->out_len > UINT32_MAX)
		return kpy_err_set(&w->err, KPY_EFAIL, "zstd made a frame of %zu bytes", s->out_len);
	if (w->nent >= KPY_ZS_MAX_FRAMES)
		return kpy_err_set(&w->err, KPY_EFAIL, "more than %u frames", KPY_ZS_MAX_FRAMES);
	ent = kpy_grow(w->ent, &w->ent_cap, w->nent, sizeof(*w->ent), 64);
	if (ent == NULL)
		return kpy_err_set(&w->err, KPY_EFAIL, "out of memory");
	w->ent = ent;
	if (kpy_write_full(w->fd, s->out, s->out_len) < 0)
		return kpy_err_sys(&w->err, errno, "cannot write the compressed data");
	/* zstd's content checksum, the frame's last 4 bytes, is by definition the low 32
	 * bits of XXH64 of the data: just what the seek table wants */
	ent[w->nent].csize = (uint32_t)s->out_len;
	ent[w->nent].dsize = (uint32_t)s->in_len;
	ent[w->nent].checksum = get32(s->out + s->out_len - 4);
	w->nent++;
	w->in_total += s->in_len;
	w->out_total += s->out_len;
	s->in_len = 0;
	s->done = 0;
	w->head++;
	return 1;
}

/* Hand the frame being filled to the workers (if it holds anything), and write the
 * finished frames that are next in line. */
static int submit(struct kpy_zs_writer *w)
{
	struct slot *s = &w->slots[w->submitted % w->nslots];
	int r;

	if (s->in_len == 0)
		return 0;
	pthread_mutex_lock(&w->mu);
	w->submitted++;
	pthread_cond_signal(&w->work);
	pthread_mutex_unlock(&w->mu);
	while (w->head < w->submitted && (r = write_head(w, 0)) != 0)
		if (r < 0)
			return -1;
	return 0;
}

/* The slot to fill: the next one, once the frame that used it last is written. */
static struct slot *fill_slot(struct kpy_zs_writer *w)
{
	while (w->submitted - w->head >= w->nslots)
		if (write_head(w, 1) < 0)
			return NULL;
	return &w->slots[w->submitted % w->nslots];
}

int kpy_zs_write(struct kpy_zs_writer *w, const void *buf, size_t len, struct kpy_err *e)
{
	const unsigned char *p = buf;

	if (w->failed || w->finished)
		return w->failed ? w_fail(w, e) : kpy_err_set(e, KPY_EFAIL, "write after the seek table");
	while (len > 0) {
		struct slot *s = fill_slot(w);
		if (s == NULL)
			return w_fail(w, e);
		size_t n = w->frame_max - s->in_len;
		if (n > len)
			n = len;
		memcpy(s->in + s->in_len, p, n);
		s->in_len += n;
		p += n;
		len -= n;
		if (s->in_len == w->frame_max && submit(w) < 0)
			return w_fail(w, e);
	}
	return 0;
}

int kpy_zs_end_frame(struct kpy_zs_writer *w, struct kpy_err *e)
{
	if (w->failed)
		return w_fail(w, e);
	if (!w->finished && w->submitted - w->head < w->nslots && submit(w) < 0)
		return w_fail(w, e);
	return 0;
}

size_t kpy_zs_pending(const struct kpy_zs_writer *w)
{
	if (w->finished || w->submitted - w->head >= w->nslots)
		return 0; /* the next byte starts a frame in a slot not free yet */
	return w->slots[w->submitted % w->nslots].in_len;
}

static int write_table(struct kpy_zs_writer *w)
{
	size_t esz = 12, body = w->nent * esz + FOOTER_SIZE, len = SKIP_HEADER + body;
	unsigned char *t = malloc(len), *p;
	int rv = -1;

	if (t == NULL)
		return kpy_err_set(&w->err, KPY_EFAIL, "out of memory");
	put32(t, SKIPPABLE_MAGIC);
	put32(t + 4, (uint32_t)body); /* at most KPY_ZS_MAX_FRAMES * 12 + 9 */
	p = t + SKIP_HEADER;
	for (size_t i = 0; i < w->nent; i++, p += esz) {
		put32(p, w->ent[i].csize);
		put32(p + 4, w->ent[i].dsize);
		put32(p + 8, w->ent[i].checksum);
	}
	put32(p, (uint32_t)w->nent);
	p[4] = DESC_CHECKSUM;
	put32(p + 5, SEEKABLE_MAGIC);
	if (kpy_write_full(w->fd, t, len) < 0)
		kpy_err_sys(&w->err, errno, "cannot write the seek table");
	else
		rv = 0;
	w->out_total += len;
	free(t);
	return rv;
}

int kpy_zs_finish(struct kpy_zs_writer *w, struct kpy_err *e)
{
	if (w->failed)
		return w_fail(w, e);
	if (w->finished)
		return 0;
	if (fill_slot(w) == NULL || submit(w) < 0)
		return w_fail(w, e);
	while (w->head < w->submitted)
		if (write_head(w, 1) < 0)
			return w_fail(w, e);
	if (write_table(w) < 0)
		return w_fail(w, e);
	w->finished = 1;
	return 0;
}

void kpy_zs_stats(const struct kpy_zs_writer *w, size_t *frames, uint64_t *in, uint64_t *out)
{
	if (frames != NULL)
		*frames = w->nent;
	if (in != NULL)
		*in = w->in_total;
	if (out != NULL)
		*out = w->out_total;
}

void kpy_zs_free(struct kpy_zs_writer *w)
{
	if (w == NULL)
		return;
	if (w->sync_ok) {
		pthread_mutex_lock(&w->mu);
		w->stop = 1;
		pthread_cond_broadcast(&w->work);
		pthread_mutex_unlock(&w->mu);
	}
	for (int i = 0; w->workers != NULL && i < w->nworkers; i++) {
		if (w->workers[i].started)
			pthread_join(w->workers[i].tid, NULL);
		ZSTD_freeCCtx(w->workers[i].cctx);
	}
	if (w->sync_ok) {
		pthread_cond_destroy(&w->work);
		pthread_cond_destroy(&w->done);
		pthread_mutex_destroy(&w->mu);
	}
	for (size_t i = 0; w->slots != NULL && i < w->nslots; i++) {
		free(w->slots[i].in);
		free(w->slots[i].out);
	}
	free(w->slots);
	free(w->workers);
	free(w->ent);
	free(w);
}

int kpy_zs_open(int fd, int level, int threads, size_t frame_max, struct kpy_zs_writer **wp,
		struct kpy_err *e)
{
	struct kpy_zs_writer *w;
	int rv = -1;

	*wp = NULL;
	if (frame_max == 0)
		frame_max = KPY_ZS_FRAME_DEFAULT;
	if (frame_max > KPY_ZS_FRAME_LIMIT)
		return kpy_err_set(e, KPY_EINVAL, "a frame of %zu bytes is more than the %u allowed",
				   frame_max, KPY_ZS_FRAME_LIMIT);
	if (level < ZSTD_minCLevel() || level > ZSTD_maxCLevel())
		return kpy_err_set(e, KPY_EINVAL, "zstd level %d is not between %d and %d", level,
				   ZSTD_minCLevel(), ZSTD_maxCLevel());
	if (threads < 1)
		threads = 1;
	if (threads > 256)
		threads = 256;
	/* at most 2^27 (128 MiB): what zstd -d and libarchive decode without being told
	 * to allow more memory (a frame of known size gets a window of its size) */
	int wlog = 10; /* ZSTD_WINDOWLOG_MIN */
	while (((size_t)1 << wlog) < frame_max && wlog < 27)
		wlog++;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return kpy_err_set(e, KPY_EFAIL, "out of memory");
	w->fd = fd;
	w->frame_max = frame_max;
	w->out_cap = ZSTD_compressBound(frame_max);
	/* two buffers a thread: each thread compresses one while the caller fills the
	 * next, and a slow frame at the head does not idle the others at once */
	w->nslots = 2 * (size_t)threads;
	w->nworkers = threads;
	w->slots = calloc(w->nslots, sizeof(*w->slots));
	w->workers = calloc((size_t)threads, sizeof(*w->workers));
	if (w->slots == NULL || w->workers == NULL)
		goto oom;
	for (size_t i = 0; i < w->nslots; i++)
		if ((w->slots[i].in = malloc(frame_max)) == NULL ||
		    (w->slots[i].out = malloc(w->out_cap)) == NULL)
			goto oom;
	for (int i = 0; i < threads; i++) {
		ZSTD_CCtx *c = ZSTD_createCCtx();
		w->workers[i].w = w;
		w->workers[i].cctx = c;
		if (c == NULL)
			goto oom;
		ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, level);
		ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
		ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, 1);
		/* a window over the whole frame: matches reach back to its start, which wins
		 * back what cutting the stream into frames costs (zstd -3 streams with a
		 * 2 MiB window) */
		ZSTD_CCtx_setParameter(c, ZSTD_c_windowLog, wlog);
	}
	if (pthread_mutex_init(&w->mu, NULL) != 0)
		goto oom;
	if (pthread_cond_init(&w->work, NULL) != 0) {
		pthread_mutex_destroy(&w->mu);
		goto oom;
	}
	if (pthread_cond_init(&w->done, NULL) != 0) {
		pthread_cond_destroy(&w->work);
		pthread_mutex_destroy(&w->mu);
		goto oom;
	}
	w->sync_ok = 1;
	for (int i = 0; i < threads; i++) {
		int r = pthread_create(&w->workers[i].tid, NULL, worker_main, &w->workers[i]);
		if (r != 0) {
			kpy_err_sys(e, r, "cannot start a compression thread");
			goto fail;
		}
		w->workers[i].started = 1;
	}
	*wp = w;
	return 0;
oom:
	kpy_err_set(e, KPY_EFAIL, "out of memory");
fail:
	kpy_zs_free(w);
	return rv;
}

/* --- under libarchive --- */

static la_ssize_t zs_archive_write(struct archive *a, void *data, const void *buf, size_t len)
{
	struct kpy_zs_writer *w = data;
	struct kpy_err e = KPY_ERR_INIT;

	if (kpy_zs_write(w, buf, len, &e) < 0) {
		/* a full disk stays one for the caller's archive_errno */
		archive_set_error(a, e.code == KPY_ENOSPC ? ENOSPC : EIO, "%s", e.msg);
		return -1;
	}
	return (la_ssize_t)len;
}

static int zs_archive_close(struct archive *a, void *data)
{
	struct kpy_zs_writer *w = data;
	struct kpy_err e = KPY_ERR_INIT;

	if (kpy_zs_finish(w, &e) < 0) {
		archive_set_error(a, EIO, "%s", e.msg);
		return ARCHIVE_FATAL;
	}
	return ARCHIVE_OK;
}

int kpy_zs_archive_open(struct archive *a, struct kpy_zs_writer *w, struct kpy_err *e)
{
	archive_write_set_bytes_per_block(a, 0);
	if (archive_write_open2(a, w, NULL, zs_archive_write, zs_archive_close, NULL) != ARCHIVE_OK)
		return kpy_err_set(e, KPY_EFAIL, "cannot start the archive: %s",
				   archive_error_string(a) ? archive_error_string(a) : "libarchive failed");
	return 0;
}

/* --- reader --- */

static const char *nm(const char *name)
{
	return name != NULL ? name : "the archive";
}

/* Read exactly N bytes at OFF: 0, or -1 with E set (a short read is damage: the file
 * shrank under us). */
static int pread_all(int fd, void *buf, size_t n, uint64_t off, const char *name, struct kpy_err *e)
{
	unsigned char *p = buf;

	while (n > 0) {
		ssize_t k = pread(fd, p, n, (off_t)off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return kpy_err_sys(e, errno, "cannot read %s", nm(name));
		if (k == 0)
			return kpy_err_set(e, KPY_EDAMAGED, "%s ends early (at byte %llu)", nm(name),
					   (unsigned long long)off);
		p += k;
		n -= (size_t)k;
		off += (uint64_t)k;
	}
	return 0;
}

#define DAMAGED(...) kpy_err_set(e, KPY_EDAMAGED, __VA_ARGS__)

int kpy_zs_index_read(int fd, const char *name, struct kpy_zs_index *ix, struct kpy_err *e)
{
	unsigned char foot[FOOTER_SIZE], head[SKIP_HEADER], *chunk = NULL;
	struct kpy_zs_frame *fr = NULL;
	struct stat st;
	uint64_t size, n, esz, body, table_off, coff = 0, doff = 0;
	uint32_t dmax = 0;
	int rv = -1;

	memset(ix, 0, sizeof(*ix));
	if (fstat(fd, &st) < 0)
		return kpy_err_sys(e, errno, "cannot read %s", nm(name));
	if (!S_ISREG(st.st_mode) || st.st_size < FOOTER_SIZE)
		return KPY_ZS_NOINDEX;
	size = (uint64_t)st.st_size;
	if (pread_all(fd, foot, FOOTER_SIZE, size - FOOTER_SIZE, name, e) < 0)
		return -1;
	if (get32(foot + 5) != SEEKABLE_MAGIC)
		return KPY_ZS_NOINDEX;
	if (foot[4] & DESC_RESERVED)
		return DAMAGED("%s: the seek table uses a format kpy does not know (descriptor 0x%02x)",
			       nm(name), foot[4]);
	n = get32(foot);
	esz = foot[4] & DESC_CHECKSUM ? 12 : 8;
	if (n > KPY_ZS_MAX_FRAMES)
		return DAMAGED("%s: the seek table claims %llu frames, more than the %u allowed",
			       nm(name), (unsigned long long)n, KPY_ZS_MAX_FRAMES);
	body = n * esz + FOOTER_SIZE; /* no overflow: n is small */
	/* every frame takes at least one byte besides its entry, which bounds the memory
	 * a hostile count can ask for by the file's size */
	if (SKIP_HEADER + body + n > size)
		return DAMAGED("%s: the seek table claims %llu frames, more than a file of %llu bytes can hold",
			       nm(name), (unsigned long long)n, (unsigned long long)size);
	table_off = size - SKIP_HEADER - body;
	if (pread_all(fd, head, SKIP_HEADER, table_off, name, e) < 0)
		return -1;
	if (get32(head) != SKIPPABLE_MAGIC)
		return DAMAGED("%s: the seek table of %llu frames does not start with a skippable frame",
			       nm(name), (unsigned long long)n);
	if (get32(head + 4) != body)
		return DAMAGED("%s: the seek table frame is %lu bytes, but %llu frames take %llu",
			       nm(name), (unsigned long)get32(head + 4), (unsigned long long)n,
			       (unsigned long long)body);
	/* one spare, so that an empty table is not a NULL the loop below might index */
	if ((fr = calloc((size_t)n + 1, sizeof(*fr))) == NULL)
		return kpy_err_set(e, KPY_EFAIL, "out of memory for a seek table of %llu frames",
				   (unsigned long long)n);
	/* the entries, a chunk of whole entries at a time */
	size_t per = 5400;
	if ((chunk = calloc(per, (size_t)esz)) == NULL) {
		kpy_err_set(e, KPY_EFAIL, "out of memory");
		goto out;
	}
	for (uint64_t i = 0; i < n;) {
		size_t k = n - i < per ? (size_t)(n - i) : per;
		if (pread_all(fd, chunk, k * (size_t)esz, table_off + SKIP_HEADER + i * esz, name, e) < 0)
			goto out;
		for (size_t j = 0; j < k; j++, i++) {
			const unsigned char *p = chunk + j * (size_t)esz;
			struct kpy_zs_frame *f = &fr[i];
			f->coff = coff;
			f->doff = doff;
			f->csize = get32(p);
			f->dsize = get32(p + 4);
			f->checksum = esz == 12 ? get32(p + 8) : 0;
			if (f->csize == 0) {
				DAMAGED("%s: frame %llu of the seek table has no bytes", nm(name),
					(unsigned long long)i);
				goto out;
			}
			if (f->dsize > KPY_ZS_FRAME_LIMIT) {
				DAMAGED("%s: frame %llu claims %lu bytes, more than the %u allowed", nm(name),
					(unsigned long long)i, (unsigned long)f->dsize, KPY_ZS_FRAME_LIMIT);
				goto out;
			}
			/* no zstd frame is bigger than compressBound of its data, nor holds
			 * more than 128 KiB for every 4 bytes (an RLE block) */
			if (f->csize > ZSTD_compressBound(f->dsize) ||
			    (uint64_t)f->dsize > (uint64_t)f->csize * 32768) {
				DAMAGED("%s: frame %llu claims %lu bytes of data in %lu compressed bytes, which no zstd frame holds",
					nm(name), (unsigned long long)i, (unsigned long)f->dsize,
					(unsigned long)f->csize);
				goto out;
			}
			coff += f->csize;
			doff += f->dsize;
			if (coff > table_off) {
				DAMAGED("%s: frame %llu of the seek table ends at byte %llu, past the table at %llu",
					nm(name), (unsigned long long)i, (unsigned long long)coff,
					(unsigned long long)table_off);
				goto out;
			}
			if (f->dsize > dmax)
				dmax = f->dsize;
		}
	}
	if (coff != table_off) {
		DAMAGED("%s: the seek table's %llu frames end at byte %llu, but the table starts at %llu",
			nm(name), (unsigned long long)n, (unsigned long long)coff,
			(unsigned long long)table_off);
		goto out;
	}
	if (n == 0) {
		free(fr);
		fr = NULL;
	}
	ix->frames = fr;
	ix->n = (size_t)n;
	ix->checksums = esz == 12;
	ix->dsize = doff;
	ix->table_off = table_off;
	ix->dmax = dmax;
	fr = NULL;
	rv = 0;
out:
	free(chunk);
	free(fr);
	return rv;
}

void kpy_zs_index_free(struct kpy_zs_index *ix)
{
	free(ix->frames);
	memset(ix, 0, sizeof(*ix));
}

/* --- frame decoder --- */

struct kpy_zs_dec {
	ZSTD_DCtx *dctx;
	unsigned char *in;
	size_t cap;
};

struct kpy_zs_dec *kpy_zs_dec_new(void)
{
	struct kpy_zs_dec *d = calloc(1, sizeof(*d));

	if (d != NULL && (d->dctx = ZSTD_createDCtx()) == NULL) {
		free(d);
		d = NULL;
	}
	return d;
}

void kpy_zs_dec_free(struct kpy_zs_dec *d)
{
	if (d == NULL)
		return;
	ZSTD_freeDCtx(d->dctx);
	free(d->in);
	free(d);
}

int kpy_zs_dec_frame(struct kpy_zs_dec *d, int fd, const char *name, const struct kpy_zs_index *ix,
		     size_t idx, void *dst, struct kpy_err *e)
{
	const struct kpy_zs_frame *f;
	unsigned long long i = idx, fcs;
	size_t r;

	if (idx >= ix->n)
		return kpy_err_set(e, KPY_EINVAL, "%s has no frame %llu", nm(name), i);
	f = &ix->frames[idx];

	if (f->csize > d->cap) {
		unsigned char *p = realloc(d->in, f->csize);
		if (p == NULL)
			return kpy_err_set(e, KPY_EFAIL, "out of memory for a frame of %lu bytes",
					   (unsigned long)f->csize);
		d->in = p;
		d->cap = f->csize;
	}
	if (pread_all(fd, d->in, f->csize, f->coff, name, e) < 0)
		return -1;
	/* the header must say what the table says: a zstd frame (magic, then the frame
	 * header descriptor, whose bit 2 is the content checksum flag) of F->dsize bytes
	 * that ends exactly at the next frame */
	if (f->csize < 5 || get32(d->in) != ZSTD_MAGIC)
		return DAMAGED("%s: frame %llu (at byte %llu) is not a zstd frame", nm(name), i,
			       (unsigned long long)f->coff);
	if (!(d->in[4] & 0x04))
		return DAMAGED("%s: frame %llu has no content checksum", nm(name), i);
	fcs = ZSTD_getFrameContentSize(d->in, f->csize);
	if (fcs == ZSTD_CONTENTSIZE_UNKNOWN || fcs == ZSTD_CONTENTSIZE_ERROR)
		return DAMAGED("%s: frame %llu does not say its size (the seek table says %lu bytes)",
			       nm(name), i, (unsigned long)f->dsize);
	if (fcs != f->dsize)
		return DAMAGED("%s: frame %llu holds %llu bytes, the seek table says %lu", nm(name), i,
			       fcs, (unsigned long)f->dsize);
	r = ZSTD_findFrameCompressedSize(d->in, f->csize);
	if (ZSTD_isError(r))
		return DAMAGED("%s: frame %llu is cut short or corrupt: zstd says: %s", nm(name), i,
			       ZSTD_getErrorName(r));
	if (r != f->csize)
		return DAMAGED("%s: frame %llu ends after %zu bytes, the seek table says %lu", nm(name), i,
			       r, (unsigned long)f->csize);
	if (ix->checksums && get32(d->in + f->csize - 4) != f->checksum)
		return DAMAGED("%s: frame %llu has checksum %08lx, the seek table says %08lx", nm(name), i,
			       (unsigned long)get32(d->in + f->csize - 4), (unsigned long)f->checksum);
	/* zstd checks the data against the frame's checksum (verified above to be the
	 * table's) */
	r = ZSTD_decompressDCtx(d->dctx, dst, f->dsize, d->in, f->csize);
	if (ZSTD_isError(r))
		return DAMAGED("%s: frame %llu is corrupt: zstd says: %s", nm(name), i, ZSTD_getErrorName(r));
	if (r != f->dsize)
		return DAMAGED("%s: frame %llu gives %zu bytes, the seek table says %lu", nm(name), i, r,
			       (unsigned long)f->dsize);
	return 0;
}
