/* test_once.c: kpy/once.c: concurrent restorers restore exactly once. */
#include "helpers.h"
#include <dirent.h>
#include <sys/wait.h>
#include "envarchive.h"
#include "once.h"

Test(once, many_processes_one_restore, .timeout = 60)
{
	struct kpy_err e = KPY_ERR_INIT;
	struct kpy_save_opts o = { .name = "x", .level = 1, .threads = 1 };
	char *d = mk_tmpdir(), src[PATH_MAX], a[PATH_MAX], dst[PATH_MAX], p[PATH_MAX];
	int restored_total = 0;

	PATHF(src, "%s/src", d);
	mkdir(src, 0755);
	for (int i = 0; i < 200; i++) {
		PATHF(p, "%s/f%03d", src, i);
		put(p, "some content that takes a moment to write\n", 0644);
	}
	PATHF(a, "%s/x.tar.zst", d);
	o.kind = "uv-cache"; /* a plain directory: no venv checks */
	struct kpy_err warn = KPY_ERR_INIT;
	cr_assert_eq(kpy_archive_save(src, a, &o, &warn, &e), 0, "%s", e.msg);
	PATHF(dst, "%s/job/kpy", d);
	cr_assert_eq(kpy_mkdirs(dst, 0755, &e), 0);
	PATHF(dst, "%s/job/kpy/x", d);

	int fds[8][2];
	pid_t pids[8];
	for (int i = 0; i < 8; i++) {
		cr_assert_eq(pipe(fds[i]), 0);
		if ((pids[i] = fork()) == 0) {
			struct kpy_err ce = KPY_ERR_INIT;
			int r = 0;
			char c = kpy_restore_once(a, dst, NULL, &r, &ce) == 0 ? (char)('0' + r) : 'E';
			(void)!write(fds[i][1], &c, 1);
			_exit(0);
		}
		close(fds[i][1]);
	}
	for (int i = 0; i < 8; i++) {
		char c = '?';
		cr_assert_eq(read(fds[i][0], &c, 1), 1);
		cr_assert(c == '0' || c == '1', "child %d failed", i);
		restored_total += c == '1';
		close(fds[i][0]);
		waitpid(pids[i], NULL, 0);
	}
	cr_assert_eq(restored_total, 1, "restored %d times", restored_total);
	PATHF(p, "%s/f199", dst);
	cr_assert(exists(p));
	int r = 5;
	cr_assert_eq(kpy_restore_once(a, dst, NULL, &r, &e), 0);
	cr_assert_eq(r, 0, "a later call does no work");
	rm_tmpdir(d);
}

Test(once, failure_leaves_no_target)
{
	struct kpy_err e = KPY_ERR_INIT;
	char *d = mk_tmpdir(), a[PATH_MAX], dst[PATH_MAX];
	int r = 5;

	PATHF(a, "%s/missing.tar.zst", d);
	PATHF(dst, "%s/env", d);
	cr_assert_eq(kpy_restore_once(a, dst, NULL, &r, &e), -1);
	cr_assert_eq(e.code, KPY_ENOENT);
	cr_assert_eq(r, 0);
	cr_assert(!exists(dst));
	rm_tmpdir(d);
}

/* A target whose lock file name would not fit PATH_MAX: an error, no lock file made at
 * a truncated path. */
Test(once, too_long_target_is_an_error)
{
	struct kpy_err e = KPY_ERR_INIT;
	char *d = mk_tmpdir(), dst[PATH_MAX], trunc[PATH_MAX];
	int restored;
	size_t n;

	n = (size_t)snprintf(dst, sizeof(dst), "%s/", d);
	memset(dst + n, 'x', sizeof(dst) - n - 1);
	dst[sizeof(dst) - 2] = '\0'; /* 4094 bytes: fits, but ".NAME.lock" does not */
	cr_assert_eq(kpy_restore_once("/nonexistent.tar.zst", dst, NULL, &restored, &e), -1);
	cr_assert(strstr(e.msg, "too long") != NULL, "%s", e.msg);
	snprintf(trunc, sizeof(trunc), "%s/.%s.lock", d, dst + strlen(d) + 1);
	cr_assert(!exists(trunc), "a lock file at a truncated path was made");
	rm_tmpdir(d);
}

/* A relative target (from a relative $SLURM_TMPDIR) is refused; no lock file is made
 * in the working directory. */
Test(once, relative_target_is_refused)
{
	struct kpy_err e = KPY_ERR_INIT;
	char *d = mk_tmpdir(), p[PATH_MAX];
	int restored, cwd = open(".", O_RDONLY | O_DIRECTORY);

	cr_assert_eq(chdir(d), 0);
	mkdir("kpy", 0755);
	int rc = kpy_restore_once("/nonexistent.tar.zst", "kpy/env", NULL, &restored, &e);
	(void)!fchdir(cwd);
	close(cwd);
	cr_assert_eq(rc, -1);
	cr_assert(strstr(e.msg, "absolute") != NULL, "%s", e.msg);
	PATHF(p, "%s/kpy/.env.lock", d);
	cr_assert(!exists(p), "a lock file was made relative to the working directory");
	rm_tmpdir(d);
}

