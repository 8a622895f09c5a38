/* test_zseek.c: kpy/zseek.c: frames ended where asked and split when full, a file that
 * zstd, tar and bsdtar read whole, a seek table that refuses every lie, parallel decoding. */
#include "helpers.h"
#include <archive.h>
#include <archive_entry.h>
#include <pthread.h>
#include <stdint.h>
#include <zstd.h>
#include "zseek.h"

static unsigned char *pattern(size_t n, unsigned seed)
{
	unsigned char *p = malloc(n ? n : 1);
	uint32_t x = seed * 2654435761u + 1;

	cr_assert_not_null(p);
	/* compressible but not trivially: words from a small vocabulary plus noise */
	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		p[i] = (x >> 16) % 7 == 0 ? (unsigned char)(x >> 8) : (unsigned char)("kpy venv tar zstd "[(i + seed) % 18]);
	}
	return p;
}

static unsigned char *slurp(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY);
	struct stat st;
	unsigned char *p;

	cr_assert(fd >= 0 && fstat(fd, &st) == 0, "open %s", path);
	p = malloc((size_t)st.st_size + 1);
	cr_assert_eq(read(fd, p, (size_t)st.st_size), st.st_size);
	close(fd);
	*len = (size_t)st.st_size;
	return p;
}

static void spit(const char *path, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, p, n), (ssize_t)n);
	close(fd);
}

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void set32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

/* Write DATA to PATH through a writer: a frame is ended after each offset in CUTS. */
static void write_seek(const char *path, const unsigned char *data, size_t len, const size_t *cuts,
		       size_t ncuts, int threads, size_t frame_max)
{
	struct kpy_err e = KPY_ERR_INIT;
	struct kpy_zs_writer *w;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	size_t at = 0;

	cr_assert(fd >= 0);
	cr_assert_eq(kpy_zs_open(fd, 3, threads, frame_max, &w, &e), 0, "%s", e.msg);
	for (size_t c = 0; c <= ncuts; c++) {
		size_t to = c < ncuts ? cuts[c] : len;
		/* in uneven pieces, as libarchive hands them over */
		while (at < to) {
			size_t n = to - at < 7777 ? to - at : 7777;
			cr_assert_eq(kpy_zs_write(w, data + at, n, &e), 0, "%s", e.msg);
			at += n;
		}
		if (c < ncuts)
			cr_assert_eq(kpy_zs_end_frame(w, &e), 0, "%s", e.msg);
	}
	cr_assert_eq(kpy_zs_finish(w, &e), 0, "%s", e.msg);
	cr_assert_eq(kpy_zs_finish(w, &e), 0, "a second finish is the same result");
	kpy_zs_free(w);
	close(fd);
}

/* Read PATH's index and every frame; return the data (malloc'd), *IX filled. */
static unsigned char *read_seek(const char *path, struct kpy_zs_index *ix)
{
	struct kpy_err e = KPY_ERR_INIT;
	struct kpy_zs_dec *d = kpy_zs_dec_new();
	int fd = open(path, O_RDONLY);
	unsigned char *out;

	cr_assert(fd >= 0 && d != NULL);
	cr_assert_eq(kpy_zs_index_read(fd, path, ix, &e), 0, "%s", e.msg);
	out = malloc(ix->dsize + 1);
	for (size_t i = 0; i < ix->n; i++)
		cr_assert_eq(kpy_zs_dec_frame(d, fd, path, ix, i, out + ix->frames[i].doff, &e), 0, "%s", e.msg);
	kpy_zs_dec_free(d);
	close(fd);
	return out;
}

