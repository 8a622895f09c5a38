/* test_envarchive.c: kpy/envarchive.c: save/restore round trip, atomic replace, hostile and
 * damaged archives refused with nothing written outside and nothing left behind. */
#include "helpers.h"
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <grp.h>
#include <sys/wait.h>
#include "envarchive.h"
#include "live.h"
#include "manifest.h"
#include "store.h"
#include "zio.h"

static char *d;
static char src[PATH_MAX];

/* A small fake venv at D/src: enough for save and restore (bin/python -> real python). */
static void make_env(void)
{
	char p[PATH_MAX];

	d = mk_tmpdir();
	PATHF(src, "%s/src", d);
	mk_venv_skeleton(src, "demo-1.0.dist-info");
	PATHF(p, "%s/bin/activate", src);
	char act[PATH_MAX * 2];
	PATHF(act, "VIRTUAL_ENV=%s\nexport VIRTUAL_ENV\nPS1='(src) '\"${PS1:-}\"\nVIRTUAL_ENV_PROMPT='(src) '\n", src);
	put(p, act, 0644);
	PATHF(p, "%s/bin/tool", src);
	PATHF(act, "#!%s/bin/python\nprint('tool')\n", src);
	put(p, act, 0755);
	PATHF(p, "%s/lib/python3.11/site-packages/demo.pth", src);
	PATHF(act, "%s/extra\n", src);
	put(p, act, 0644);
	PATHF(p, "%s/lib/python3.11/site-packages/blob.bin", src);
	put(p, "binary\0", 0600);
	PATHF(p, "%s/lib/python3.11/site-packages/abs-link", src);
	PATHF(act, "%s/pyvenv.cfg", src);
	cr_assert_eq(symlink(act, p), 0);
	PATHF(p, "%s/lib64", src);
	cr_assert_eq(symlink("lib", p), 0);
	PATHF(p, "%s/bin/tool", src);
	struct timespec ts[2] = { { 1500000000, 0 }, { 1500000000, 0 } };
	utimensat(AT_FDCWD, p, ts, AT_SYMLINK_NOFOLLOW);
}

static void cleanup(void)
{
	rm_tmpdir(d);
}

TestSuite(archive, .init = make_env, .fini = cleanup);

static int save(const char *dest, const char *name, int force, struct kpy_err *e)
{
	struct kpy_save_opts o = { .name = name, .force = force, .level = 3, .threads = 1 };
	struct kpy_err warn = KPY_ERR_INIT;
	return kpy_archive_save(src, dest, &o, &warn, e);
}

/* Number of entries in DIR whose name starts with PREFIX. */
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

