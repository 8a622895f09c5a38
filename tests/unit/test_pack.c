/* test_pack.c: kpy/pack.c: a save is zstd's seekable format: a seek table that
 * describes the file, frames that start at tar entries (except where a big file goes
 * on), every byte decodable frame by frame; what the save returns; the progress it
 * reports; an old single-stream archive still restores. */
#include "helpers.h"
#include <archive.h>
#include <archive_entry.h>
#include <stdint.h>
#include "envarchive.h"
#include "manifest.h"
#include "progress.h"
#include "zseek.h"

static char *d;
static char src[PATH_MAX];

#define BIG (11u << 20)  /* more than two frames */
#define MID (3u << 20)   /* less than a frame, more than half of one */

/* Text that zstd compresses, but not to nothing: words from a little generator. */
static void fill(char *p, size_t n, unsigned seed)
{
	static const char *const w[] = { "import", "numpy", "def", "return", "self", "tensor", "0x3f",
					 "lambda", "yield", "class", "torch", "float32", "\n", "    " };
	uint32_t x = seed * 2654435761u + 1;
	size_t i = 0;

	while (i < n) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		const char *s = w[x % (sizeof(w) / sizeof(w[0]))];
		for (size_t k = 0; s[k] && i < n; k++)
			p[i++] = s[k];
		if (i < n)
			p[i++] = (char)('a' + (x >> 8) % 26);
	}
}

static void put_gen(const char *path, size_t n, unsigned seed)
{
	char *buf = malloc(n);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	cr_assert(buf != NULL && fd >= 0);
	fill(buf, n, seed);
	cr_assert_eq(write(fd, buf, n), (ssize_t)n);
	close(fd);
	free(buf);
}

/* A venv with many small files, a mid-sized one, and one bigger than two frames. */
static void make_env(void)
{
	char p[PATH_MAX];

	d = mk_tmpdir();
	PATHF(src, "%s/src", d);
	mk_venv_skeleton(src, "pkg");
	for (unsigned i = 0; i < 300; i++) {
		PATHF(p, "%s/lib/python3.11/site-packages/pkg/m%03u.py", src, i);
		put_gen(p, 2000 + (i * 7919) % 30000, i);
	}
	PATHF(p, "%s/lib/python3.11/site-packages/pkg/mid.so", src);
	put_gen(p, MID, 1001);
	PATHF(p, "%s/lib/python3.11/site-packages/pkg/big.so", src);
	put_gen(p, BIG, 1002);
	PATHF(p, "%s/lib/python3.11/site-packages/pkg/zz.py", src);
	put_gen(p, 5000, 1003);
}

static void cleanup(void)
{
	rm_tmpdir(d);
}

TestSuite(pack, .init = make_env, .fini = cleanup);

static int save(const char *dest, int threads, struct kpy_save_result *res, struct kpy_progress *p,
		struct kpy_err *e)
{
	struct kpy_save_opts o = { .name = "demo", .level = 3, .threads = threads, .result = res, .progress = p };
	struct kpy_err warn = KPY_ERR_INIT;
	return kpy_archive_save(src, dest, &o, &warn, e);
}

/* The whole tar of ARCHIVE, decoded frame by frame through its seek table. */
static unsigned char *decode_all(const char *archive, struct kpy_zs_index *ix)
{
	struct kpy_err e = KPY_ERR_INIT;
	struct kpy_zs_dec *dec = kpy_zs_dec_new();
	int fd = open(archive, O_RDONLY);
	unsigned char *tar;

	cr_assert(fd >= 0 && dec != NULL);
	cr_assert_eq(kpy_zs_index_read(fd, archive, ix, &e), 0, "%s", e.msg);
	tar = malloc(ix->dsize);
	cr_assert_not_null(tar);
	for (size_t i = 0; i < ix->n; i++)
		cr_assert_eq(kpy_zs_dec_frame(dec, fd, archive, ix, i, tar + ix->frames[i].doff, &e), 0,
			     "frame %zu: %s", i, e.msg);
	kpy_zs_dec_free(dec);
	close(fd);
	return tar;
}