Test(zseek, frames_end_where_asked_and_split_when_full)
{
	char *d = mk_tmpdir(), p[PATH_MAX], raw[PATH_MAX], cmd[PATH_MAX * 3];
	size_t len = 300000, cuts[] = { 1000, 1000, 70000, 70001, 200000 }, n;
	/* frames of at most 64 KiB: 1000 | 64K+5000 split | 1 | 64K+65535 split ... */
	uint32_t want[] = { 1000, 65536, 3464, 1, 65536, 64463, 65536, 34464 };
	unsigned char *data = pattern(len, 1), *out, *file;
	struct kpy_zs_index ix;

	PATHF(p, "%s/x.zst", d);
	PATHF(raw, "%s/x.raw", d);
	spit(raw, data, len);
	write_seek(p, data, len, cuts, 5, 2, 65536);
	out = read_seek(p, &ix);
	cr_assert_eq(ix.dsize, len);
	cr_assert(ix.checksums);
	cr_assert_eq(ix.n, sizeof(want) / sizeof(want[0]), "%zu frames", ix.n);
	cr_assert_eq(ix.dmax, 65536);
	for (size_t i = 0; i < ix.n; i++)
		cr_assert_eq(ix.frames[i].dsize, want[i], "frame %zu is %u bytes", i, ix.frames[i].dsize);
	cr_assert_eq(memcmp(out, data, len), 0);
	/* the table's checksum is the frame's own content checksum, its last 4 bytes */
	file = slurp(p, &n);
	for (size_t i = 0; i < ix.n; i++) {
		const struct kpy_zs_frame *f = &ix.frames[i];
		cr_assert_eq(le32(file + f->coff), 0xFD2FB528u);
		cr_assert_eq(le32(file + f->coff + f->csize - 4), f->checksum);
	}
	cr_assert_eq(ix.table_off + 8 + ix.n * 12 + 9, n);
	/* plain zstd reads it whole, the table skipped; and says every frame checks out */
	PATHF(cmd, "zstd -q -t '%s' && zstd -q -dc '%s' | cmp -s - '%s'", p, p, raw);
	cr_assert_eq(system(cmd), 0, "zstd -d does not give the input back");
	PATHF(cmd, "zstd -lv '%s' 2>&1 | grep -q 'Check: XXH64'", p);
	cr_assert_eq(system(cmd), 0, "zstd -lv shows no checksum");
	kpy_zs_index_free(&ix);
	free(out);
	free(file);
	free(data);
	rm_tmpdir(d);
}

Test(zseek, same_bytes_on_any_number_of_threads)
{
	char *d = mk_tmpdir(), p[PATH_MAX];
	size_t len = 1u << 20, cuts[] = { 5, 100000, 100001, 500000 }, n1, n;
	unsigned char *data = pattern(len, 2), *one, *other;

	PATHF(p, "%s/1.zst", d);
	write_seek(p, data, len, cuts, 4, 1, 100000);
	one = slurp(p, &n1);
	for (int t = 2; t <= 5; t += 3) {
		PATHF(p, "%s/%d.zst", d, t);
		write_seek(p, data, len, cuts, 4, t, 100000);
		other = slurp(p, &n);
		cr_assert(n == n1 && memcmp(one, other, n) == 0, "%d threads write other bytes", t);
		free(other);
	}
	free(one);
	free(data);
	rm_tmpdir(d);
}

Test(zseek, nothing_written_is_a_file_of_just_the_table)
{
	char *d = mk_tmpdir(), p[PATH_MAX], cmd[PATH_MAX * 2];
	struct kpy_zs_index ix;
	unsigned char *out;
	size_t n;

	PATHF(p, "%s/empty.zst", d);
	write_seek(p, NULL, 0, NULL, 0, 2, 0);
	free(slurp(p, &n));
	cr_assert_eq(n, 17);
	out = read_seek(p, &ix);
	cr_assert_eq(ix.n, 0);
	cr_assert_eq(ix.dsize, 0);
	PATHF(cmd, "test -z \"$(zstd -q -dc '%s')\"", p);
	cr_assert_eq(system(cmd), 0);
	kpy_zs_index_free(&ix);
	free(out);
	rm_tmpdir(d);
}

