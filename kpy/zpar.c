/* zpar.c: ordered parallel decoding of a seekable archive's frames as a libarchive
 * read source.
 *
 * A pool of slots, each a frame buffer. Decoder threads claim frames in index order,
 * each only once a slot is free, and decode into it; libarchive's read callback waits
 * for the next frame in order and hands out its buffer. A slot is free again once
 * libarchive has moved past it (its next read callback) and every hold on it (writer
 * threads writing straight from it) is released. Claiming in order means the frame
 * the reader waits for always has a slot: the pool cannot deadlock. */
#include "autoconfig.h"
#include "zpar.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { FREE, BUSY, READY, OUT };

struct kpy_zpar_hold {
	struct kpy_zpar *zp;
	unsigned char *data;
	size_t cap, len;
	size_t frame;
	int state;
	int refs;       /* while OUT: libarchive (until it reads on) plus the holds */
	int failed;
	struct kpy_err err;
};

struct kpy_zpar {
	int fd;
	const char *name;
	const struct kpy_zs_index *ix;
	struct kpy_zpar_hold *slots;
	size_t nslots, inuse, peak;
	size_t next_claim, next_out;
	struct kpy_zpar_hold *cur; /* what libarchive reads now */
	int stop;
	pthread_mutex_t m;
	pthread_cond_t ready, free;
	pthread_t *th;
	int nth;
	int failed;                /* the reader met a failed frame: */
	int fcode;
	char why[sizeof(((struct kpy_err *)0)->msg)];
};

static void unref(struct kpy_zpar *zp, struct kpy_zpar_hold *s)
{
	if (--s->refs == 0) {
		s->state = FREE;
		zp->inuse--;
		pthread_cond_broadcast(&zp->free);
	}
}

static struct kpy_zpar_hold *free_slot(struct kpy_zpar *zp)
{
	for (size_t i = 0; i < zp->nslots; i++)
		if (zp->slots[i].state == FREE)
			return &zp->slots[i];
	return NULL;
}

static void *decoder(void *arg)
{
	struct kpy_zpar *zp = arg;
	struct kpy_zs_dec *d = kpy_zs_dec_new();
	struct kpy_zpar_hold *s = NULL;

	pthread_mutex_lock(&zp->m);
	for (;;) {
		while (!zp->stop && zp->next_claim < zp->ix->n && (s = free_slot(zp)) == NULL)
			pthread_cond_wait(&zp->free, &zp->m);
		if (zp->stop || zp->next_claim >= zp->ix->n || s == NULL)
			break;
		s->state = BUSY;
		s->frame = zp->next_claim++;
		s->failed = 0;
		if (++zp->inuse > zp->peak)
			zp->peak = zp->inuse;
		pthread_mutex_unlock(&zp->m);

		const struct kpy_zs_frame *f = &zp->ix->frames[s->frame];
		kpy_err_clear(&s->err);
		s->len = f->dsize;
		if (d == NULL) {
			s->failed = kpy_err_set(&s->err, KPY_EFAIL, "out of memory");
		} else if (f->dsize > s->cap) {
			unsigned char *p = realloc(s->data, f->dsize);
			if (p == NULL)
				s->failed = kpy_err_set(&s->err, KPY_EFAIL,
							"out of memory for a frame of %lu bytes",
							(unsigned long)f->dsize);
			else {
				s->data = p;
				s->cap = f->dsize;
			}
		}
		if (!s->failed && kpy_zs_dec_frame(d, zp->fd, NULL, zp->ix, s->frame, s->data, &s->err) < 0)
			s->failed = -1;

		pthread_mutex_lock(&zp->m);
		s->state = READY;
		pthread_cond_broadcast(&zp->ready);
	}
	pthread_mutex_unlock(&zp->m);
	kpy_zs_dec_free(d);
	return NULL;
}

/* zseek's messages start with the file's name, "the archive: " when given none; the
 * caller names the archive itself */
static const char *strip(const char *msg)
{
	static const char pre[] = "the archive: ";
	return strncmp(msg, pre, sizeof(pre) - 1) == 0 ? msg + sizeof(pre) - 1 : msg;
}

static la_ssize_t zp_read(struct archive *a, void *data, const void **buf)
{
	struct kpy_zpar *zp = data;
	struct kpy_zpar_hold *s;

	pthread_mutex_lock(&zp->m);
	for (;;) {
		if (zp->cur != NULL) {
			unref(zp, zp->cur);
			zp->cur = NULL;
		}
		if (zp->failed) {
			pthread_mutex_unlock(&zp->m);
			archive_set_error(a, EIO, "%s", zp->why);
			return -1;
		}
		if (zp->next_out >= zp->ix->n) {
			pthread_mutex_unlock(&zp->m);
			return 0;
		}
		for (;;) {
			s = NULL;
			for (size_t i = 0; i < zp->nslots; i++)
				if (zp->slots[i].state == READY && zp->slots[i].frame == zp->next_out)
					s = &zp->slots[i];
			if (s != NULL)
				break;
			pthread_cond_wait(&zp->ready, &zp->m);
		}
		zp->next_out++;
		s->state = OUT;
		s->refs = 1;
		zp->cur = s;
		if (s->failed) {
			zp->failed = 1;
			zp->fcode = s->err.code;
			snprintf(zp->why, sizeof(zp->why), "%s", strip(s->err.msg));
			continue;
		}
		if (s->len > 0)
			break;
		/* an empty frame: decoded (checked), nothing for libarchive */
	}
	*buf = s->data;
	pthread_mutex_unlock(&zp->m);
	return (la_ssize_t)s->len;
}

