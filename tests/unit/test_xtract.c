/* test_xtract.c: kpy/xtract.c and the parallel restore (kpy_archive_restore over
 * kpy/zpar.c): seekable archives restore byte-exact on any number of threads (large
 * files split across frames, hard links, modes, mtimes, a 0555 directory with files),
 * a corrupt frame in the middle leaves nothing, and every rule against writing
 * outside the target holds when entries go straight to the writer. */
#include "helpers.h"
#include <dirent.h>
#include <stdint.h>
#include <sys/wait.h>
#include "envarchive.h"
#include "manifest.h"
#include "seekify.h"
#include "xtract.h"

static char *d;
static char src[PATH_MAX];
#define BIG (10u << 20)

static unsigned char *big_data(void)
{
	unsigned char *p = malloc(BIG);
	uint32_t x = 7;
	for (size_t i = 0; i < BIG; i++) {
		x = x * 1103515245u + 12345u;
		p[i] = (x >> 16) % 5 == 0 ? (unsigned char)(x >> 8) : (unsigned char)"tensor "[i % 7];
	}
	return p;
}

static void make_env(void)
{
	char p[PATH_MAX], t[PATH_MAX * 2];

	d = mk_tmpdir();
	PATHF(src, "%s/src", d);
	mk_venv_skeleton(src, "ro");
	PATHF(p, "%s/bin/tool", src);
	PATHF(t, "#!%s/bin/python\nprint('tool')\n", src);
	put(p, t, 0755);
	for (int i = 0; i < 200; i++) {
		PATHF(p, "%s/lib/python3.11/site-packages/m%03d.py", src, i);
		PATHF(t, "# module %d\n%*s\n", i, i * 37 % 3000, "x");
		put(p, t, i % 3 == 0 ? 0600 : 0644);
	}
	PATHF(p, "%s/lib/python3.11/site-packages/ro/inside.txt", src);
	put(p, "read-only dir\n", 0444);
	PATHF(p, "%s/lib/python3.11/site-packages/big.bin", src);
	unsigned char *b = big_data();
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	cr_assert_eq(write(fd, b, BIG), (ssize_t)BIG);
	close(fd);
	free(b);
	struct timespec ts[2] = { { 1500000000, 123456789 }, { 1500000000, 123456789 } };
	utimensat(AT_FDCWD, p, ts, 0);
	PATHF(p, "%s/lib/python3.11/site-packages/ro", src);
	struct timespec td[2] = { { 1400000000, 0 }, { 1400000000, 0 } };
	utimensat(AT_FDCWD, p, td, 0);
	chmod(p, 0555);
}

static void cleanup(void)
{
	char p[PATH_MAX];
	PATHF(p, "%s/lib/python3.11/site-packages/ro", src);
	chmod(p, 0755);
	rm_tmpdir(d);
}

TestSuite(xtract, .init = make_env, .fini = cleanup);

static int count(const char *dir, const char *prefix)
{
	DIR *dd = opendir(dir);
	struct dirent *de;
	int n = 0;

	while (dd && (de = readdir(dd)) != NULL)
		if (strncmp(de->d_name, prefix, strlen(prefix)) == 0)
			n++;
	if (dd)
		closedir(dd);
	return n;
}

/* a saved archive of src, rewritten seekable with frames of FRAME_MAX */
static void saved(char *a, size_t size, size_t frame_max, long flip)
{
	struct kpy_save_opts o = { .name = "demo", .level = 1, .threads = 1 };
	struct kpy_err e = KPY_ERR_INIT, warn = KPY_ERR_INIT;
	char plain[PATH_MAX];

	PATHF(plain, "%s/plain.tar.zst", d);
	if (access(plain, F_OK) != 0)
		cr_assert_eq(kpy_archive_save(src, plain, &o, &warn, &e), 0, "%s", e.msg);
	snprintf(a, size, "%s/seek-%zu-%ld.tar.zst", d, frame_max, flip);
	cr_assert_eq(seekify(plain, a, frame_max, 2, flip), 0);
}

