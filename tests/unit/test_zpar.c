/* test_zpar.c: kpy/zpar.c: a seekable tar read through parallel frame decoding comes
 * out in order, with no more frame buffers in use than the pool's bound, zero-copy
 * holds keep a buffer from reuse, and a corrupt frame in the middle is named. */
#include "helpers.h"
#include <archive.h>
#include <archive_entry.h>
#include <stdint.h>
#include "zpar.h"
#include "zseek.h"

#define NFILES 300

static size_t fsize(int i)
{
	/* small files, a few crossing frames, one much larger than a frame */
	return i == 150 ? 300000 : (size_t)(i * 97 % 5000);
}

static unsigned char byte(int i, size_t k)
{
	return (unsigned char)(i * 31 + k * 7 + (k >> 9));
}

/* NFILES files f000.. through the seekable writer, frames of FRAME_MAX ended at entry
 * boundaries once half full (as kpy save does) */
static void write_tar(const char *path, size_t frame_max)
{
	struct kpy_err e = KPY_ERR_INIT;
	struct kpy_zs_writer *w;
	struct archive *a = archive_write_new();
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	unsigned char *buf = malloc(300000);

	cr_assert(fd >= 0);
	archive_write_set_format_pax_restricted(a);
	cr_assert_eq(kpy_zs_open(fd, 1, 2, frame_max, &w, &e), 0, "%s", e.msg);
	cr_assert_eq(kpy_zs_archive_open(a, w, &e), 0, "%s", e.msg);
	for (int i = 0; i < NFILES; i++) {
		struct archive_entry *ae = archive_entry_new();
		char name[32];
		snprintf(name, sizeof(name), "f%03d", i);
		archive_entry_set_pathname(ae, name);
		archive_entry_set_filetype(ae, AE_IFREG);
		archive_entry_set_perm(ae, 0644);
		archive_entry_set_size(ae, (la_int64_t)fsize(i));
		for (size_t k = 0; k < fsize(i); k++)
			buf[k] = byte(i, k);
		cr_assert_eq(archive_write_header(a, ae), ARCHIVE_OK);
		cr_assert_eq(archive_write_data(a, buf, fsize(i)), (la_ssize_t)fsize(i));
		cr_assert_eq(archive_write_finish_entry(a), ARCHIVE_OK);
		if (kpy_zs_pending(w) >= frame_max / 2)
			cr_assert_eq(kpy_zs_end_frame(w, &e), 0);
		archive_entry_free(ae);
	}
	cr_assert_eq(archive_write_close(a), ARCHIVE_OK);
	cr_assert_eq(kpy_zs_finish(w, &e), 0, "%s", e.msg);
	archive_write_free(a);
	kpy_zs_free(w);
	close(fd);
	free(buf);
}

/* Read PATH through zpar on THREADS threads, holding the last LAG data blocks as a
 * slow writer would; -1 at the first failure (*AT: the entry it happened in). */
static int read_all(const char *path, int threads, int lag, int *at, size_t *slots, size_t *peak,
		    char *why, size_t whylen)
{
	struct kpy_err e = KPY_ERR_INIT;
	struct kpy_zs_index ix;
	struct kpy_zpar *zp = NULL;
	struct archive *a = archive_read_new();
	struct archive_entry *ae;
	struct kpy_zpar_hold *held[64] = { 0 };
	int fd = open(path, O_RDONLY), i = 0, rc, nh = 0, rv = 0;

	cr_assert(lag <= 64);
	archive_read_support_format_tar(a);
	cr_assert_eq(kpy_zs_index_read(fd, path, &ix, &e), 0, "%s", e.msg);
	cr_assert_eq(kpy_zpar_open(a, fd, path, &ix, threads, &zp, &e), 0, "%s", e.msg);
	while ((rc = archive_read_next_header(a, &ae)) == ARCHIVE_OK) {
		char name[32];
		const void *blk;
		size_t sz, got = 0;
		la_int64_t off;
		snprintf(name, sizeof(name), "f%03d", i);
		cr_assert_str_eq(archive_entry_pathname(ae), name, "entries in order");
		while ((rc = archive_read_data_block(a, &blk, &sz, &off)) == ARCHIVE_OK) {
			for (size_t k = 0; k < sz; k++)
				cr_assert_eq(((const unsigned char *)blk)[k], byte(i, (size_t)off + k),
					     "byte %zu of %s", (size_t)off + k, name);
			got += sz;
			if (lag > 0 && sz > 0) {
				struct kpy_zpar_hold *h = kpy_zpar_hold(zp, blk, sz);
				if (h != NULL) {
					kpy_zpar_release(zp, held[nh % lag]);
					held[nh++ % lag] = h;
				}
			}
		}
		if (rc != ARCHIVE_EOF)
			break;
		cr_assert_eq(got, fsize(i), "all of %s", name);
		i++;
	}
	if (rc == ARCHIVE_EOF && kpy_zpar_drain(a, zp) < 0)
		rc = ARCHIVE_FATAL;
	*at = i;
	if (rc != ARCHIVE_EOF) {
		const char *w = kpy_zpar_why(zp, NULL);
		snprintf(why, whylen, "%s", w ? w : "?");
		rv = -1;
	} else {
		cr_assert_eq(i, NFILES);
	}
	for (int k = 0; k < lag; k++)
		kpy_zpar_release(zp, held[k]);
	kpy_zpar_stats(zp, slots, peak);
	archive_read_free(a);
	kpy_zpar_free(zp);
	kpy_zs_index_free(&ix);
	close(fd);
	return rv;
}

