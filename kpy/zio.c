/* zio.c: zstd compression and decompression as libarchive client callbacks. */
#include "autoconfig.h"
#include "zio.h"
#include "fdio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

struct kpy_zw {
	int fd;
	ZSTD_CCtx *cctx;
	void *out;
	size_t out_size;
	int err;       /* errno of a failed write, -1 for a zstd error, 0 */
	char why[128]; /* what failed */
	int ended;     /* the frame was ended and every byte written */
};

static int zw_push(struct archive *a, struct kpy_zw *zw, const void *buf, size_t len,
		   ZSTD_EndDirective mode)
{
	ZSTD_inBuffer in = { buf, len, 0 };

	for (;;) {
		ZSTD_outBuffer out = { zw->out, zw->out_size, 0 };
		size_t r = ZSTD_compressStream2(zw->cctx, &out, &in, mode);
		if (ZSTD_isError(r)) {
			zw->err = -1;
			snprintf(zw->why, sizeof(zw->why), "zstd: %s", ZSTD_getErrorName(r));
			archive_set_error(a, EIO, "%s", zw->why);
			return -1;
		}
		if (out.pos > 0 && kpy_write_full(zw->fd, zw->out, out.pos) < 0) {
			zw->err = errno ? errno : EIO;
			snprintf(zw->why, sizeof(zw->why), "write failed");
			archive_set_error(a, zw->err, "write failed");
			return -1;
		}
		if (mode == ZSTD_e_end ? r == 0 : in.pos == in.size)
			return 0;
	}
}

/* A failed write is kept in zw->err (kpy_zw_failed, kpy_zw_close report it) and the
 * bytes are taken as written: an archive whose writer failed goes fatal, and
 * libarchive 3.6 then frees it without closing its client filter, leaking that
 * filter's state (valgrind showed it for a save into a full pipdir). */
static la_ssize_t zw_write(struct archive *a, void *data, const void *buf, size_t len)
{
	struct kpy_zw *zw = data;

	if (zw->err == 0)
		zw_push(a, zw, buf, len, ZSTD_e_continue);
	return (la_ssize_t)len;
}

int kpy_zw_failed(const struct kpy_zw *zw)
{
	return zw->err != 0;
}

static int zw_close(struct archive *a, void *data)
{
	struct kpy_zw *zw = data;

	if (zw->err != 0 || zw_push(a, zw, NULL, 0, ZSTD_e_end) < 0)
		return ARCHIVE_FATAL;
	zw->ended = 1;
	return ARCHIVE_OK;
}

static int zw_free(struct archive *a, void *data)
{
	struct kpy_zw *zw = data;

	(void)a;
	ZSTD_freeCCtx(zw->cctx);
	free(zw->out);
	free(zw);
	return ARCHIVE_OK;
}

int kpy_zw_open(struct archive *a, int fd, int level, int threads, struct kpy_zw **zwp,
		struct kpy_err *e)
{
	struct kpy_zw *zw = calloc(1, sizeof(*zw));

	if (zw == NULL)
		return kpy_err_set(e, KPY_EFAIL, "out of memory");
	zw->fd = fd;
	zw->cctx = ZSTD_createCCtx();
	zw->out_size = ZSTD_CStreamOutSize();
	zw->out = malloc(zw->out_size);
	if (zw->cctx == NULL || zw->out == NULL) {
		zw_free(a, zw);
		return kpy_err_set(e, KPY_EFAIL, "out of memory");
	}
	ZSTD_CCtx_setParameter(zw->cctx, ZSTD_c_compressionLevel, level);
	ZSTD_CCtx_setParameter(zw->cctx, ZSTD_c_checksumFlag, 1);
	if (threads > 1)
		ZSTD_CCtx_setParameter(zw->cctx, ZSTD_c_nbWorkers, threads); /* ignored if unsupported */
	if (archive_write_open2(a, zw, NULL, zw_write, zw_close, zw_free) != ARCHIVE_OK)
		return kpy_err_set(e, KPY_EFAIL, "cannot start the archive: %s", archive_error_string(a));
	if (zwp != NULL)
		*zwp = zw;
	return 0;
}