static void same_file(const char *x, const char *y)
{
	struct stat sx, sy;
	cr_assert_eq(lstat(x, &sx), 0, "%s", x);
	cr_assert_eq(lstat(y, &sy), 0, "%s", y);
	cr_assert_eq(sx.st_mode, sy.st_mode, "mode of %s: %o, %o", y, sx.st_mode, sy.st_mode);
	cr_assert_eq(sx.st_size, sy.st_size, "%s", y);
	if (!S_ISLNK(sx.st_mode))
		cr_assert(sx.st_mtim.tv_sec == sy.st_mtim.tv_sec, "mtime of %s", y);
}

Test(xtract, seekable_archive_restores_exactly_on_any_number_of_threads)
{
	struct kpy_err e = KPY_ERR_INIT;
	char a[PATH_MAX], dst[PATH_MAX], x[PATH_MAX], y[PATH_MAX];
	struct kpy_zs_index ix;

	saved(a, sizeof(a), 1u << 20, -1);
	int fd = open(a, O_RDONLY);
	cr_assert_eq(kpy_zs_index_read(fd, a, &ix, &e), 0, "%s", e.msg);
	cr_assert(ix.n >= 10, "the big file spans frames: %zu", ix.n);
	kpy_zs_index_free(&ix);
	close(fd);
	for (int t = 1; t <= 4; t++) {
		struct kpy_restore_opts o = { .threads = t };
		PATHF(dst, "%s/env%d", d, t);
		cr_assert_eq(kpy_archive_restore(a, dst, &o, NULL, &e), 0, "%d threads: %s", t, e.msg);
		PATHF(x, "%s/lib/python3.11/site-packages/big.bin", src);
		PATHF(y, "%s/lib/python3.11/site-packages/big.bin", dst);
		char *bx = get(x), *by = get(y);
		cr_assert(bx && by && memcmp(bx, by, BIG) == 0, "the big file byte-exact");
		free(bx);
		free(by);
		same_file(x, y);
		for (int i = 0; i < 200; i += 7) {
			PATHF(x, "%s/lib/python3.11/site-packages/m%03d.py", src, i);
			PATHF(y, "%s/lib/python3.11/site-packages/m%03d.py", dst, i);
			same_file(x, y);
			char *cx = get(x), *cy = get(y);
			cr_assert_str_eq(cx, cy);
			free(cx);
			free(cy);
		}
		/* the 0555 directory: its file written, then its mode and mtime set last */
		PATHF(x, "%s/lib/python3.11/site-packages/ro", src);
		PATHF(y, "%s/lib/python3.11/site-packages/ro", dst);
		same_file(x, y);
		PATHF(y, "%s/lib/python3.11/site-packages/ro/inside.txt", dst);
		char *t2 = get(y);
		cr_assert_str_eq(t2, "read-only dir\n");
		free(t2);
		/* relocated as before */
		PATHF(y, "%s/bin/tool", dst);
		t2 = get(y);
		PATHF(x, "#!%s/bin/python\n", dst);
		cr_assert(strncmp(t2, x, strlen(x)) == 0, "%s", t2);
		free(t2);
		PATHF(y, "%s/lib/python3.11/site-packages/ro", dst);
		chmod(y, 0755);
	}
}

Test(xtract, a_corrupt_frame_in_the_middle_leaves_nothing)
{
	struct kpy_err e = KPY_ERR_INIT;
	char a[PATH_MAX], dst[PATH_MAX], parent[PATH_MAX];
	struct kpy_restore_opts o = { .threads = 2 };

	saved(a, sizeof(a), 1u << 20, 5);
	PATHF(parent, "%s/into", d);
	mkdir(parent, 0755);
	PATHF(dst, "%s/env", parent);
	cr_assert_eq(kpy_archive_restore(a, dst, &o, NULL, &e), -1);
	cr_assert_eq(e.code, KPY_EDAMAGED, "%s", e.msg);
	cr_assert(strstr(e.msg, a) != NULL && strstr(e.msg, "damaged") != NULL, "%s", e.msg);
	cr_assert(strstr(e.msg, "frame 5") != NULL, "says which frame: %s", e.msg);
	cr_assert_eq(count(parent, ""), 2, "nothing left in %s", parent);
}