struct ent {
	int64_t start; /* where its header starts in the tar */
	int64_t size;  /* its data */
	char name[256];
};

/* The entries of the tar in MEM, and in *END where the entries end (the end blocks). */
static struct ent *entries(const unsigned char *mem, size_t len, size_t *n, int64_t *end)
{
	struct archive *a = archive_read_new();
	struct archive_entry *ae;
	struct ent *v = NULL;
	size_t cap = 0;
	int r;

	archive_read_support_format_tar(a);
	cr_assert_eq(archive_read_open_memory(a, mem, len), ARCHIVE_OK);
	*n = 0;
	while ((r = archive_read_next_header(a, &ae)) == ARCHIVE_OK) {
		if (*n == cap) {
			cap = cap ? 2 * cap : 256;
			v = realloc(v, cap * sizeof(*v));
			cr_assert_not_null(v);
		}
		v[*n].start = archive_read_header_position(a);
		v[*n].size = archive_entry_size(ae);
		snprintf(v[*n].name, sizeof(v[*n].name), "%s", archive_entry_pathname(ae));
		(*n)++;
	}
	cr_assert_eq(r, ARCHIVE_EOF, "%s", archive_error_string(a));
	*end = archive_read_header_position(a);
	archive_read_free(a);
	return v;
}

Test(pack, frames_start_at_entries_and_big_files_go_on)
{
	struct kpy_err e = KPY_ERR_INIT;
	struct kpy_save_result res;
	struct kpy_zs_index ix;
	char a[PATH_MAX];
	struct stat st;
	size_t n, cont = 0, at_entry = 0;
	int64_t end;

	PATHF(a, "%s/demo.tar.zst", d);
	cr_assert_eq(save(a, 4, &res, NULL, &e), 0, "%s", e.msg);
	unsigned char *tar = decode_all(a, &ix);
	struct ent *v = entries(tar, ix.dsize, &n, &end);

	/* the table describes the file exactly; sizes add up */
	cr_assert_eq(stat(a, &st), 0);
	cr_assert_eq(res.size, (uint64_t)st.st_size, "the result gives the archive's size");
	cr_assert_eq(res.frames, ix.n);
	cr_assert(ix.checksums);
	cr_assert(ix.n >= 6, "%zu frames for ~20 MiB", ix.n);
	cr_assert_eq(ix.frames[0].doff, 0);
	cr_assert(ix.dmax <= KPY_ZS_FRAME_DEFAULT);
	cr_assert_str_eq(v[0].name, KPY_MANIFEST_PATH);
	cr_assert_str_eq(v[n - 1].name, KPY_RELOCATE_PATH);
	for (size_t i = 1; i < ix.n; i++) {
		uint64_t off = ix.frames[i].doff;
		size_t j = 0;
		while (j + 1 < n && (uint64_t)v[j + 1].start <= off)
			j++;
		if ((uint64_t)v[j].start == off || (j == n - 1 && (uint64_t)end == off)) {
			at_entry++;
			/* ended after an entry: only once it held half a frame */
			cr_assert_geq(ix.frames[i - 1].dsize, KPY_ZS_FRAME_DEFAULT / 2, "frame %zu", i - 1);
			continue;
		}
		/* inside entry j: only because the frame before was full, in the data of
		 * a file that does not fit in what was left of it */
		cont++;
		cr_assert_eq(ix.frames[i - 1].dsize, KPY_ZS_FRAME_DEFAULT,
			     "frame %zu starts inside %s (at %llu) after a frame that was not full", i, v[j].name,
			     (unsigned long long)off);
		cr_assert(v[j].size > 0, "%s", v[j].name);
	}
	cr_assert(cont >= 2, "big.so goes on in %zu frames", cont);
	cr_assert(at_entry >= 2, "%zu frames start at an entry", at_entry);
	/* the result is the archive's manifest */
	cr_assert_str_eq(res.manifest.name, "demo");
	cr_assert_str_eq(res.manifest.prefix, src);
	cr_assert_eq(res.manifest.files, (long long)n - 3, "entries less manifest, packages, relocate");
	long long bytes = 0;
	for (size_t i = 2; i + 1 < n; i++)
		bytes += v[i].size;
	cr_assert_eq(res.manifest.bytes, bytes);
	/* and the data of big.so came through */
	for (size_t j = 0; j < n; j++)
		if (strstr(v[j].name, "big.so")) {
			char *want = malloc(BIG);
			fill(want, BIG, 1002);
			/* the data follows the header blocks: find it from the entry's end */
			int64_t data = v[j + 1].start - (int64_t)((BIG + 511) / 512 * 512);
			cr_assert_eq(memcmp(tar + data, want, BIG), 0);
			free(want);
		}
	kpy_manifest_free(&res.manifest);
	kpy_zs_index_free(&ix);
	free(v);
	free(tar);
}