Test(zseek, bad_arguments_and_write_errors)
{
	struct kpy_err e = KPY_ERR_INIT;
	struct kpy_zs_writer *w;
	unsigned char *data = pattern(300000, 3);
	int fd = open("/dev/full", O_WRONLY);

	cr_assert_eq(kpy_zs_open(1, 3, 1, KPY_ZS_FRAME_LIMIT + 1u, &w, &e), -1);
	cr_assert_eq(e.code, KPY_EINVAL);
	cr_assert_null(w);
	kpy_err_clear(&e);
	cr_assert_eq(kpy_zs_open(1, 99, 1, 0, &w, &e), -1);
	cr_assert_eq(e.code, KPY_EINVAL);
	kpy_err_clear(&e);
	/* a full disk: the first failure sticks, and each later call says it again */
	cr_assert(fd >= 0);
	cr_assert_eq(kpy_zs_open(fd, 1, 2, 65536, &w, &e), 0, "%s", e.msg);
	int r = 0;
	for (int i = 0; i < 10 && r == 0; i++)
		r = kpy_zs_write(w, data, 300000, &e);
	if (r == 0)
		r = kpy_zs_finish(w, &e);
	cr_assert_eq(r, -1);
	cr_assert_eq(e.code, KPY_ENOSPC, "%s", e.msg);
	kpy_err_clear(&e);
	cr_assert_eq(kpy_zs_finish(w, &e), -1);
	cr_assert_eq(e.code, KPY_ENOSPC);
	kpy_err_clear(&e);
	cr_assert_eq(kpy_zs_end_frame(w, &e), -1);
	kpy_zs_free(w);
	close(fd);
	/* freed with frames still in flight, without finish */
	fd = open("/dev/null", O_WRONLY);
	cr_assert_eq(kpy_zs_open(fd, 1, 3, 65536, &w, &e), 0, "%s", e.msg);
	cr_assert_eq(kpy_zs_write(w, data, 300000, &e), 0, "%s", e.msg);
	kpy_zs_free(w);
	close(fd);
	free(data);
}

/* --- through libarchive, read by tar, bsdtar and libarchive --- */

struct member {
	const char *name;
	size_t len;
};
static const struct member members[] = {
	{ "a/small.py", 300 }, { "a/empty", 0 }, { "a/big.so", 5u << 20 }, { "b/mid.txt", 200000 },
	{ "b/one", 1 }, { "b/two.bin", 3000000 },
};
#define NMEMBERS (sizeof(members) / sizeof(members[0]))

static void write_tar(const char *path, int threads)
{
	struct kpy_err e = KPY_ERR_INIT;
	struct kpy_zs_writer *w;
	struct archive *a = archive_write_new();
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	cr_assert(fd >= 0);
	cr_assert_eq(kpy_zs_open(fd, 3, threads, 1u << 20, &w, &e), 0, "%s", e.msg);
	archive_write_set_format_pax_restricted(a);
	cr_assert_eq(kpy_zs_archive_open(a, w, &e), 0, "%s", e.msg);
	for (size_t i = 0; i < NMEMBERS; i++) {
		struct archive_entry *ae = archive_entry_new();
		unsigned char *data = pattern(members[i].len, (unsigned)i);
		archive_entry_set_pathname(ae, members[i].name);
		archive_entry_set_filetype(ae, AE_IFREG);
		archive_entry_set_perm(ae, 0644);
		archive_entry_set_size(ae, (la_int64_t)members[i].len);
		cr_assert_eq(archive_write_header(a, ae), ARCHIVE_OK, "%s", archive_error_string(a));
		if (members[i].len > 0)
			cr_assert_eq(archive_write_data(a, data, members[i].len), (la_ssize_t)members[i].len);
		cr_assert_eq(archive_write_finish_entry(a), ARCHIVE_OK);
		/* the next entry starts a frame */
		cr_assert_eq(kpy_zs_end_frame(w, &e), 0, "%s", e.msg);
		archive_entry_free(ae);
		free(data);
	}
	cr_assert_eq(archive_write_close(a), ARCHIVE_OK, "%s", archive_error_string(a));
	cr_assert_eq(kpy_zs_finish(w, &e), 0, "%s", e.msg);
	archive_write_free(a);
	kpy_zs_free(w);
	close(fd);
}

static void check_tree(const char *dir)
{
	char p[PATH_MAX];

	for (size_t i = 0; i < NMEMBERS; i++) {
		unsigned char *want = pattern(members[i].len, (unsigned)i), *got;
		size_t n;
		PATHF(p, "%s/%s", dir, members[i].name);
		got = slurp(p, &n);
		cr_assert(n == members[i].len && memcmp(got, want, n) == 0, "%s differs", p);
		free(got);
		free(want);
	}
}

