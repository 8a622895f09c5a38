/* test_fanout.c: kpy/fanout.c: the checksum, the token, the copy's checks, sbcast's
 * failures and the clean-up. */
#include "helpers.h"
#include <dirent.h>
#include <inttypes.h>
#include <sys/wait.h>
#include "fanout.h"

static uint64_t sum_of(const void *p, size_t n)
{
	struct kpy_sum s;

	kpy_sum_init(&s);
	kpy_sum_update(&s, p, n);
	return kpy_sum_final(&s);
}

/* XXH64 (seed 0) reference values */
Test(fanout, xxh64_known_values)
{
	cr_assert_eq(sum_of("", 0), 0xEF46DB3751D8E999ULL);
	cr_assert_eq(sum_of("abc", 3), 0x44BC2CF5AD770999ULL);
}

Test(fanout, streaming_equals_one_pass_and_detects_a_flip)
{
	static unsigned char data[100000];
	struct kpy_sum s;
	uint64_t whole;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(i * 7 + (i >> 8));
	whole = sum_of(data, sizeof(data));
	for (size_t step = 1; step < 100; step += 13) {
		kpy_sum_init(&s);
		for (size_t off = 0; off < sizeof(data); off += step)
			kpy_sum_update(&s, data + off, off + step > sizeof(data) ? sizeof(data) - off : step);
		cr_assert_eq(kpy_sum_final(&s), whole, "step %zu", step);
	}
	for (size_t len = 0; len < 70; len++)
		cr_assert_neq(sum_of(data, len), sum_of(data, len + 1), "len %zu", len);
	data[54321] ^= 1;
	cr_assert_neq(sum_of(data, sizeof(data)), whole);
}