Test(pack, the_frames_do_not_depend_on_the_threads)
{
	struct kpy_err e = KPY_ERR_INIT;
	struct kpy_zs_index i1, i4;
	char a1[PATH_MAX], a4[PATH_MAX];

	PATHF(a1, "%s/one.tar.zst", d);
	PATHF(a4, "%s/four.tar.zst", d);
	cr_assert_eq(save(a1, 1, NULL, NULL, &e), 0, "%s", e.msg);
	cr_assert_eq(save(a4, 4, NULL, NULL, &e), 0, "%s", e.msg);
	free(decode_all(a1, &i1));
	free(decode_all(a4, &i4));
	/* the same cuts, in the same order (the bytes may differ: the save time) */
	cr_assert_eq(i1.n, i4.n);
	for (size_t i = 0; i < i1.n; i++)
		cr_assert_eq(i1.frames[i].dsize, i4.frames[i].dsize, "frame %zu", i);
	kpy_zs_index_free(&i1);
	kpy_zs_index_free(&i4);
}

Test(pack, standard_tools_read_it_and_an_old_stream_still_restores)
{
	struct kpy_err e = KPY_ERR_INIT;
	struct kpy_zs_index ix;
	char a[PATH_MAX], old[PATH_MAX], out[PATH_MAX], cmd[4 * PATH_MAX];
	int fd;

	PATHF(a, "%s/demo.tar.zst", d);
	PATHF(old, "%s/old.tar.zst", d);
	PATHF(out, "%s/restored", d);
	cr_assert_eq(save(a, 2, NULL, NULL, &e), 0, "%s", e.msg);
	PATHF(cmd, "zstd -q -t '%s' && mkdir '%s/x1' '%s/x2' && tar --zstd -xf '%s' -C '%s/x1' && "
		   "bsdtar -xf '%s' -C '%s/x2' && diff -r --no-dereference '%s/x1' '%s/x2' && "
		   "cmp '%s/x1/lib/python3.11/site-packages/pkg/big.so' '%s/lib/python3.11/site-packages/pkg/big.so'",
	      a, d, d, a, d, a, d, d, d, d, src);
	cr_assert_eq(system(cmd), 0, "zstd -t, tar --zstd and bsdtar read it alike");
	/* the archives of kpy before the seekable format: one zstd stream, no table */
	PATHF(cmd, "zstd -q -dc '%s' | zstd -q -3 -o '%s'", a, old);
	cr_assert_eq(system(cmd), 0);
	cr_assert((fd = open(old, O_RDONLY)) >= 0);
	cr_assert_eq(kpy_zs_index_read(fd, old, &ix, &e), KPY_ZS_NOINDEX);
	close(fd);
	cr_assert_eq(kpy_archive_restore(old, out, NULL, NULL, &e), 0, "%s", e.msg);
	PATHF(cmd, "cmp '%s/lib/python3.11/site-packages/pkg/big.so' '%s/lib/python3.11/site-packages/pkg/big.so'", out, src);
	cr_assert_eq(system(cmd), 0);
}