/* the same archive without its seek table (zstd -d | zstd) still restores, streaming */
Test(xtract, an_archive_without_a_seek_table_streams)
{
	struct kpy_err e = KPY_ERR_INIT;
	char a[PATH_MAX], plain[PATH_MAX], dst[PATH_MAX], cmd[PATH_MAX * 3], y[PATH_MAX];
	struct kpy_restore_opts o = { .threads = 3 };

	saved(a, sizeof(a), 1u << 20, -1);
	PATHF(plain, "%s/again.tar.zst", d);
	PATHF(cmd, "zstd -q -d -c '%s' | zstd -q --check -c > '%s'", a, plain);
	cr_assert_eq(system(cmd), 0);
	PATHF(dst, "%s/envs", d);
	cr_assert_eq(kpy_archive_restore(plain, dst, &o, NULL, &e), 0, "%s", e.msg);
	PATHF(y, "%s/lib/python3.11/site-packages/big.bin", dst);
	struct stat st;
	cr_assert_eq(stat(y, &st), 0);
	cr_assert_eq(st.st_size, BIG);
	PATHF(y, "%s/lib/python3.11/site-packages/ro", dst);
	chmod(y, 0755);
}

/* ---- the rules, straight at the writer ---- */

struct fx {
	int dirfd;
	char root[PATH_MAX], outside[PATH_MAX];
	struct kpy_xt *x;
};

static void fx_open(struct fx *f, int threads)
{
	PATHF(f->root, "%s/root", d);
	PATHF(f->outside, "%s/outside", d);
	mkdir(f->root, 0755);
	mkdir(f->outside, 0755);
	f->dirfd = open(f->root, O_RDONLY | O_DIRECTORY);
	cr_assert(f->dirfd >= 0);
	struct kpy_xt_opts o = { .threads = threads };
	cr_assert_not_null(f->x = kpy_xt_new(f->dirfd, &o));
}

static void fx_close(struct fx *f)
{
	struct kpy_err e = KPY_ERR_INIT;
	kpy_xt_free(f->x);
	close(f->dirfd);
	kpy_rmtree(f->root, &e);
}

static int file(struct kpy_xt *x, const char *name, const char *data)
{
	if (kpy_xt_file(x, name, 0644, strlen(data), NULL) < 0)
		return -1;
	if (kpy_xt_data(x, data, strlen(data), 0, NULL) < 0)
		return -1;
	return kpy_xt_file_end(x);
}

static void refused(struct fx *f, int rc, const char *what, const char *want)
{
	const char *why = NULL;
	int err = 0;
	if (rc == 0)
		rc = kpy_xt_wait(f->x);
	cr_assert_eq(rc, -1, "%s was accepted", what);
	cr_assert_eq(kpy_xt_error(f->x, &err, &why), KPY_EDAMAGED, "%s: %s", what, why);
	cr_assert(strstr(why, want) != NULL, "%s: %s", what, why);
	cr_assert_eq(count(f->outside, ""), 2, "%s: something appeared outside", what);
}

Test(xtract, a_file_under_a_symlink_is_refused)
{
	struct fx f;
	fx_open(&f, 2);
	cr_assert_eq(kpy_xt_symlink(f.x, "s", f.outside, NULL), 0);
	refused(&f, file(f.x, "s/evil", "x"), "a file under a symlink", "symlink");
	fx_close(&f);
}

Test(xtract, a_directory_or_link_under_a_symlink_is_refused)
{
	struct fx f;
	fx_open(&f, 2);
	cr_assert_eq(kpy_xt_symlink(f.x, "s", "../outside", NULL), 0);
	refused(&f, kpy_xt_dir(f.x, "s/./d", 0755, NULL), "a directory under a symlink", "symlink");
	fx_close(&f);
	fx_open(&f, 2);
	cr_assert_eq(kpy_xt_symlink(f.x, "s", "../outside", NULL), 0);
	refused(&f, kpy_xt_symlink(f.x, "s//l", "x", NULL), "a symlink under a symlink", "symlink");
	fx_close(&f);
}