Test(zseek, a_tar_written_through_it_extracts_with_tar_bsdtar_and_libarchive)
{
	char *d = mk_tmpdir(), p[PATH_MAX], x[PATH_MAX], cmd[PATH_MAX * 3];
	struct kpy_zs_index ix;
	unsigned char *tar;
	size_t starts = 0;

	PATHF(p, "%s/env.tar.zst", d);
	write_tar(p, 2);
	/* every entry starts a frame: a frame that starts with a ustar header */
	tar = read_seek(p, &ix);
	for (size_t i = 0; i < ix.n; i++) {
		const struct kpy_zs_frame *f = &ix.frames[i];
		cr_assert_leq(f->dsize, 1u << 20);
		if (f->dsize >= 512 && memcmp(tar + f->doff + 257, "ustar", 5) == 0)
			starts++;
	}
	cr_assert_geq(starts, NMEMBERS, "%zu of %zu frames start at an entry", starts, ix.n);
	cr_assert_geq(ix.n, NMEMBERS + 7, "the big members are split: %zu frames", ix.n);

	PATHF(x, "%s/gnutar", d);
	PATHF(cmd, "mkdir '%s' && tar --zstd -xf '%s' -C '%s'", x, p, x);
	cr_assert_eq(system(cmd), 0, "tar --zstd -xf fails");
	check_tree(x);

	/* libarchive's own reader, which bsdtar uses */
	struct archive *a = archive_read_new();
	struct archive_entry *ae;
	size_t seen = 0;
	archive_read_support_filter_zstd(a);
	archive_read_support_format_tar(a);
	cr_assert_eq(archive_read_open_filename(a, p, 65536), ARCHIVE_OK, "%s", archive_error_string(a));
	while (archive_read_next_header(a, &ae) == ARCHIVE_OK) {
		cr_assert_str_eq(archive_entry_pathname(ae), members[seen].name);
		cr_assert_eq(archive_entry_size(ae), (la_int64_t)members[seen].len);
		seen++;
	}
	cr_assert_eq(seen, NMEMBERS, "%s", archive_error_string(a) ? archive_error_string(a) : "");
	archive_read_free(a);

	if (system("command -v bsdtar > /dev/null") == 0) {
		PATHF(x, "%s/bsdtar", d);
		PATHF(cmd, "mkdir '%s' && bsdtar -xf '%s' -C '%s'", x, p, x);
		cr_assert_eq(system(cmd), 0, "bsdtar -xf fails");
		check_tree(x);
	} else {
		cr_log_warn("bsdtar is missing (Debian package libarchive-tools): not run");
	}
	kpy_zs_index_free(&ix);
	free(tar);
	rm_tmpdir(d);
}

/* --- decoding in parallel --- */

struct job {
	const char *path;
	const struct kpy_zs_index *ix;
	unsigned char *out;
	size_t t, nt;
	int rv;
};

static void *decode_some(void *arg)
{
	struct job *j = arg;
	struct kpy_err e = KPY_ERR_INIT;
	struct kpy_zs_dec *d = kpy_zs_dec_new();
	int fd = open(j->path, O_RDONLY);

	j->rv = d == NULL || fd < 0 ? -1 : 0;
	for (size_t i = j->t; j->rv == 0 && i < j->ix->n; i += j->nt)
		j->rv = kpy_zs_dec_frame(d, fd, j->path, j->ix, i, j->out + j->ix->frames[i].doff, &e);
	kpy_zs_dec_free(d);
	close(fd);
	return NULL;
}

Test(zseek, threads_decode_all_frames_at_once)
{
	char *d = mk_tmpdir(), p[PATH_MAX];
	size_t len = 3000000;
	unsigned char *data = pattern(len, 4), *out = malloc(len);
	struct kpy_err e = KPY_ERR_INIT;
	struct kpy_zs_index ix;
	struct job jobs[4];
	pthread_t tid[4];
	int fd;

	PATHF(p, "%s/par.zst", d);
	write_seek(p, data, len, NULL, 0, 3, 50000);
	fd = open(p, O_RDONLY);
	cr_assert_eq(kpy_zs_index_read(fd, p, &ix, &e), 0, "%s", e.msg);
	close(fd);
	cr_assert_eq(ix.n, 60);
	for (size_t t = 0; t < 4; t++) {
		jobs[t] = (struct job){ p, &ix, out, t, 4, -1 };
		cr_assert_eq(pthread_create(&tid[t], NULL, decode_some, &jobs[t]), 0);
	}
	for (size_t t = 0; t < 4; t++) {
		pthread_join(tid[t], NULL);
		cr_assert_eq(jobs[t].rv, 0);
	}
	cr_assert_eq(memcmp(out, data, len), 0);
	kpy_zs_index_free(&ix);
	free(out);
	free(data);
	rm_tmpdir(d);
}