Test(zpar, frames_come_in_order_on_any_number_of_threads)
{
	char *d = mk_tmpdir(), p[PATH_MAX], why[512];
	size_t slots, peak;
	int at;

	PATHF(p, "%s/a.tar.zst", d);
	write_tar(p, 16384);
	for (int t = 1; t <= 8; t *= 2) {
		cr_assert_eq(read_all(p, t, 0, &at, &slots, &peak, why, sizeof(why)), 0, "%d threads: %s", t, why);
		cr_assert_eq(slots, 2 * (size_t)t + 2);
		cr_assert(peak <= slots && peak >= 1, "peak %zu of %zu", peak, slots);
	}
	rm_tmpdir(d);
}

/* Holding frames (a writer writing from them) never makes the pool grow: decoding
 * waits for a buffer instead, and every byte still comes out right. */
Test(zpar, holds_keep_buffers_and_the_pool_stays_bounded)
{
	char *d = mk_tmpdir(), p[PATH_MAX], why[512];
	size_t slots, peak;
	int at;

	PATHF(p, "%s/a.tar.zst", d);
	write_tar(p, 16384);
	for (int lag = 1; lag <= 5; lag += 2) {
		cr_assert_eq(read_all(p, 2, lag, &at, &slots, &peak, why, sizeof(why)), 0, "%s", why);
		cr_assert_eq(slots, 6);
		cr_assert(peak <= slots, "peak %zu of %zu", peak, slots);
	}
	rm_tmpdir(d);
}

Test(zpar, a_corrupt_frame_in_the_middle_is_named_and_stops_the_read)
{
	char *d = mk_tmpdir(), p[PATH_MAX], why[512];
	struct kpy_err e = KPY_ERR_INIT;
	struct kpy_zs_index ix;
	size_t slots, peak, mid;
	unsigned char c;
	int at, fd;

	PATHF(p, "%s/a.tar.zst", d);
	write_tar(p, 16384);
	fd = open(p, O_RDWR);
	cr_assert_eq(kpy_zs_index_read(fd, p, &ix, &e), 0);
	mid = ix.n / 2;
	cr_assert(ix.n > 6);
	off_t o = (off_t)(ix.frames[mid].coff + ix.frames[mid].csize / 2);
	cr_assert_eq(pread(fd, &c, 1, o), 1);
	c ^= 0xff;
	cr_assert_eq(pwrite(fd, &c, 1, o), 1);
	close(fd);
	for (int t = 1; t <= 4; t *= 2) {
		char want[64];
		cr_assert_eq(read_all(p, t, 1, &at, &slots, &peak, why, sizeof(why)), -1, "damage found");
		snprintf(want, sizeof(want), "frame %zu ", mid);
		cr_assert(strstr(why, want) != NULL, "names the frame: %s", why);
		cr_assert(strstr(why, "the archive:") == NULL, "the caller names the archive: %s", why);
		cr_assert(at > 0 && at < NFILES, "the entries before it read: %d", at);
	}
	kpy_zs_index_free(&ix);
	rm_tmpdir(d);
}

/* damage after the tar's end (in the last frame, which the tar reader may never ask
 * for) is found by the drain */
Test(zpar, damage_after_the_last_entry_is_found)
{
	char *d = mk_tmpdir(), p[PATH_MAX], why[512];
	struct kpy_err e = KPY_ERR_INIT;
	struct kpy_zs_index ix;
	size_t slots, peak;
	int at, fd;

	PATHF(p, "%s/a.tar.zst", d);
	write_tar(p, 16384);
	fd = open(p, O_RDWR);
	cr_assert_eq(kpy_zs_index_read(fd, p, &ix, &e), 0);
	/* the last frame's content checksum (its last 4 bytes): its data stays readable
	 * up to the checksum, so only decoding all of it finds the lie */
	off_t o = (off_t)(ix.frames[ix.n - 1].coff + ix.frames[ix.n - 1].csize - 1);
	unsigned char c;
	cr_assert_eq(pread(fd, &c, 1, o), 1);
	c ^= 1;
	cr_assert_eq(pwrite(fd, &c, 1, o), 1);
	close(fd);
	cr_assert_eq(read_all(p, 2, 0, &at, &slots, &peak, why, sizeof(why)), -1);
	cr_assert(strstr(why, "checksum") != NULL, "%s", why);
	kpy_zs_index_free(&ix);
	rm_tmpdir(d);
}