Test(xtract, a_hard_link_through_a_symlink_is_refused)
{
	struct fx f;
	char victim[PATH_MAX];

	char vdir[PATH_MAX];
	fx_open(&f, 2);
	PATHF(vdir, "%s/vdir", d);
	mkdir(vdir, 0755);
	PATHF(victim, "%s/victim", vdir);
	put(victim, "v", 0644);
	cr_assert_eq(kpy_xt_symlink(f.x, "s", vdir, NULL), 0);
	refused(&f, kpy_xt_hardlink(f.x, "h", "s/victim"), "a hard link whose target goes through a symlink",
		"symlink");
	fx_close(&f);
	fx_open(&f, 2);
	cr_assert_eq(file(f.x, "f", "data"), 0);
	cr_assert_eq(kpy_xt_symlink(f.x, "s", vdir, NULL), 0);
	refused(&f, kpy_xt_hardlink(f.x, "s/h", "f"), "a hard link made through a symlink", "symlink");
	cr_assert_eq(count(vdir, ""), 3, "only the victim in %s", vdir);
	struct stat st;
	cr_assert_eq(stat(victim, &st), 0);
	cr_assert_eq(st.st_nlink, 1);
	unlink(victim);
	fx_close(&f);
}

Test(xtract, hard_links_lead_to_earlier_files_only)
{
	struct fx f;
	char p[PATH_MAX];
	struct stat st;

	fx_open(&f, 3);
	cr_assert_eq(kpy_xt_dir(f.x, "d", 0755, NULL), 0);
	cr_assert_eq(file(f.x, "d/f", "shared"), 0);
	cr_assert_eq(kpy_xt_hardlink(f.x, "d/g", "./d/f"), 0);
	cr_assert_eq(kpy_xt_wait(f.x), 0);
	PATHF(p, "%s/d/g", f.root);
	cr_assert_eq(stat(p, &st), 0);
	cr_assert_eq(st.st_nlink, 2);
	refused(&f, kpy_xt_hardlink(f.x, "h", "d"), "a hard link to a directory", "not a regular file");
	fx_close(&f);
	fx_open(&f, 3);
	refused(&f, kpy_xt_hardlink(f.x, "h", "later"), "a hard link to a file not yet written",
		"not a regular file");
	fx_close(&f);
}

Test(xtract, the_same_name_twice_is_refused_whoever_writes_it)
{
	struct fx f;
	fx_open(&f, 4);
	cr_assert_eq(file(f.x, "a", "one"), 0);
	refused(&f, file(f.x, "./a", "two"), "a file twice (the writers find it)", "same name");
	fx_close(&f);
	fx_open(&f, 4);
	cr_assert_eq(kpy_xt_dir(f.x, "a", 0755, NULL), 0);
	refused(&f, file(f.x, "a/", "two"), "a file over a directory", "same name");
	fx_close(&f);
	fx_open(&f, 4);
	cr_assert_eq(file(f.x, "a", "one"), 0);
	cr_assert_eq(kpy_xt_wait(f.x), 0);
	refused(&f, file(f.x, "a/b", "two"), "a file under a file", "not a directory");
	fx_close(&f);
	/* a directory may repeat */
	fx_open(&f, 1);
	cr_assert_eq(kpy_xt_dir(f.x, "a", 0755, NULL), 0);
	cr_assert_eq(kpy_xt_dir(f.x, "a/", 0700, NULL), 0);
	cr_assert_eq(kpy_xt_wait(f.x), 0);
	fx_close(&f);
}

Test(xtract, names_outside_are_refused)
{
	const char *bad[] = { "/etc/x", "../x", "a/../../x", ".", "./", "a/..", NULL };
	for (int i = 0; bad[i]; i++) {
		struct fx f;
		fx_open(&f, 1);
		refused(&f, file(f.x, bad[i], "x"), bad[i], "refusing to write outside");
		fx_close(&f);
	}
}

/* parents that the archive does not list are made (as tar does), with the default
 * mode; modes and mtimes of listed directories are set last, deepest first */