/* --- hostile tables and frames --- */

/* A valid file of 3 frames (40000, 40000, 20000 bytes) in memory. */
static unsigned char *base_file(const char *dir, size_t *n)
{
	char p[PATH_MAX];
	unsigned char *data = pattern(100000, 5), *f;

	PATHF(p, "%s/base.zst", dir);
	write_seek(p, data, 100000, NULL, 0, 1, 40000);
	free(data);
	f = slurp(p, n);
	cr_assert_eq(le32(f + *n - 9), 3);
	return f;
}

/* The index of BYTES: its return value, the error code in *CODE. */
static int index_of(const char *dir, const unsigned char *bytes, size_t n, int *code, char *msg)
{
	char p[PATH_MAX];
	struct kpy_err e = KPY_ERR_INIT;
	struct kpy_zs_index ix;
	int fd, r;

	PATHF(p, "%s/h.zst", dir);
	spit(p, bytes, n);
	fd = open(p, O_RDONLY);
	r = kpy_zs_index_read(fd, "h.zst", &ix, &e);
	close(fd);
	if (r == 0)
		kpy_zs_index_free(&ix);
	else if (r < 0)
		cr_assert(ix.frames == NULL && ix.n == 0);
	*code = e.code;
	snprintf(msg, 200, "%s", e.msg);
	return r;
}

#define REFUSED(bytes, n, what)                                                                   \
	do {                                                                                      \
		int code_;                                                                        \
		char msg_[200];                                                                   \
		cr_assert_eq(index_of(d, bytes, n, &code_, msg_), -1, "%s: accepted", what);      \
		cr_assert_eq(code_, KPY_EDAMAGED, "%s: code %d (%s)", what, code_, msg_);         \
		cr_assert(strstr(msg_, "h.zst") != NULL, "%s: message %s", what, msg_);           \
		cr_log_info("%s: %s", what, msg_);                                                \
	} while (0)

/* Replace frame 1 of GOOD (N bytes) by FRAME (FN bytes of DN data, checksum SUM) in B;
 * the new size. */
static size_t swap_frame1(const unsigned char *good, size_t n, unsigned char *b, const unsigned char *frame,
			  size_t fn, uint32_t dn, uint32_t sum)
{
	struct { uint32_t c, d, s; } t[3];
	const unsigned char *tab = good + n - 9 - 36;
	size_t at = 0;

	for (int i = 0; i < 3; i++)
		t[i].c = le32(tab + 12 * i), t[i].d = le32(tab + 12 * i + 4), t[i].s = le32(tab + 12 * i + 8);
	memcpy(b, good, t[0].c);
	at = t[0].c;
	memcpy(b + at, frame, fn);
	at += fn;
	memcpy(b + at, good + t[0].c + t[1].c, t[2].c);
	at += t[2].c;
	t[1].c = (uint32_t)fn, t[1].d = dn, t[1].s = sum;
	set32(b + at, 0x184D2A5Eu), set32(b + at + 4, 36 + 9), at += 8;
	for (int i = 0; i < 3; i++, at += 12)
		set32(b + at, t[i].c), set32(b + at + 4, t[i].d), set32(b + at + 8, t[i].s);
	set32(b + at, 3), b[at + 4] = 0x80, set32(b + at + 5, 0x8F92EAB1u);
	return at + 9;
}