Test(archive, round_trip_relocates)
{
	struct kpy_err e = KPY_ERR_INIT;
	struct kpy_manifest m;
	char a[PATH_MAX], dst[PATH_MAX], p[PATH_MAX], want[PATH_MAX * 2], *t;
	struct stat st;

	PATHF(a, "%s/demo.tar.zst", d);
	cr_assert_eq(save(a, "demo", 0, &e), 0, "%s", e.msg);
	cr_assert_eq(kpy_archive_manifest(a, &m, &e), 0, "%s", e.msg);
	cr_assert_str_eq(m.prefix, src);
	cr_assert_str_eq(m.prompt, "demo", "the live prompt was src, the archive's is the saved name");
	cr_assert_str_eq(m.python_version, "3.11.2");
	cr_assert_str_eq(m.base_python, "/usr/bin/python3.11");
	cr_assert_eq(m.files, 13);
	kpy_manifest_free(&m);

	/* the live env: prompt renamed, kpy metadata added, the rest unchanged */
	PATHF(p, "%s/bin/activate", src);
	t = get(p);
	cr_assert(strstr(t, "(demo)") != NULL && strstr(t, "(src)") == NULL, "%s", t);
	free(t);
	PATHF(p, "%s/.kpy/packages", src);
	t = get(p);
	cr_assert_str_eq(t, "demo-1.0.dist-info\n");
	free(t);

	PATHF(dst, "%s/elsewhere/deeper/env", d);
	PATHF(p, "%s/elsewhere/deeper", d);
	cr_assert_eq(kpy_mkdirs(p, 0755, &e), 0);
	struct kpy_restore_opts ro = { .prompt = "other" };
	cr_assert_eq(kpy_archive_restore(a, dst, &ro, &m, &e), 0, "%s", e.msg);
	kpy_manifest_free(&m);
	PATHF(p, "%s/bin/tool", dst);
	t = get(p);
	PATHF(want, "#!%s/bin/python\nprint('tool')\n", dst);
	cr_assert_str_eq(t, want);
	free(t);
	stat(p, &st);
	cr_assert_eq(st.st_mtime, 1500000000, "mtime kept through relocation");
	cr_assert_eq(st.st_mode & 0777, 0755);
	PATHF(p, "%s/lib/python3.11/site-packages/blob.bin", dst);
	stat(p, &st);
	cr_assert_eq(st.st_mode & 0777, 0600);
	PATHF(p, "%s/lib/python3.11/site-packages/demo.pth", dst);
	t = get(p);
	PATHF(want, "%s/extra\n", dst);
	cr_assert_str_eq(t, want);
	free(t);
	PATHF(p, "%s/bin/activate", dst);
	t = get(p);
	cr_assert(strstr(t, dst) != NULL && strstr(t, "(other)") != NULL && strstr(t, src) == NULL, "%s", t);
	free(t);
	char link[PATH_MAX];
	PATHF(p, "%s/lib/python3.11/site-packages/abs-link", dst);
	ssize_t n = readlink(p, link, sizeof(link) - 1);
	link[n > 0 ? n : 0] = '\0';
	PATHF(want, "%s/pyvenv.cfg", dst);
	cr_assert_str_eq(link, want);
	PATHF(p, "%s/lib64", dst);
	n = readlink(p, link, sizeof(link) - 1);
	link[n > 0 ? n : 0] = '\0';
	cr_assert_str_eq(link, "lib");
	PATHF(p, "%s/elsewhere/deeper", d);
	cr_assert_eq(count(p, "."), 2, "only . and .. : no temporary left");

	kpy_err_clear(&e);
	cr_assert_eq(kpy_archive_restore(a, dst, NULL, NULL, &e), -1);
	cr_assert_eq(e.code, KPY_ETAKEN);
}

Test(archive, save_needs_force_and_replaces_atomically)
{
	struct kpy_err e = KPY_ERR_INIT;
	struct kpy_manifest m;
	char a[PATH_MAX];
	struct stat st1, st2;

	PATHF(a, "%s/demo.tar.zst", d);
	cr_assert_eq(save(a, "demo", 0, &e), 0, "%s", e.msg);
	stat(a, &st1);
	cr_assert_eq(save(a, "demo", 0, &e), -1);
	cr_assert_eq(e.code, KPY_EEXIST);
	cr_assert(strstr(e.msg, a) != NULL && strstr(e.msg, "kpy save") == NULL, "facts only: %s", e.msg);
	stat(a, &st2);
	cr_assert_eq(st1.st_ino, st2.st_ino, "refused save left the archive alone");
	kpy_err_clear(&e);
	cr_assert_eq(save(a, "demo", 1, &e), 0, "%s", e.msg);
	stat(a, &st2);
	cr_assert_neq(st1.st_ino, st2.st_ino, "replaced by rename");
	cr_assert_eq(kpy_archive_manifest(a, &m, &e), 0);
	kpy_manifest_free(&m);
	cr_assert_eq(count(d, ".demo"), 0, "no temporary left beside the archive");
}

Test(archive, not_a_venv)
{
	struct kpy_err e = KPY_ERR_INIT;
	char a[PATH_MAX], p[PATH_MAX];

	PATHF(p, "%s/pyvenv.cfg", src);
	unlink(p);
	PATHF(a, "%s/demo.tar.zst", d);
	cr_assert_eq(save(a, "demo", 0, &e), -1);
	cr_assert_eq(e.code, KPY_ENOTVENV);
	cr_assert(strstr(e.msg, "not a virtual environment"), "%s", e.msg);
	cr_assert(!exists(a));
}

/* ---- hostile and damaged archives ---- */

