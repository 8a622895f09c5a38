/* seekify.h: rewrite a kpy archive (any .tar.zst) as a seekable one, frames ended at
 * entry boundaries once they hold half of FRAME_MAX and large files split across
 * frames of FRAME_MAX, as kpy save writes them: for the tests and the benchmark until
 * the save side writes them itself. Uses only the real writer (kpy/zseek.h). */
#ifndef KPY_TEST_SEEKIFY_H
#define KPY_TEST_SEEKIFY_H

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "zio.h"
#include "zseek.h"

/* 0, or -1 with a message on stderr. FLIP_FRAME >= 0: after writing, flip a byte in
 * the middle of that frame's compressed data (a damaged archive). */
static inline int seekify(const char *src, const char *dst, size_t frame_max, int threads, long flip_frame)
{
	struct kpy_err e = KPY_ERR_INIT;
	struct kpy_zr zr;
	struct archive *in = archive_read_new(), *out = archive_write_new();
	struct archive_entry *ae;
	struct kpy_zs_writer *w = NULL;
	int ifd = open(src, O_RDONLY), ofd = open(dst, O_RDWR | O_CREAT | O_TRUNC, 0644), rc, rv = -1;
	static char buf[1 << 16];

	archive_read_support_format_tar(in);
	archive_write_set_format_pax_restricted(out);
	if (ifd < 0 || ofd < 0 || kpy_zr_open(in, &zr, ifd, &e) < 0 ||
	    kpy_zs_open(ofd, 1, threads, frame_max, &w, &e) < 0 || kpy_zs_archive_open(out, w, &e) < 0) {
		fprintf(stderr, "seekify %s: %s\n", src, e.msg);
		goto out;
	}
	while ((rc = archive_read_next_header(in, &ae)) == ARCHIVE_OK) {
		la_ssize_t n;
		if (archive_write_header(out, ae) != ARCHIVE_OK)
			goto bad;
		while ((n = archive_read_data(in, buf, sizeof(buf))) > 0)
			if (archive_write_data(out, buf, (size_t)n) != n)
				goto bad;
		if (n < 0 || archive_write_finish_entry(out) != ARCHIVE_OK)
			goto bad;
		if (kpy_zs_pending(w) >= frame_max / 2 && kpy_zs_end_frame(w, &e) < 0)
			goto bad;
	}
	if (rc != ARCHIVE_EOF || archive_write_close(out) != ARCHIVE_OK || kpy_zs_finish(w, &e) < 0)
		goto bad;
	if (flip_frame >= 0) {
		struct kpy_zs_index ix;
		unsigned char c;
		if (kpy_zs_index_read(ofd, dst, &ix, &e) < 0 || (size_t)flip_frame >= ix.n)
			goto bad;
		off_t at = (off_t)(ix.frames[flip_frame].coff + ix.frames[flip_frame].csize / 2);
		kpy_zs_index_free(&ix);
		if (pread(ofd, &c, 1, at) != 1)
			goto bad;
		c ^= 0x55;
		if (pwrite(ofd, &c, 1, at) != 1)
			goto bad;
	}
	rv = 0;
	goto out;
bad:
	fprintf(stderr, "seekify %s: %s %s\n", src, e.msg, archive_error_string(in) ? archive_error_string(in) : "");
out:
	archive_read_free(in);
	archive_write_free(out);
	kpy_zr_close(&zr);
	kpy_zs_free(w);
	if (ifd >= 0)
		close(ifd);
	if (ofd >= 0)
		close(ofd);
	return rv;
}

#endif