int kpy_zw_close(struct archive *a, struct kpy_zw *zw, const char *path, struct kpy_err *e)
{
	int r = archive_write_close(a);

	if (zw->err > 0)
		return kpy_err_sys(e, zw->err, "cannot write %s", path);
	if (zw->err < 0)
		return kpy_err_set(e, KPY_EFAIL, "cannot write %s (%s)", path, zw->why);
	if (r != ARCHIVE_OK || !zw->ended)
		return kpy_err_sys(e, archive_errno(a) > 0 ? archive_errno(a) : EIO,
				   "cannot write %s (%s)", path,
				   archive_error_string(a) ? archive_error_string(a) : "the archive was not finished");
	return 0;
}

static void zr_damaged(struct archive *a, struct kpy_zr *zr, const char *why)
{
	zr->damaged = 1;
	snprintf(zr->why, sizeof(zr->why), "%s", why);
	archive_set_error(a, EIO, "%s", why);
}

static la_ssize_t zr_read(struct archive *a, void *data, const void **buf)
{
	struct kpy_zr *zr = data;

	for (;;) {
		if (zr->in_pos == zr->in_len && !zr->eof) {
			ssize_t n = read(zr->fd, zr->in, zr->in_size);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				archive_set_error(a, errno, "read failed");
				return -1;
			}
			zr->in_pos = 0;
			zr->in_len = (size_t)n;
			zr->in_total += (size_t)n;
			if (n == 0)
				zr->eof = 1;
		}
		if (zr->in_pos == zr->in_len && zr->eof) {
			if (zr->pending != 0) {
				zr_damaged(a, zr, zr->in_total == 0 ? "the file is empty" : "the compressed data ends early (truncated)");
				return -1;
			}
			return 0;
		}
		ZSTD_inBuffer in = { zr->in, zr->in_len, zr->in_pos };
		ZSTD_outBuffer out = { zr->out, zr->out_size, 0 };
		size_t r = ZSTD_decompressStream(zr->dctx, &out, &in);
		zr->in_pos = in.pos;
		if (ZSTD_isError(r)) {
			char why[200];
			snprintf(why, sizeof(why), "zstd says: %s", ZSTD_getErrorName(r));
			zr_damaged(a, zr, why);
			return -1;
		}
		zr->pending = r;
		if (out.pos > 0) {
			*buf = zr->out;
			return (la_ssize_t)out.pos;
		}
	}
}

int kpy_zr_open(struct archive *a, struct kpy_zr *zr, int fd, struct kpy_err *e)
{
	memset(zr, 0, sizeof(*zr));
	zr->fd = fd;
	zr->pending = 1; /* an empty file is not a valid stream */
	zr->dctx = ZSTD_createDCtx();
	zr->in_size = ZSTD_DStreamInSize();
	zr->out_size = ZSTD_DStreamOutSize();
	zr->in = malloc(zr->in_size);
	zr->out = malloc(zr->out_size);
	if (zr->dctx == NULL || zr->in == NULL || zr->out == NULL) {
		kpy_zr_close(zr);
		return kpy_err_set(e, KPY_EFAIL, "out of memory");
	}
	if (archive_read_open(a, zr, NULL, zr_read, NULL) != ARCHIVE_OK) {
		const char *msg = archive_error_string(a) ? archive_error_string(a) : "cannot read";
		int err = archive_errno(a);
		/* good zstd around something that is not a tar is damage too (libarchive's
		 * file-format and misc errors are EILSEQ and -1; I/O errors keep their errno) */
		if (!zr->damaged && (err == EILSEQ || err == -1 || err == 0)) {
			zr->damaged = 1;
			snprintf(zr->why, sizeof(zr->why), "not a tar archive: %s", msg);
		}
		return kpy_err_set(e, zr->damaged ? KPY_EDAMAGED : KPY_EFAIL, "%s", msg);
	}
	return 0;
}

void kpy_zr_close(struct kpy_zr *zr)
{
	ZSTD_freeDCtx(zr->dctx);
	free(zr->in);
	free(zr->out);
	zr->dctx = zr->in = zr->out = NULL;
}

int kpy_zr_drain(struct archive *a, struct kpy_zr *zr)
{
	const void *buf;
	la_ssize_t n;

	while ((n = zr_read(a, zr, &buf)) > 0)
		;
	return n < 0 ? -1 : 0;
}