struct ent {
	const char *name;
	int type;
	const char *data;   /* file data, or symlink/hardlink target */
	int hard;
};

static void forge_named(const char *path, const char *manifest, const char *prefix,
			const struct ent *v, size_t n, int with_reloc)
{
	struct kpy_err e = KPY_ERR_INIT;
	struct archive *a = archive_write_new();
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	char man[512];

	archive_write_set_format_pax_restricted(a);
	cr_assert_eq(kpy_zw_open(a, fd, 1, 1, NULL, &e), 0);
	PATHF(man, "format = 1\nkind = venv\nprefix = %s\nfiles = %zu\n", prefix, n);
	struct ent head = { manifest, AE_IFREG, man, 0 };
	struct ent tail = { ".kpy/relocate", AE_IFREG, "", 0 };
	for (size_t i = 0; i < n + 2; i++) {
		const struct ent *x = i == 0 ? &head : i == n + 1 ? &tail : &v[i - 1];
		if (i == n + 1 && !with_reloc)
			break;
		struct archive_entry *ae = archive_entry_new();
		archive_entry_set_pathname(ae, x->name);
		archive_entry_set_filetype(ae, (unsigned)x->type);
		archive_entry_set_perm(ae, 0644);
		if (x->hard) {
			archive_entry_set_hardlink(ae, x->data);
			archive_entry_set_size(ae, 0);
		} else if (x->type == AE_IFLNK) {
			archive_entry_set_symlink(ae, x->data);
		} else if (x->type == AE_IFREG) {
			archive_entry_set_size(ae, (la_int64_t)strlen(x->data));
		}
		cr_assert_eq(archive_write_header(a, ae), ARCHIVE_OK, "%s", archive_error_string(a));
		if (x->type == AE_IFREG && !x->hard && strlen(x->data))
			archive_write_data(a, x->data, strlen(x->data));
		archive_entry_free(ae);
	}
	archive_write_close(a);
	archive_write_free(a);
	close(fd);
}

static void forge(const char *path, const char *prefix, const struct ent *v, size_t n, int with_reloc)
{
	forge_named(path, ".kpy/manifest.ini", prefix, v, n, with_reloc);
}

static void refused(const struct ent *v, size_t n, const char *what)
{
	struct kpy_err e = KPY_ERR_INIT;
	char a[PATH_MAX], dst[PATH_MAX], outside[PATH_MAX], p[PATH_MAX];

	PATHF(outside, "%s/outside", d);
	mkdir(outside, 0755);
	PATHF(p, "%s/outside/secret", d);
	put(p, "secret", 0644);
	PATHF(a, "%s/evil.tar.zst", d);
	forge(a, "/old/env", v, n, 1);
	PATHF(p, "%s/restore", d);
	mkdir(p, 0755);
	PATHF(dst, "%s/restore/env", d);
	cr_assert_eq(kpy_archive_restore(a, dst, NULL, NULL, &e), -1, "%s was accepted", what);
	cr_assert_eq(e.code, KPY_EDAMAGED, "%s: %s", what, e.msg);
	cr_assert(strstr(e.msg, a) != NULL, "names the archive: %s", e.msg);
	cr_assert(!exists(dst), "%s: target left behind", what);
	cr_assert_eq(count(p, "."), 2, "%s: temporary left behind", what);
	PATHF(p, "%s/outside/secret", d);
	char *t = get(p);
	cr_assert_str_eq(t, "secret", "%s: wrote outside", what);
	free(t);
	cr_assert_eq(count(outside, ""), 3, "%s: a file appeared outside", what);
}

/* The manifest's next name, .kpy/manifest.cfg, is read already: an archive whose
 * first entry has it (from a later kpy) loads and its manifest reads; a save still
 * writes .kpy/manifest.ini (older readers need it) and leaves one manifest in the
 * live env. */