Test(zseek, hostile_tables_are_refused)
{
	char *d = mk_tmpdir();
	size_t n, esz = 12;
	unsigned char *good = base_file(d, &n), *b = malloc(n + 64);
	unsigned char *foot = NULL, *tab = NULL;
	int code;
	char msg[200];

#define FRESH() (memcpy(b, good, n), foot = b + n - 9, tab = foot - 3 * esz)
	FRESH();
	cr_assert_eq(index_of(d, b, n, &code, msg), 0, "the base file: %s", msg);

	FRESH();
	foot[4] |= 0x04;
	REFUSED(b, n, "a reserved bit");
	FRESH();
	foot[4] |= 0x03; /* unused bits: left alone, by the spec */
	cr_assert_eq(index_of(d, b, n, &code, msg), 0, "unused bits: %s", msg);
	FRESH();
	set32(foot, 4);
	REFUSED(b, n, "one frame more than the table holds");
	FRESH();
	set32(foot, 2);
	REFUSED(b, n, "one frame less");
	FRESH();
	set32(foot, 0xffffffffu);
	REFUSED(b, n, "2^32-1 frames");
	FRESH();
	set32(foot, KPY_ZS_MAX_FRAMES);
	REFUSED(b, n, "more frames than the file has bytes");
	FRESH();
	set32(tab - 4, le32(tab - 4) + 12);
	REFUSED(b, n, "table frame size not matching the count");
	FRESH();
	set32(tab - 8, 0x184D2A50u);
	REFUSED(b, n, "another skippable magic");
	FRESH();
	foot[4] = 0; /* no checksums: the entries are read 8 bytes each, and do not add up */
	REFUSED(b, n, "checksum flag cleared");
	FRESH();
	set32(tab, le32(tab) + 1);
	REFUSED(b, n, "frames past the table");
	FRESH();
	set32(tab, le32(tab) - 1);
	REFUSED(b, n, "frames short of the table");
	FRESH();
	set32(tab, 0xffffffffu);
	set32(tab + 12, 0xffffffffu);
	REFUSED(b, n, "compressed sizes that overflow 32 bits");
	FRESH();
	set32(tab, 0);
	set32(tab + 12, le32(tab + 12) + le32(good + n - 9 - 36));
	REFUSED(b, n, "a frame of no bytes");
	FRESH();
	set32(tab + 4, KPY_ZS_FRAME_LIMIT + 1u);
	REFUSED(b, n, "a frame over the size limit");
	{
		/* 10 bytes in a frame of some 20: no zstd frame that small holds 1 MiB */
		unsigned char z[128], *small = pattern(10, 8);
		size_t zn = ZSTD_compress(z, sizeof(z), small, 10, 3);
		size_t m = swap_frame1(good, n, b, z, zn, 1u << 20, 0);
		REFUSED(b, m, "a frame that claims more than its bytes can hold");
		m = swap_frame1(good, n, b, z, zn, 10, 0);
		cr_assert_eq(index_of(d, b, m, &code, msg), 0, "the small frame, told right: %s", msg);
		free(small);
	}
	FRESH();
	memcpy(b, foot, 9);
	REFUSED(b, 9, "a footer alone");
	FRESH();
	memcpy(b, tab - 8, 8 + 3 * esz + 9);
	REFUSED(b, 8 + 3 * esz + 9, "a table without its frames");

	/* not refused: no index at all, so the caller reads a stream */
	cr_assert_eq(index_of(d, good, 0, &code, msg), KPY_ZS_NOINDEX);
	cr_assert_eq(index_of(d, good, 8, &code, msg), KPY_ZS_NOINDEX);
	cr_assert_eq(index_of(d, good, n - 1, &code, msg), KPY_ZS_NOINDEX, "cut short");
	cr_assert_eq(code, KPY_OK);
	size_t zn = ZSTD_compressBound(1000);
	unsigned char *z = malloc(zn), *data = pattern(1000, 6);
	zn = ZSTD_compress(z, zn, data, 1000, 3);
	cr_assert_eq(index_of(d, z, zn, &code, msg), KPY_ZS_NOINDEX, "a plain zstd stream");
	free(z);
	free(data);
	free(b);
	free(good);
	rm_tmpdir(d);
}

/* Frame 1 of BYTES decoded: its return value and error code. */
static int decode_1(const char *dir, const unsigned char *bytes, size_t n, int *code, char *msg)
{
	char p[PATH_MAX];
	struct kpy_err e = KPY_ERR_INIT;
	struct kpy_zs_index ix;
	struct kpy_zs_dec *dec = kpy_zs_dec_new();
	unsigned char *out;
	int fd, r;

	PATHF(p, "%s/h.zst", dir);
	spit(p, bytes, n);
	fd = open(p, O_RDONLY);
	cr_assert_eq(kpy_zs_index_read(fd, "h.zst", &ix, &e), 0, "%s", e.msg);
	out = malloc(ix.frames[1].dsize);
	r = kpy_zs_dec_frame(dec, fd, "h.zst", &ix, 1, out, &e);
	*code = e.code;
	snprintf(msg, 200, "%s", e.msg);
	cr_assert_eq(kpy_zs_dec_frame(dec, fd, "h.zst", &ix, 3, out, &e), -1, "there is no frame 3");
	kpy_zs_index_free(&ix);
	kpy_zs_dec_free(dec);
	free(out);
	close(fd);
	return r;
}