Test(xtract, directories_get_modes_and_times_last)
{
	struct fx f;
	char p[PATH_MAX];
	struct stat st;
	struct timespec t1 = { 1300000000, 5 }, t2 = { 1200000000, 7 };

	fx_open(&f, 2);
	cr_assert_eq(kpy_xt_dir(f.x, "ro", 0555, &t1), 0);
	cr_assert_eq(kpy_xt_dir(f.x, "ro/sub", 0500, &t2), 0);
	cr_assert_eq(file(f.x, "ro/sub/f", "in a read-only dir"), 0);
	cr_assert_eq(file(f.x, "made/for/me", "x"), 0);
	cr_assert_eq(kpy_xt_wait(f.x), 0);
	cr_assert_eq(kpy_xt_fixup(f.x), 0);
	PATHF(p, "%s/ro", f.root);
	cr_assert_eq(stat(p, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0555);
	cr_assert(st.st_mtim.tv_sec == t1.tv_sec && st.st_mtim.tv_nsec == t1.tv_nsec);
	PATHF(p, "%s/ro/sub", f.root);
	cr_assert_eq(stat(p, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0500);
	cr_assert(st.st_mtim.tv_sec == t2.tv_sec);
	PATHF(p, "%s/made/for", f.root);
	cr_assert_eq(stat(p, &st), 0);
	cr_assert(S_ISDIR(st.st_mode));
	PATHF(p, "%s/ro/sub", f.root);
	chmod(p, 0755);
	PATHF(p, "%s/ro", f.root);
	chmod(p, 0755);
	fx_close(&f);
}

/* a file in many pieces, some copied, with a hole: positioned writes, closed by the
 * last; copied data waiting for the writers stays under its bound */
Test(xtract, pieces_and_holes_and_bounded_copies)
{
	struct fx f;
	char p[PATH_MAX];
	size_t piece = 1u << 20, n = 40;
	unsigned char *buf = malloc(piece);
	struct timespec mt = { 1234567890, 0 };

	fx_open(&f, 2);
	cr_assert_eq(kpy_xt_file(f.x, "sparse", 0640, (uint64_t)piece * (n + 1), &mt), 0);
	for (size_t i = 0; i < n; i++) {
		memset(buf, (int)('a' + i % 26), piece);
		/* piece 0 left as a hole: data from piece 1 on */
		cr_assert_eq(kpy_xt_data(f.x, buf, piece, (uint64_t)(i + 1) * piece, NULL), 0);
	}
	cr_assert_eq(kpy_xt_file_end(f.x), 0);
	cr_assert_eq(kpy_xt_wait(f.x), 0);
	cr_assert(kpy_xt_peak_copied(f.x) <= KPY_XT_COPY_MAX, "%zu", kpy_xt_peak_copied(f.x));
	PATHF(p, "%s/sparse", f.root);
	struct stat st;
	cr_assert_eq(stat(p, &st), 0);
	cr_assert_eq((size_t)st.st_size, piece * (n + 1));
	cr_assert_eq(st.st_mode & 07777, 0640);
	cr_assert_eq(st.st_mtim.tv_sec, mt.tv_sec);
	int fd = open(p, O_RDONLY);
	unsigned char c;
	cr_assert_eq(pread(fd, &c, 1, 10), 1);
	cr_assert_eq(c, 0);
	cr_assert_eq(pread(fd, &c, 1, (off_t)(piece * 3 + 5)), 1);
	cr_assert_eq(c, 'c');
	close(fd);
	/* more data than the size says is damage */
	cr_assert_eq(kpy_xt_file(f.x, "short", 0644, 3, NULL), 0);
	refused(&f, kpy_xt_data(f.x, "toolong", 7, 0, NULL), "data past the size", "more data");
	free(buf);
	fx_close(&f);
}

/* setuid and setgid bits never come out of an archive */
Test(xtract, setuid_bits_are_dropped)
{
	struct fx f;
	char p[PATH_MAX];
	struct stat st;

	fx_open(&f, 1);
	cr_assert_eq(kpy_xt_file(f.x, "s", 06755 & 01777, 1, NULL), 0);
	cr_assert_eq(kpy_xt_data(f.x, "x", 1, 0, NULL), 0);
	cr_assert_eq(kpy_xt_file_end(f.x), 0);
	cr_assert_eq(kpy_xt_file(f.x, "t", 06755, 1, NULL), 0);
	cr_assert_eq(kpy_xt_data(f.x, "x", 1, 0, NULL), 0);
	cr_assert_eq(kpy_xt_file_end(f.x), 0);
	cr_assert_eq(kpy_xt_wait(f.x), 0);
	PATHF(p, "%s/t", f.root);
	cr_assert_eq(stat(p, &st), 0);
	cr_assert_eq(st.st_mode & 07000, 0, "%o", st.st_mode);
	fx_close(&f);
}