Test(archive, next_manifest_name_is_read)
{
	struct kpy_err e = KPY_ERR_INIT;
	struct kpy_manifest m = { 0 };
	char a[PATH_MAX], dst[PATH_MAX], p[PATH_MAX];
	const struct ent v[] = { { "lib", AE_IFDIR, "", 0 }, { "lib/f", AE_IFREG, "data", 0 } };

	PATHF(a, "%s/next.tar.zst", d);
	forge_named(a, ".kpy/manifest.cfg", "/old/env", v, 2, 1);
	cr_assert_eq(kpy_archive_manifest(a, &m, &e), 0, "%s", e.msg);
	cr_assert_str_eq(m.prefix, "/old/env");
	kpy_manifest_free(&m);
	PATHF(dst, "%s/nextenv", d);
	cr_assert_eq(kpy_archive_restore(a, dst, NULL, NULL, &e), 0, "%s", e.msg);
	PATHF(p, "%s/lib/f", dst);
	cr_assert(exists(p));
	/* a live env holding only a manifest of the next name: it reads */
	PATHF(p, "%s/.kpy", dst);
	mkdir(p, 0755);
	PATHF(p, "%s/.kpy/manifest.cfg", dst);
	put(p, "format = 1\nkind = venv\nprefix = /old/env\nfiles = 2\nname = x\n", 0644);
	cr_assert_eq(kpy_live_manifest(dst, &m, &e), 0, "%s", e.msg);
	cr_assert_str_eq(m.name, "x");
	kpy_manifest_free(&m);

	/* the live env holds a manifest of the next name: the save leaves one, the old name */
	PATHF(p, "%s/.kpy", src);
	mkdir(p, 0755);
	PATHF(p, "%s/.kpy/manifest.cfg", src);
	put(p, "format = 1\n", 0644);
	PATHF(a, "%s/new.tar.zst", d);
	cr_assert_eq(save(a, "new", 0, &e), 0, "%s", e.msg);
	PATHF(p, "%s/.kpy/manifest.ini", src);
	cr_assert(exists(p), "the live env holds the manifest a save writes");
	PATHF(p, "%s/.kpy/manifest.cfg", src);
	cr_assert(!exists(p));
}

Test(archive, absolute_name_refused)
{
	char p[PATH_MAX];
	PATHF(p, "%s/outside/new", d);
	struct ent v[] = { { p, AE_IFREG, "x", 0 } };
	refused(v, 1, "absolute name");
}

Test(archive, dotdot_refused)
{
	struct ent v[] = { { "bin/../../../outside/new", AE_IFREG, "x", 0 } };
	refused(v, 1, "..");
}

Test(archive, write_through_symlink_refused)
{
	char p[PATH_MAX];
	PATHF(p, "%s/outside", d);
	struct ent v[] = { { "escape", AE_IFLNK, p, 0 }, { "escape/new", AE_IFREG, "x", 0 } };
	refused(v, 2, "symlink then a path through it");
}

Test(archive, hardlink_outside_refused)
{
	char p[PATH_MAX];
	PATHF(p, "%s/outside/secret", d);
	struct ent v[] = { { "grab", AE_IFREG, p, 1 } };
	refused(v, 1, "hardlink to an outside path");
	struct ent w[] = { { "grab", AE_IFREG, "../../outside/secret", 1 } };
	refused(w, 1, "hardlink with ..");
}

Test(archive, device_refused)
{
	struct ent v[] = { { "dev", AE_IFCHR, "", 0 } };
	refused(v, 1, "a device node");
}

