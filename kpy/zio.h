/* zio.h: zstd streams (frame checksums on) under libarchive's tar reader and writer. */
#ifndef KPY_ZIO_H
#define KPY_ZIO_H

#include <archive.h>
#include "error.h"

/* Writer: libarchive writes tar bytes, zio compresses them into FD. */
struct kpy_zw;
/* Open A (a fresh archive_write with its format set) onto FD. The zw is owned by A
 * and freed by archive_write_free; FD stays the caller's. *ZW (if not NULL) gets it
 * for kpy_zw_close. */
int kpy_zw_open(struct archive *a, int fd, int level, int threads, struct kpy_zw **zw,
		struct kpy_err *e);
/* archive_write_close(A), then check that the whole zstd stream reached FD: libarchive
 * ignores what its client's close callback returns, so a write that fails while the
 * last frame is ended (a full disk) is only seen here. -1 with the error for PATH. */
int kpy_zw_close(struct archive *a, struct kpy_zw *zw, const char *path, struct kpy_err *e);
/* 1 once a write to the fd (or zstd) has failed: stop adding entries and let
 * kpy_zw_close say why. */
int kpy_zw_failed(const struct kpy_zw *zw);

/* Reader: zio decompresses FD, libarchive reads tar from it. */
struct kpy_zr {
	int fd;
	void *dctx;
	void *in, *out;
	size_t in_size, out_size;
	size_t in_pos, in_len;
	int eof;           /* input exhausted */
	size_t pending;    /* last ZSTD_decompressStream hint: 0 at a frame end */
	int damaged;       /* the zstd stream is corrupt or truncated */
	char why[256];     /* what zstd said */
	unsigned long long in_total;
};
/* Open A (an archive_read with formats set) on FD. ZR is caller storage that must
 * outlive A; call kpy_zr_close after archive_read_free. */
int kpy_zr_open(struct archive *a, struct kpy_zr *zr, int fd, struct kpy_err *e);
void kpy_zr_close(struct kpy_zr *zr);
/* Decompress whatever libarchive left unread (padding after the tar end), so that a
 * truncated stream or a bad frame checksum is noticed; -1 and zr->damaged if so. */
int kpy_zr_drain(struct archive *a, struct kpy_zr *zr);

#endif