struct kpy_zpar_hold *kpy_zpar_hold(struct kpy_zpar *zp, const void *p, size_t len)
{
	struct kpy_zpar_hold *s, *h = NULL;
	uintptr_t c = (uintptr_t)p;

	pthread_mutex_lock(&zp->m);
	s = zp->cur;
	if (s != NULL && c >= (uintptr_t)s->data && c - (uintptr_t)s->data <= s->len &&
	    len <= s->len - (c - (uintptr_t)s->data)) {
		s->refs++;
		h = s;
	}
	pthread_mutex_unlock(&zp->m);
	return h;
}

void kpy_zpar_release(struct kpy_zpar *zp, struct kpy_zpar_hold *h)
{
	if (h == NULL)
		return;
	pthread_mutex_lock(&zp->m);
	unref(zp, h);
	pthread_mutex_unlock(&zp->m);
}

int kpy_zpar_drain(struct archive *a, struct kpy_zpar *zp)
{
	const void *buf;
	la_ssize_t n;

	while ((n = zp_read(a, zp, &buf)) > 0)
		;
	return n < 0 ? -1 : 0;
}

const char *kpy_zpar_why(const struct kpy_zpar *zp, int *code)
{
	if (zp == NULL || !zp->failed)
		return NULL;
	if (code != NULL)
		*code = zp->fcode;
	return zp->why;
}

void kpy_zpar_stats(const struct kpy_zpar *zp, size_t *slots, size_t *peak)
{
	pthread_mutex_lock((pthread_mutex_t *)&zp->m);
	if (slots != NULL)
		*slots = zp->nslots;
	if (peak != NULL)
		*peak = zp->peak;
	pthread_mutex_unlock((pthread_mutex_t *)&zp->m);
}

static void stop(struct kpy_zpar *zp)
{
	pthread_mutex_lock(&zp->m);
	zp->stop = 1;
	pthread_cond_broadcast(&zp->free);
	pthread_mutex_unlock(&zp->m);
	for (int i = 0; i < zp->nth; i++)
		pthread_join(zp->th[i], NULL);
	zp->nth = 0;
}

void kpy_zpar_free(struct kpy_zpar *zp)
{
	if (zp == NULL)
		return;
	stop(zp);
	for (size_t i = 0; i < zp->nslots; i++)
		free(zp->slots[i].data);
	free(zp->slots);
	free(zp->th);
	pthread_cond_destroy(&zp->ready);
	pthread_cond_destroy(&zp->free);
	pthread_mutex_destroy(&zp->m);
	free(zp);
}

int kpy_zpar_open(struct archive *a, int fd, const char *name, const struct kpy_zs_index *ix,
		  int threads, struct kpy_zpar **zpp, struct kpy_err *e)
{
	struct kpy_zpar *zp;
	pthread_attr_t attr;
	size_t n, most;

	*zpp = NULL;
	if (threads < 1)
		threads = 1;
	n = 2 * (size_t)threads + 2;
	most = ix->dmax > 0 ? KPY_ZPAR_BUDGET / ix->dmax : n;
	if (n > most)
		n = most < 2 ? 2 : most;
	if ((size_t)threads > n - 1)
		threads = (int)(n - 1);
	if ((zp = calloc(1, sizeof(*zp))) == NULL ||
	    (zp->slots = calloc(n, sizeof(*zp->slots))) == NULL ||
	    (zp->th = calloc((size_t)threads, sizeof(*zp->th))) == NULL) {
		if (zp != NULL)
			free(zp->slots);
		free(zp);
		return kpy_err_set(e, KPY_EFAIL, "out of memory");
	}
	zp->fd = fd;
	zp->name = name;
	zp->ix = ix;
	zp->nslots = n;
	pthread_mutex_init(&zp->m, NULL);
	pthread_cond_init(&zp->ready, NULL);
	pthread_cond_init(&zp->free, NULL);
	pthread_attr_init(&attr);
	/* small stacks: a restore may run under an address-space limit (the plugin's) */
	pthread_attr_setstacksize(&attr, 1u << 20);
	for (int i = 0; i < threads; i++) {
		int err = pthread_create(&zp->th[i], &attr, decoder, zp);
		if (err != 0) {
			pthread_attr_destroy(&attr);
			kpy_zpar_free(zp);
			return kpy_err_sys(e, err, "cannot start a thread to decompress %s", name);
		}
		zp->nth++;
	}
	pthread_attr_destroy(&attr);
	if (archive_read_open(a, zp, NULL, zp_read, NULL) != ARCHIVE_OK) {
		const char *msg = archive_error_string(a) ? archive_error_string(a) : "cannot read";
		int err = archive_errno(a);
		/* hand ZP back: libarchive may still hold the current frame; the caller frees
		 * both (archive first) */
		*zpp = zp;
		if (!zp->failed && (err == EILSEQ || err == -1 || err == 0)) {
			zp->failed = 1;
			zp->fcode = KPY_EDAMAGED;
			snprintf(zp->why, sizeof(zp->why), "not a tar archive: %s", msg);
		}
		return kpy_err_set(e, zp->failed ? zp->fcode : KPY_EFAIL, "%s", msg);
	}
	*zpp = zp;
	return 0;
}