Test(archive, truncated_and_corrupt_refused)
{
	struct kpy_err e = KPY_ERR_INIT;
	char a[PATH_MAX], dst[PATH_MAX], p[PATH_MAX];
	struct stat st;

	PATHF(a, "%s/demo.tar.zst", d);
	cr_assert_eq(save(a, "demo", 0, &e), 0, "%s", e.msg);
	stat(a, &st);
	PATHF(p, "%s/restore", d);
	mkdir(p, 0755);
	PATHF(dst, "%s/restore/env", d);
	for (off_t cut = st.st_size - 1; cut > 0; cut = cut * 2 / 3) {
		char t[PATH_MAX], cmd[PATH_MAX * 3];
		PATHF(t, "%s/cut.tar.zst", d);
		PATHF(cmd, "head -c %lld '%s' > '%s'", (long long)cut, a, t);
		cr_assert_eq(system(cmd), 0);
		kpy_err_clear(&e);
		cr_assert_eq(kpy_archive_restore(t, dst, NULL, NULL, &e), -1, "cut at %lld accepted", (long long)cut);
		cr_assert(e.code == KPY_EDAMAGED, "cut at %lld: %s", (long long)cut, e.msg);
		cr_assert(strstr(e.msg, "damaged") != NULL);
		cr_assert(!exists(dst));
		cr_assert_eq(count(p, "."), 2);
	}
	/* an archive whose last entry (.kpy/relocate) is missing is incomplete */
	struct ent v[] = { { "x", AE_IFREG, "x", 0 } };
	forge(a, "/old/env", v, 1, 0);
	kpy_err_clear(&e);
	cr_assert_eq(kpy_archive_restore(a, dst, NULL, NULL, &e), -1);
	cr_assert_eq(e.code, KPY_EDAMAGED, "%s", e.msg);
	/* not zstd at all */
	put(a, "just text", 0644);
	kpy_err_clear(&e);
	cr_assert_eq(kpy_archive_restore(a, dst, NULL, NULL, &e), -1);
	cr_assert_eq(e.code, KPY_EDAMAGED, "%s", e.msg);
	kpy_err_clear(&e);
	cr_assert_eq(kpy_archive_manifest(a, NULL, &e) == 0 ? 0 : e.code, KPY_EDAMAGED);
}

Test(archive, missing_base_python_is_named)
{
	struct kpy_err e = KPY_ERR_INIT;
	char a[PATH_MAX], dst[PATH_MAX], p[PATH_MAX];

	PATHF(p, "%s/bin/python", src);
	unlink(p);
	cr_assert_eq(symlink("/nonexistent/python3.99", p), 0);
	PATHF(p, "%s/pyvenv.cfg", src);
	put(p, "home = /nonexistent\nversion = 3.99.0\nexecutable = /nonexistent/python3.99\n", 0644);
	PATHF(a, "%s/demo.tar.zst", d);
	cr_assert_eq(save(a, "demo", 0, &e), 0, "%s", e.msg);
	PATHF(dst, "%s/env", d);
	cr_assert_eq(kpy_archive_restore(a, dst, NULL, NULL, &e), -1);
	cr_assert_eq(e.code, KPY_ENOPYTHON);
	cr_assert(strstr(e.msg, "/nonexistent/python3.99") != NULL, "%s", e.msg);
	cr_assert(strstr(e.msg, "missing on this machine") != NULL && strstr(e.msg, "module load") == NULL, "%s", e.msg);
	cr_assert(!exists(dst));
}

Test(archive, disk_full_fails_cleanly)
{
	struct kpy_err e = KPY_ERR_INIT;
	char a[PATH_MAX], mnt[PATH_MAX], dst[PATH_MAX], cmd[PATH_MAX * 2];

	if (geteuid() != 0)
		cr_skip_test("mounting a small tmpfs needs root");
	PATHF(a, "%s/demo.tar.zst", d);
	/* 1 MiB of incompressible data cannot fit a 256 KiB file system */
	PATHF(cmd, "head -c 1048576 /dev/urandom > '%s/lib/big.bin'", src);
	cr_assert_eq(system(cmd), 0);
	cr_assert_eq(save(a, "demo", 0, &e), 0, "%s", e.msg);
	PATHF(mnt, "%s/small", d);
	mkdir(mnt, 0755);
	PATHF(cmd, "mount -t tmpfs -o size=256k kpytest '%s'", mnt);
	cr_assert_eq(system(cmd), 0, "cannot mount tmpfs");
	PATHF(dst, "%s/env", mnt);
	int rc = kpy_archive_restore(a, dst, NULL, NULL, &e);
	int left = count(mnt, ".") + count(mnt, "e");
	PATHF(cmd, "umount '%s'", mnt);
	(void)!system(cmd);
	cr_assert_eq(rc, -1);
	cr_assert_eq(e.code, KPY_ENOSPC, "%s", e.msg);
	cr_assert(strstr(e.msg, "cannot restore") != NULL && strstr(e.msg, "free space") == NULL, "%s", e.msg);
	cr_assert_eq(left, 2, "only . and .. remain on the full file system");
}