/* kpy load: many processes, one restore, no lock file left, the save recorded */
Test(once, load_once_many_processes, .timeout = 60)
{
	struct kpy_err e = KPY_ERR_INIT, warn = KPY_ERR_INIT;
	struct kpy_save_opts o = { .name = "x", .level = 1, .threads = 1, .kind = "uv-cache" };
	char *d = mk_tmpdir(), src[PATH_MAX], a[PATH_MAX], dst[PATH_MAX], p[PATH_MAX];
	int total = 0, fds[16][2];
	pid_t pids[16];

	PATHF(src, "%s/src", d);
	mkdir(src, 0755);
	for (int i = 0; i < 100; i++) {
		PATHF(p, "%s/f%03d", src, i);
		put(p, "content\n", 0644);
	}
	PATHF(a, "%s/x.tar.zst", d);
	cr_assert_eq(kpy_archive_save(src, a, &o, &warn, &e), 0, "%s", e.msg);
	PATHF(p, "%s/live", d);
	mkdir(p, 0700);
	PATHF(dst, "%s/live/x", d);
	for (int i = 0; i < 16; i++) {
		cr_assert_eq(pipe(fds[i]), 0);
		if ((pids[i] = fork()) == 0) {
			struct kpy_err ce = KPY_ERR_INIT;
			int r = 0;
			char c = kpy_load_once(a, dst, NULL, 0, &r, &ce) == 0 ? (char)('0' + r) : 'E';
			(void)!write(fds[i][1], &c, 1);
			_exit(0);
		}
		close(fds[i][1]);
	}
	for (int i = 0; i < 16; i++) {
		char c = '?';
		cr_assert_eq(read(fds[i][0], &c, 1), 1);
		cr_assert(c == '0' || c == '1', "child %d failed", i);
		total += c == '1';
		close(fds[i][0]);
		waitpid(pids[i], NULL, 0);
	}
	cr_assert_eq(total, 1, "restored %d times", total);
	PATHF(p, "%s/live/x/.kpy/manifest.ini", d);
	char *text = get(p);
	cr_assert_not_null(text, "the save is recorded in the live env");
	cr_assert(strstr(text, "name") != NULL);
	free(text);
	DIR *dir;
	struct dirent *de;
	int n = 0;
	PATHF(p, "%s/live", d);
	cr_assert_not_null(dir = opendir(p));
	while ((de = readdir(dir)) != NULL)
		n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	closedir(dir);
	cr_assert_eq(n, 1, "only x in the live dir: the lock file goes with the lock");
	/* replace: a marker put in the live copy is gone, the copy is whole */
	PATHF(p, "%s/live/x/marker", d);
	put(p, "mine\n", 0644);
	int r = 0;
	cr_assert_eq(kpy_load_once(a, dst, NULL, 1, &r, &e), 0, "%s", e.msg);
	cr_assert_eq(r, 1);
	cr_assert(!exists(p));
	PATHF(p, "%s/live/x/f099", d);
	cr_assert(exists(p));
	/* a failing replace keeps the old copy */
	PATHF(p, "%s/missing.tar.zst", d);
	cr_assert_eq(kpy_load_once(p, dst, NULL, 1, &r, &e), -1);
	PATHF(p, "%s/live/x/f099", d);
	cr_assert(exists(p), "the old copy is back");
	rm_tmpdir(d);
}

/* kpy load (kpy_load_once) and a job step (kpy_restore_once) on one target at once:
 * one lock for both, so both succeed and the target is restored once. */
Test(once, load_and_step_share_one_lock, .timeout = 60)
{
	struct kpy_err e = KPY_ERR_INIT, warn = KPY_ERR_INIT;
	struct kpy_save_opts o = { .name = "x", .level = 1, .threads = 1, .kind = "uv-cache" };
	char *d = mk_tmpdir(), src[PATH_MAX], a[PATH_MAX], dst[PATH_MAX], p[PATH_MAX];

	PATHF(src, "%s/src", d);
	mkdir(src, 0755);
	for (int i = 0; i < 300; i++) {
		PATHF(p, "%s/f%03d", src, i);
		put(p, "content\n", 0644);
	}
	PATHF(a, "%s/x.tar.zst", d);
	cr_assert_eq(kpy_archive_save(src, a, &o, &warn, &e), 0, "%s", e.msg);
	for (int round = 0; round < 6; round++) {
		int fds[2], r = 0, total;
		char c = '?';
		pid_t pid;

		PATHF(dst, "%s/live%d", d, round);
		mkdir(dst, 0700);
		PATHF(dst, "%s/live%d/x", d, round);
		cr_assert_eq(pipe(fds), 0);
		if ((pid = fork()) == 0) {
			struct kpy_err ce = KPY_ERR_INIT;
			int cr = 0;
			char cc = kpy_restore_once(a, dst, NULL, &cr, &ce) == 0 ? (char)('0' + cr) : 'E';
			(void)!write(fds[1], &cc, 1);
			_exit(0);
		}
		close(fds[1]);
		cr_assert_eq(kpy_load_once(a, dst, NULL, 0, &r, &e), 0, "round %d: %s", round, e.msg);
		cr_assert_eq(read(fds[0], &c, 1), 1);
		close(fds[0]);
		waitpid(pid, NULL, 0);
		cr_assert(c == '0' || c == '1', "round %d: the step failed", round);
		total = r + (c == '1');
		cr_assert_eq(total, 1, "round %d: restored %d times", round, total);
	}
	rm_tmpdir(d);
}