#define BAD_FRAME(bytes, n, what)                                                                 \
	do {                                                                                      \
		int code_;                                                                        \
		char msg_[200];                                                                   \
		cr_assert_eq(decode_1(d, bytes, n, &code_, msg_), -1, "%s: decoded", what);       \
		cr_assert_eq(code_, KPY_EDAMAGED, "%s: code %d (%s)", what, code_, msg_);         \
		cr_log_info("%s: %s", what, msg_);                                                \
	} while (0)

Test(zseek, frames_that_disagree_with_the_table_are_refused)
{
	char *d = mk_tmpdir();
	size_t n, m;
	unsigned char *good = base_file(d, &n), *b = malloc(n + 200000);
	unsigned char *tab = good + n - 9 - 36, *data = pattern(40000, 7);
	uint32_t c0 = le32(tab), c1 = le32(tab + 12);
	int code;
	char msg[200];

	cr_assert_eq(decode_1(d, good, n, &code, msg), 0, "%s", msg);
	memcpy(b, good, n);
	b[c0 + c1 / 2] ^= 0x20;
	BAD_FRAME(b, n, "a flipped bit in the data");
	memcpy(b, good, n);
	set32(b + n - 9 - 36 + 12 + 8, le32(tab + 20) ^ 1);
	BAD_FRAME(b, n, "the table's checksum differs");
	memcpy(b, good, n);
	set32(b + n - 9 - 36 + 12 + 4, le32(tab + 16) - 1);
	BAD_FRAME(b, n, "the table's size differs from the header's");
	memcpy(b, good, n);
	set32(b + c0, 0x184D2A5Eu);
	BAD_FRAME(b, n, "not a zstd frame");
	memcpy(b, good, n);
	b[c0 + c1 - 1] ^= 1;
	BAD_FRAME(b, n, "the frame's checksum differs from the table's");

	/* frames made otherwise: no checksum, no content size, two frames in one */
	ZSTD_CCtx *c = ZSTD_createCCtx();
	size_t cap = ZSTD_compressBound(80000) + 100, fn;
	unsigned char *z = malloc(cap);
	ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 0);
	fn = ZSTD_compress2(c, z, cap, data, 40000);
	m = swap_frame1(good, n, b, z, fn, 40000, 0);
	BAD_FRAME(b, m, "no content checksum");

	ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
	ZSTD_inBuffer in = { data, 40000, 0 };
	ZSTD_outBuffer out = { z, cap, 0 };
	/* data first, the end later: zstd cannot put the size in the header */
	cr_assert(!ZSTD_isError(ZSTD_compressStream2(c, &out, &in, ZSTD_e_continue)));
	cr_assert_eq(ZSTD_compressStream2(c, &out, &in, ZSTD_e_end), 0);
	m = swap_frame1(good, n, b, z, out.pos, 40000, le32(z + out.pos - 4));
	BAD_FRAME(b, m, "no content size in the header");

	ZSTD_CCtx_reset(c, ZSTD_reset_session_only);
	fn = ZSTD_compress2(c, z, cap, data, 20000);
	size_t fn2 = ZSTD_compress2(c, z + fn, cap - fn, data + 20000, 20000);
	m = swap_frame1(good, n, b, z, fn + fn2, 20000, le32(z + fn - 4));
	BAD_FRAME(b, m, "two frames in one entry");

	/* and the same frame made right is fine */
	fn = ZSTD_compress2(c, z, cap, data, 40000);
	m = swap_frame1(good, n, b, z, fn, 40000, le32(z + fn - 4));
	cr_assert_eq(decode_1(d, b, m, &code, msg), 0, "%s", msg);
	ZSTD_freeCCtx(c);
	free(z);
	free(data);
	free(b);
	free(good);
	rm_tmpdir(d);
}