Test(archive, fifos_and_sockets_are_left_out_and_the_env_still_loads)
{
	struct kpy_err e = KPY_ERR_INIT;
	char a[PATH_MAX], p[PATH_MAX], dst[PATH_MAX];

	PATHF(p, "%s/lib/a-fifo", src);
	cr_assert_eq(mkfifo(p, 0644), 0);
	PATHF(a, "%s/demo.tar.zst", d);
	cr_assert_eq(save(a, "demo", 0, &e), 0, "%s", e.msg);
	PATHF(dst, "%s/env", d);
	cr_assert_eq(kpy_archive_restore(a, dst, NULL, NULL, &e), 0, "%s", e.msg);
	PATHF(p, "%s/lib/a-fifo", dst);
	cr_assert(!exists(p));
}

/* ---- hardening: misleading messages and leftovers ---- */

Test(archive, duplicate_entry_is_damaged)
{
	struct ent v[] = { { "f", AE_IFREG, "one", 0 }, { "f", AE_IFREG, "two", 0 } };
	refused(v, 2, "a duplicate entry");
}

Test(archive, hardlink_to_a_symlink_is_damaged)
{
	struct ent v[] = { { "s", AE_IFLNK, "/etc/passwd", 0 }, { "h", AE_IFREG, "s", 1 } };
	refused(v, 2, "a hard link to a symlink");
}