Test(pack, progress_gets_the_totals_and_every_byte)
{
	struct kpy_err e = KPY_ERR_INIT;
	struct kpy_save_result res;
	char a[PATH_MAX], log[PATH_MAX];
	int fd;

	PATHF(a, "%s/demo.tar.zst", d);
	PATHF(log, "%s/progress.log", d);
	cr_assert((fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644)) >= 0);
	struct kpy_progress *p = kpy_progress_new(fd, KPY_PROGRESS_ALWAYS, "saving", "demo", 0, 0);
	cr_assert_not_null(p);
	cr_assert_eq(save(a, 2, &res, p, &e), 0, "%s", e.msg);
	kpy_progress_end(p); /* ALWAYS off a terminal: the last figures as a line */
	close(fd);
	char *text = get(log), want[256], *last;
	cr_assert_not_null(text);
	cr_assert((last = strrchr(text, '\n')) != NULL && last > text);
	*last = '\0';
	last = strrchr(text, '\n') ? strrchr(text, '\n') + 1 : text;
	kpy_progress_format(want, sizeof(want), "saving", "demo", (uint64_t)res.manifest.bytes,
			    (uint64_t)res.manifest.bytes, (uint64_t)res.manifest.files,
			    (uint64_t)res.manifest.files, 1);
	/* "saving demo: 14.1M of 14.1M, 305 of 305 files, " then a rate that varies */
	*strstr(want, " files, ") = '\0';
	cr_assert(strncmp(last, want, strlen(want)) == 0, "last line [%s], want [%s...]", last, want);
	free(text);
	kpy_manifest_free(&res.manifest);
}

Test(pack, a_failed_save_returns_nothing_and_leaves_nothing)
{
	struct kpy_err e = KPY_ERR_INIT, warn = KPY_ERR_INIT;
	struct kpy_save_result res;
	char a[PATH_MAX], dir[PATH_MAX], p[PATH_MAX], cmd[3 * PATH_MAX];
	int root = geteuid() == 0;

	/* root reads every file: a full disk instead (a 1 MiB tmpfs), else a file
	 * that cannot be read halfway through */
	PATHF(dir, "%s/pd", d);
	mkdir(dir, 0755);
	if (root) {
		PATHF(cmd, "mount -t tmpfs -o size=1m kpy-pack '%s'", dir);
		cr_assert_eq(system(cmd), 0, "cannot mount tmpfs");
	} else {
		PATHF(p, "%s/lib/python3.11/site-packages/pkg/m150.py", src);
		chmod(p, 0);
	}
	PATHF(a, "%s/demo.tar.zst", dir);
	put(a, "the old archive\n", 0644);
	struct kpy_save_opts o = { .name = "demo", .level = 3, .threads = 2, .result = &res, .force = 1 };
	int rc = kpy_archive_save(src, a, &o, &warn, &e);
	char *after = get(a);
	PATHF(cmd, "[ \"$(ls -A '%s')\" = demo.tar.zst ]", dir);
	int alone = system(cmd);
	if (root) {
		PATHF(cmd, "umount '%s'", dir);
		(void)!system(cmd);
	}
	cr_assert_eq(rc, -1);
	cr_assert_null(res.manifest.name, "no manifest for a failed save");
	if (root) {
		cr_assert_eq(e.code, KPY_ENOSPC, "%s", e.msg);
		cr_assert(strstr(e.msg, "demo.tar.zst, which was not changed") != NULL, "%s", e.msg);
	} else {
		cr_assert(strstr(e.msg, "m150.py") != NULL, "%s", e.msg);
	}
	cr_assert_eq(alone, 0, "no temporary file left");
	cr_assert(after != NULL && strcmp(after, "the old archive\n") == 0, "the old archive is kept");
	free(after);
}