Test(fanout, token_round_trip_and_malformed)
{
	struct kpy_fanout f = { .jobid = 42, .size = 123456789ULL, .sum = 0x00ab00cd00ef0012ULL }, g;
	struct kpy_err e = KPY_ERR_INIT;
	char buf[512];

	strcpy(f.name, "demo-1.x");
	cr_assert_eq(kpy_fanout_new_id(&f, &e), 0);
	cr_assert_eq(strlen(f.id), 16);
	cr_assert_eq(kpy_fanout_format(&f, buf, sizeof(buf)), 0);
	cr_assert_eq(kpy_fanout_parse(buf, &g), 0, "%s", buf);
	cr_assert_eq(g.jobid, 42);
	cr_assert_eq(g.size, 123456789ULL);
	cr_assert_eq(g.sum, f.sum);
	cr_assert_str_eq(g.id, f.id);
	cr_assert_str_eq(g.name, "demo-1.x");
	cr_assert_eq(kpy_fanout_format(&f, buf, 10), -1);
	const char *bad[] = { "", "x", "0:1:0000000000000000:0000000000000000:a",
		"1:1:000000000000000:0000000000000000:a", "1:1:0000000000000000:0000000000000000:",
		"1:1:0000000000000000:000000000000000G:a", "1::0000000000000000:0000000000000000:a",
		"99999999999:1:0000000000000000:0000000000000000:a" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(kpy_fanout_parse(bad[i], &g), -1, "%s", bad[i]);
	cr_assert_str_eq(kpy_fanout_var("venv"), "KPY_FANOUT_VENV");
	cr_assert_str_eq(kpy_fanout_var("uv-cache"), "KPY_FANOUT_UV");
}

/* a fake sbcast in DIR: SCRIPT is its body */
static void fake_sbcast(const char *dir, const char *script)
{
	char p[PATH_MAX];

	PATHF(p, "%s/sbcast", dir);
	put(p, script, 0755);
}

static char **env_with_path(const char *dir)
{
	static char path[PATH_MAX + 8];
	static char *envp[2];

	snprintf(path, sizeof(path), "PATH=%s", dir);
	envp[0] = path;
	envp[1] = NULL;
	return envp;
}

Test(fanout, send_copy_check_remove, .timeout = 30)
{
	struct kpy_err e = KPY_ERR_INIT;
	struct kpy_fanout f = { .jobid = 7 };
	char *d = mk_tmpdir(), src[PATH_MAX], bin[PATH_MAX], tmp[PATH_MAX], *dst, *got = NULL;
	uid_t uid = getuid();
	int fd;

	if (geteuid() != 0)
		cr_skip_test("needs root: the base is root's");
	PATHF(src, "%s/a.tar.zst", d);
	put(src, "pretend this is an archive\n", 0644);
	PATHF(bin, "%s/bin", d);
	mkdir(bin, 0755);
	cr_assert_eq(kpy_fanout_base_make(d, &e), 0, "%s", e.msg);
	cr_assert_eq(kpy_fanout_base_make(d, &e), 0, "again: %s", e.msg);
	struct stat st;
	PATHF(tmp, "%s/" KPY_FANOUT_DIR, d);
	cr_assert_eq(lstat(tmp, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 01733);

	/* the copy on the way, with the original's size and sum */
	PATHF(tmp, "%s/local", d);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	cr_assert(fd >= 0);
	strcpy(f.name, "demo");
	cr_assert_eq(kpy_fanout_new_id(&f, &e), 0);
	cr_assert_eq(kpy_fanout_copy(src, fd, &f, &e), 0, "%s", e.msg);
	close(fd);
	cr_assert_eq(f.size, strlen("pretend this is an archive\n"));
	cr_assert_eq(f.sum, sum_of("pretend this is an archive\n", f.size));
	dst = kpy_fanout_path(d, &f, uid);
	cr_assert_not_null(dst);

	/* no copy yet */
	cr_assert_eq(kpy_fanout_check(d, &f, uid, &got, &e), -1);
	cr_assert_eq(e.code, KPY_ENOENT, "%s", e.msg);
	kpy_err_clear(&e);

	/* sbcast fails: its status and first stderr line are in the message */
	fake_sbcast(bin, "#!/bin/sh\necho 'sbcast: error: no job' >&2\necho more >&2\nexit 3\n");
	cr_assert_eq(kpy_fanout_send(env_with_path(bin), 7, tmp, dst, 10, &e), -1);
	cr_assert(strstr(e.msg, "status 3: sbcast: error: no job") != NULL, "%s", e.msg);
	cr_assert(strstr(e.msg, "more") == NULL, "%s", e.msg);
	kpy_err_clear(&e);
	/* it hangs: stopped at the deadline */
	fake_sbcast(bin, "#!/bin/sh\nexec /bin/sleep 30\n");
	cr_assert_eq(kpy_fanout_send(env_with_path(bin), 7, tmp, dst, 1, &e), -1);
	cr_assert(strstr(e.msg, "longer than 1 seconds") != NULL, "%s", e.msg);
	kpy_err_clear(&e);
	/* none in PATH */
	PATHF(tmp, "%s/nowhere", d);
	cr_assert_eq(kpy_fanout_send(env_with_path(tmp), 7, tmp, dst, 10, &e), -1);
	cr_assert(strstr(e.msg, "status 127: cannot run sbcast") != NULL, "%s", e.msg);
	kpy_err_clear(&e);

	/* a working one: it gets --jobid, --force, SRC and DST */
	fake_sbcast(bin, "#!/bin/sh\n[ \"$1\" = --jobid=7 ] && [ \"$2\" = --force ] && /bin/cp \"$3\" \"$4\"\n");
	PATHF(tmp, "%s/local", d);
	cr_assert_eq(kpy_fanout_send(env_with_path(bin), 7, tmp, dst, 10, &e), 0, "%s", e.msg);
	cr_assert_eq(kpy_fanout_check(d, &f, uid, &got, &e), 0, "%s", e.msg);
	cr_assert_str_eq(got, dst);
	free(got);
	got = NULL;
	/* the copy's name says what it must be: a node finds it by listing the base */
	struct kpy_fanout g;
	cr_assert_eq(kpy_fanout_find(d, 7, uid, 0, "demo", &g), 1);
	cr_assert_eq(g.size, f.size);
	cr_assert_eq(g.sum, f.sum);
	cr_assert_str_eq(g.id, f.id);
	cr_assert_str_eq(g.name, "demo");
	cr_assert_eq(g.jobid, 7);
	cr_assert_eq(kpy_fanout_find(d, 7, uid, 1, "demo", &g), 0, "a uv cache of that name");
	cr_assert_eq(kpy_fanout_find(d, 7, uid, 0, "dem", &g), 0, "another name");
	cr_assert_eq(kpy_fanout_find(d, 8, uid, 0, "demo", &g), 0, "another job");
	cr_assert_eq(kpy_fanout_find(d, 7, uid + 1, 0, "demo", &g), 0, "another user");
	cr_assert_eq(chown(dst, uid + 1, (gid_t)-1), 0);
	cr_assert_eq(kpy_fanout_find(d, 7, uid, 0, "demo", &g), 0, "a file of someone else");
	cr_assert_eq(chown(dst, uid, (gid_t)-1), 0);

	/* a flipped byte, a wrong size, a wrong owner, a symlink: not used */
	put(dst, "pretend this is an archivE\n", 0644);
	cr_assert_eq(kpy_fanout_check(d, &f, uid, &got, &e), -1);
	cr_assert(strstr(e.msg, "checksum") != NULL, "%s", e.msg);
	kpy_err_clear(&e);
	put(dst, "short\n", 0644);
	cr_assert_eq(kpy_fanout_check(d, &f, uid, &got, &e), -1);
	cr_assert(strstr(e.msg, "has 6 bytes, the original 27") != NULL, "%s", e.msg);
	kpy_err_clear(&e);
	cr_assert_eq(kpy_fanout_check(d, &f, uid + 1, &got, &e), -1);
	kpy_err_clear(&e);
	unlink(dst);
	cr_assert_eq(symlink(src, dst), 0);
	cr_assert_eq(kpy_fanout_check(d, &f, uid, &got, &e), -1);
	kpy_err_clear(&e);
	unlink(dst);
	put(dst, "pretend this is an archive\n", 0644);
	cr_assert_eq(kpy_fanout_check(d, &f, uid, &got, &e), 0, "%s", e.msg);
	free(got);

	/* a base of the wrong mode is not trusted; base_make repairs root's own */
	PATHF(tmp, "%s/" KPY_FANOUT_DIR, d);
	chmod(tmp, 0777);
	cr_assert_eq(kpy_fanout_check(d, &f, uid, &got, &e), -1);
	cr_assert(strstr(e.msg, "mode 1733") != NULL, "%s", e.msg);
	kpy_err_clear(&e);
	cr_assert_eq(kpy_fanout_base_make(d, &e), 0, "%s", e.msg);

	/* the clean-up takes this job's copies of this user only */
	char other[PATH_MAX], otherjob[PATH_MAX];
	PATHF(other, "%s/" KPY_FANOUT_DIR "/7.%u.0000000000000000", d, (unsigned)uid + 1);
	put(other, "x", 0644);
	PATHF(otherjob, "%s/" KPY_FANOUT_DIR "/70.%u.0000000000000000", d, (unsigned)uid);
	put(otherjob, "x", 0644);
	cr_assert_eq(kpy_fanout_remove(d, 7, uid, &e), 1, "%s", e.msg);
	cr_assert_eq(access(dst, F_OK), -1);
	cr_assert_eq(access(other, F_OK), 0);
	cr_assert_eq(access(otherjob, F_OK), 0);
	cr_assert_eq(kpy_fanout_remove(d, 7, uid, &e), 0);
	free(dst);
	rm_tmpdir(d);
}

/* a squatter's directory or symlink where the base goes is moved aside, never used */
Test(fanout, squatted_base_moved_aside)
{
	struct kpy_err e = KPY_ERR_INIT;
	char *d = mk_tmpdir(), base[PATH_MAX], target[PATH_MAX];
	struct stat st;
	int squatted = 0;

	if (geteuid() != 0)
		cr_skip_test("needs root: the base is root's");
	PATHF(base, "%s/" KPY_FANOUT_DIR, d);
	cr_assert_eq(mkdir(base, 0777), 0);
	cr_assert_eq(chown(base, 12345, 12345), 0);
	cr_assert_eq(kpy_fanout_base_make(d, &e), 1, "%s", e.msg);
	cr_assert_eq(lstat(base, &st), 0);
	cr_assert(S_ISDIR(st.st_mode) && st.st_uid == 0 && (st.st_mode & 07777) == 01733);
	/* a symlink: moved, and what it points to keeps its mode */
	PATHF(target, "%s/target", d);
	cr_assert_eq(mkdir(target, 0755), 0);
	cr_assert_eq(rmdir(base), 0);
	cr_assert_eq(symlink(target, base), 0);
	cr_assert_eq(kpy_fanout_base_make(d, &e), 1, "%s", e.msg);
	cr_assert_eq(lstat(base, &st), 0);
	cr_assert(S_ISDIR(st.st_mode) && st.st_uid == 0 && (st.st_mode & 07777) == 01733);
	cr_assert_eq(stat(target, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0755);
	cr_assert_eq(kpy_fanout_base_make(d, &e), 0, "%s", e.msg);
	DIR *dir = opendir(d);
	for (struct dirent *de; (de = readdir(dir)) != NULL;)
		squatted += strncmp(de->d_name, KPY_FANOUT_DIR ".squatted.", 18) == 0;
	closedir(dir);
	cr_assert_eq(squatted, 2);
	rm_tmpdir(d);
}