Test(archive, wrong_file_count_is_not_called_truncated)
{
	struct kpy_err e = KPY_ERR_INIT;
	char a[PATH_MAX], dst[PATH_MAX];

	PATHF(a, "%s/count.tar.zst", d);
	PATHF(dst, "%s/env", d);
	/* complete (it ends with .kpy/relocate) but its manifest counts 7 files, not 1 */
	struct archive *ar = archive_write_new();
	int fd = open(a, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	archive_write_set_format_pax_restricted(ar);
	cr_assert_eq(kpy_zw_open(ar, fd, 1, 1, NULL, &e), 0);
	const char *man = "format = 1\nkind = uv-cache\nprefix = /old/env\nfiles = 7\n";
	const char *names[] = { ".kpy/manifest.ini", "x", ".kpy/relocate" };
	const char *data[] = { man, "x", "" };
	for (int i = 0; i < 3; i++) {
		struct archive_entry *ae = archive_entry_new();
		archive_entry_set_pathname(ae, names[i]);
		archive_entry_set_filetype(ae, AE_IFREG);
		archive_entry_set_perm(ae, 0644);
		archive_entry_set_size(ae, (la_int64_t)strlen(data[i]));
		cr_assert_eq(archive_write_header(ar, ae), ARCHIVE_OK);
		archive_write_data(ar, data[i], strlen(data[i]));
		archive_entry_free(ae);
	}
	archive_write_close(ar);
	archive_write_free(ar);
	close(fd);
	cr_assert_eq(kpy_archive_restore(a, dst, NULL, NULL, &e), -1);
	cr_assert_eq(e.code, KPY_EDAMAGED, "%s", e.msg);
	cr_assert(strstr(e.msg, "truncated") == NULL, "%s", e.msg);
	cr_assert(strstr(e.msg, "7") != NULL, "names the counts: %s", e.msg);
	cr_assert(!exists(dst));
}

/* A failed restore of an archive holding a mode-0000 directory with files inside
 * leaves nothing behind (the directory's mode is fixed before it is emptied). */
Test(archive, failed_restore_with_unreadable_directory_leaves_nothing)
{
	struct kpy_err e = KPY_ERR_INIT;
	char a[PATH_MAX], p[PATH_MAX], dst[PATH_MAX];
	struct archive *ar = archive_write_new();
	int fd;

	PATHF(a, "%s/locked.tar.zst", d);
	fd = open(a, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	archive_write_set_format_pax_restricted(ar);
	cr_assert_eq(kpy_zw_open(ar, fd, 1, 1, NULL, &e), 0);
	const char *man = "format = 1\nkind = uv-cache\nprefix = /old/env\nfiles = 5\n";
	struct { const char *name; int type; int perm; const char *data; } v[] = {
		{ ".kpy/manifest.ini", AE_IFREG, 0644, man },
		{ "locked", AE_IFDIR, 0, "" },
		{ "locked/sub", AE_IFDIR, 0, "" },
		{ "locked/sub/f", AE_IFREG, 0644, "data" },
		{ "locked/g", AE_IFREG, 0644, "data" },
		{ "/abs/later", AE_IFREG, 0644, "x" }, /* refused: the restore fails here */
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct archive_entry *ae = archive_entry_new();
		archive_entry_set_pathname(ae, v[i].name);
		archive_entry_set_filetype(ae, (unsigned)v[i].type);
		archive_entry_set_perm(ae, (mode_t)v[i].perm);
		archive_entry_set_size(ae, (la_int64_t)strlen(v[i].data));
		cr_assert_eq(archive_write_header(ar, ae), ARCHIVE_OK);
		archive_write_data(ar, v[i].data, strlen(v[i].data));
		archive_entry_free(ae);
	}
	archive_write_close(ar);
	archive_write_free(ar);
	close(fd);
	PATHF(p, "%s/restore", d);
	mkdir(p, 0755);
	PATHF(dst, "%s/restore/env", d);
	/* as an ordinary user: root would read a mode-0000 directory anyway */
	if (geteuid() == 0) {
		chmod(d, 0755);
		chmod(a, 0644);
		cr_assert_eq(chown(p, 65534, 65534), 0);
	}
	pid_t pid = fork();
	if (pid == 0) {
		if (geteuid() == 0 && (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0))
			_exit(3);
		int rc = kpy_archive_restore(a, dst, NULL, NULL, &e);
		_exit(rc == -1 && e.code == KPY_EDAMAGED ? 0 : 4);
	}
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the restore did not fail as damaged");
	int left = count(p, ".");
	(void)!chown(p, 0, 0);
	cr_assert_eq(left, 2, "the temporary directory was left behind");
}

/* A file whose full path exceeds PATH_MAX: an error naming it, no truncated path used. */
Test(archive, too_long_path_is_an_error_not_truncated)
{
	struct kpy_err e = KPY_ERR_INIT;
	char a[PATH_MAX], p[PATH_MAX], name[201];
	int fd;

	memset(name, 'n', 200);
	name[200] = '\0';
	PATHF(p, "%s/lib", src);
	fd = open(p, O_RDONLY | O_DIRECTORY);
	for (int i = 0; i < 22; i++) { /* 22 * 201 bytes: beyond PATH_MAX */
		cr_assert_eq(mkdirat(fd, name, 0755), 0);
		int sub = openat(fd, name, O_RDONLY | O_DIRECTORY);
		close(fd);
		fd = sub;
	}
	int f = openat(fd, "leaf.txt", O_WRONLY | O_CREAT, 0644);
	cr_assert(f >= 0);
	close(f);
	/* a file at the truncated path would be read instead */
	close(fd);
	PATHF(a, "%s/demo.tar.zst", d);
	cr_assert_eq(save(a, "demo", 0, &e), -1);
	cr_assert(strstr(e.msg, "longer than the limit") != NULL, "%s", e.msg);
	cr_assert(strstr(e.msg, src) != NULL, "names the path: %s", e.msg);
	cr_assert(!exists(a));
	cr_assert_eq(count(d, ".demo"), 0, "no temporary left");
}

static int open_fds(void)
{
	return count("/proc/self/fd", "");
}

/* Writing the live env's .kpy/ fails (its file system is full): a warning, and no
 * file descriptor is left open. */
Test(archive, failed_live_metadata_write_leaks_no_fd)
{
	struct kpy_err e = KPY_ERR_INIT, warn = KPY_ERR_INIT;
	char a[PATH_MAX], p[PATH_MAX], cmd[PATH_MAX * 2];

	if (geteuid() != 0)
		cr_skip_test("mounting a small tmpfs needs root");
	PATHF(p, "%s/.kpy", src);
	mkdir(p, 0755);
	PATHF(cmd, "mount -t tmpfs -o size=64k kpytest '%s' && head -c 1048576 /dev/zero > '%s/fill' 2>/dev/null; true", p, p);
	cr_assert_eq(system(cmd), 0);
	PATHF(a, "%s/demo.tar.zst", d);
	struct kpy_save_opts o = { .name = "demo", .level = 3, .threads = 1 };
	int before = open_fds();
	int rc = kpy_archive_save(src, a, &o, &warn, &e);
	int after = open_fds();
	PATHF(cmd, "umount -l '%s'", p); /* -l: a leaked fd would keep it busy */
	(void)!system(cmd);
	cr_assert_eq(rc, 0, "%s", e.msg);
	cr_assert(warn.code != 0, "the failed write is a warning");
	cr_assert_eq(after, before, "file descriptors leaked: %d before, %d after", before, after);
}

/* A uv cache keeps its hard links as links and its text as it is (no relocation);
 * a venv's hard links are stored as separate files. */
Test(archive, uv_cache_keeps_hard_links_and_text)
{
	struct kpy_err e = KPY_ERR_INIT, warn = KPY_ERR_INIT;
	struct kpy_manifest m = { 0 };
	char c[PATH_MAX], p[PATH_MAX], q[PATH_MAX], dest[PATH_MAX], out[PATH_MAX], text[PATH_MAX * 2];
	struct stat a, b;

	PATHF(c, "%s/uvc", d);
	PATHF(p, "%s/archive-v0/x1/pkg", c);
	cr_assert_eq(kpy_mkdirs(p, 0755, &e), 0);
	static const char tag[] = "Signature: 8a477f597d28d172789f06886806bc55\n";
	PATHF(p, "%s/CACHEDIR.TAG", c);
	put(p, tag, 0644);
	PATHF(p, "%s/archive-v0/x1/pkg/mod.py", c);
	PATHF(text, "# made in %s\n", c);
	put(p, text, 0644);
	PATHF(q, "%s/archive-v0/x1/pkg/same.py", c);
	cr_assert_eq(link(p, q), 0);
	PATHF(q, "%s/archive-v0/x1/pkg/third.py", c);
	cr_assert_eq(link(p, q), 0);
	PATHF(dest, "%s/c.tar.zst", d);
	struct kpy_save_opts o = { .name = "c", .kind = KPY_KIND_UV, .level = 3, .threads = 1 };
	cr_assert_eq(kpy_archive_save(c, dest, &o, &warn, &e), 0, "%s", e.msg);
	cr_assert_eq(warn.code, KPY_OK);
	PATHF(p, "%s/.kpy", c);
	cr_assert_not(exists(p), "saving a uv cache writes nothing into it");

	PATHF(out, "%s/restored", d);
	cr_assert_eq(kpy_archive_restore(dest, out, NULL, &m, &e), 0, "%s", e.msg);
	cr_assert_str_eq(m.kind, KPY_KIND_UV);
	cr_assert_eq(m.bytes, (long long)(strlen(text) + strlen(tag)), "linked bytes count once");
	kpy_manifest_free(&m);
	PATHF(p, "%s/archive-v0/x1/pkg/mod.py", out);
	PATHF(q, "%s/archive-v0/x1/pkg/third.py", out);
	cr_assert_eq(stat(p, &a), 0);
	cr_assert_eq(stat(q, &b), 0);
	cr_assert_eq(a.st_ino, b.st_ino, "hard links come back as links");
	cr_assert_eq(a.st_nlink, 3);
	char *got = get(p);
	cr_assert_str_eq(got, text, "a uv cache's text is not relocated");
	free(got);

	/* the same links in a venv are separate files after a round trip */
	PATHF(p, "%s/bin/tool", src);
	PATHF(q, "%s/bin/tool2", src);
	cr_assert_eq(link(p, q), 0);
	PATHF(dest, "%s/v.tar.zst", d);
	cr_assert_eq(save(dest, "v", 0, &e), 0, "%s", e.msg);
	PATHF(out, "%s/venv-restored", d);
	cr_assert_eq(kpy_archive_restore(dest, out, NULL, NULL, &e), 0, "%s", e.msg);
	PATHF(p, "%s/bin/tool", out);
	PATHF(q, "%s/bin/tool2", out);
	cr_assert_eq(stat(p, &a), 0);
	cr_assert_eq(stat(q, &b), 0);
	cr_assert_neq(a.st_ino, b.st_ino);
}
