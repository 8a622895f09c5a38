/* test_store.c: kpy/store.c: names, paths, checks, list and rm. */
#include "helpers.h"
#include "store.h"
#include <grp.h>
#include <sys/wait.h>

Test(store, names)
{
	struct kpy_err e = KPY_ERR_INIT;
	const char *good[] = { "a", "demo", "my-env_2.0", "A1", "_x",
		"0123456789012345678901234567890123456789012345678901234567890123" };
	const char *bad[] = { "", "../x", "a/b", "-x", ".x", "a b", "a\nb", "é", "x;y", "..",
		"01234567890123456789012345678901234567890123456789012345678901234" };

	for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++) {
		kpy_err_clear(&e);
		cr_assert_eq(kpy_name_check(good[i], "name", &e), 0, "%s: %s", good[i], e.msg);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		kpy_err_clear(&e);
		cr_assert_eq(kpy_name_check(bad[i], "environment name", &e), -1, "'%s' accepted", bad[i]);
		cr_assert_eq(e.code, KPY_EINVAL);
		cr_assert(strstr(e.msg, "environment name") != NULL, "%s", e.msg);
	}
}

Test(store, paths)
{
	char *p = kpy_store_path("/p", KPY_KIND_VENV, "demo"), *u = kpy_store_path("/p", KPY_KIND_UV, "c");

	cr_assert_str_eq(p, "/p/venv_archives/demo.tar.zst");
	cr_assert_str_eq(u, "/p/uv_caches/c.tar.zst");
	free(p);
	free(u);
}

Test(store, check_missing_and_not_a_directory)
{
	struct kpy_err e = KPY_ERR_INIT;
	char *d = mk_tmpdir(), p[PATH_MAX];

	PATHF(p, "%s/nope", d);
	cr_assert_eq(kpy_store_check(p, KPY_KIND_VENV, 0, &e), -1);
	cr_assert_eq(e.code, KPY_EPIPDIR);
	/* facts only: the remedy is the front end's */
	cr_assert(strstr(e.msg, p) && strstr(e.msg, "does not exist") && !strstr(e.msg, "kpy config"), "%s", e.msg);
	kpy_err_clear(&e);
	cr_assert_eq(kpy_store_check(p, KPY_KIND_VENV, KPY_STORE_WRITABLE | KPY_STORE_CREATE, &e), 0, "%s", e.msg);
	PATHF(p, "%s/nope/venv_archives", d);
	cr_assert(exists(p));

	PATHF(p, "%s/file", d);
	put(p, "x", 0644);
	kpy_err_clear(&e);
	cr_assert_eq(kpy_store_check(p, KPY_KIND_VENV, KPY_STORE_WRITABLE | KPY_STORE_CREATE, &e), -1);
	cr_assert_eq(e.code, KPY_EPIPDIR);
	cr_assert(strstr(e.msg, "not a directory"), "%s", e.msg);
	rm_tmpdir(d);
}

Test(store, list_and_rm)
{
	struct kpy_err e = KPY_ERR_INIT;
	struct kpy_saved *v;
	size_t n;
	char *d = mk_tmpdir(), p[PATH_MAX];

	cr_assert_eq(kpy_store_list(d, KPY_KIND_VENV, 1, &v, &n, &e), 0, "missing store dir is empty");
	cr_assert_eq(n, 0);
	kpy_saved_free(v, n);
	PATHF(p, "%s/venv_archives", d);
	mkdir(p, 0755);
	PATHF(p, "%s/venv_archives/b.tar.zst", d);
	put(p, "not zstd", 0644);
	PATHF(p, "%s/venv_archives/a.tar.zst", d);
	put(p, "not zstd either", 0644);
	PATHF(p, "%s/venv_archives/.a.tar.zst.XXXX12", d);
	put(p, "temp", 0644);
	cr_assert_eq(kpy_store_list(d, KPY_KIND_VENV, 1, &v, &n, &e), 0);
	cr_assert_eq(n, 2);
	cr_assert_str_eq(v[0].name, "a");
	cr_assert_str_eq(v[1].name, "b");
	cr_assert(v[0].damaged && v[1].damaged);
	kpy_saved_free(v, n);
	/* names only: nothing is opened, so nothing is found damaged */
	cr_assert_eq(kpy_store_list(d, KPY_KIND_VENV, 0, &v, &n, &e), 0);
	cr_assert_eq(n, 2);
	cr_assert(!v[0].damaged && !v[1].damaged && v[0].m.kind == NULL);
	cr_assert_eq(v[1].size, (off_t)strlen("not zstd"));
	kpy_saved_free(v, n);

	cr_assert_eq(kpy_store_rm(d, KPY_KIND_VENV, "zzz", &e), -1);
	cr_assert_eq(e.code, KPY_ENOSAVED);
	cr_assert(strstr(e.msg, "saved: a, b") != NULL, "%s", e.msg);
	kpy_err_clear(&e);
	cr_assert_eq(kpy_store_rm(d, KPY_KIND_VENV, "../x", &e), -1);
	cr_assert_eq(e.code, KPY_EINVAL);
	kpy_err_clear(&e);
	cr_assert_eq(kpy_store_rm(d, KPY_KIND_VENV, "a", &e), 0, "%s", e.msg);
	PATHF(p, "%s/venv_archives/a.tar.zst", d);
	cr_assert(!exists(p));
	rm_tmpdir(d);
}

/* Only foreign names in the store: an empty list, nothing leaked (LeakSanitizer). */
Test(store, only_foreign_names_is_empty_and_leaks_nothing)
{
	struct kpy_err e = KPY_ERR_INIT;
	struct kpy_saved *v;
	size_t n;
	char *d = mk_tmpdir(), p[PATH_MAX];

	PATHF(p, "%s/venv_archives", d);
	mkdir(p, 0755);
	PATHF(p, "%s/venv_archives/.hidden.tar.zst", d);
	put(p, "x", 0644);
	PATHF(p, "%s/venv_archives/a b.tar.zst", d);
	put(p, "x", 0644);
	cr_assert_eq(kpy_store_list(d, KPY_KIND_VENV, 1, &v, &n, &e), 0, "%s", e.msg);
	cr_assert_eq(n, 0);
	cr_assert_null(v);
	cr_assert_eq(kpy_store_rm(d, KPY_KIND_VENV, "zzz", &e), -1);
	cr_assert(strstr(e.msg, "saved: none") != NULL, "%s", e.msg);
	rm_tmpdir(d);
}

/* A pipdir that cannot be written says so and how to choose another. */
Test(store, read_only_pipdir_says_what_to_do)
{
	struct kpy_err e = KPY_ERR_INIT;
	char *d = mk_tmpdir(), p[PATH_MAX];

	chmod(d, 0755);
	PATHF(p, "%s/pd", d);
	mkdir(p, 0555);
	pid_t pid = fork();
	if (pid == 0) {
		if (geteuid() == 0 && (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0))
			_exit(3);
		if (kpy_store_check(p, KPY_KIND_VENV, KPY_STORE_WRITABLE | KPY_STORE_CREATE, &e) == 0)
			_exit(4);
		_exit(e.code == KPY_EPIPDIR && strstr(e.msg, "read-only") && !strstr(e.msg, "kpy config") &&
		      strstr(e.msg, p) && !strstr(e.msg, "permissions") ? 0 : 5);
	}
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
	rm_tmpdir(d);
}

Test(store, script_envs_have_their_own_directory)
{
	char *d = kpy_store_dir("/p", KPY_KIND_SCRIPT);
	char *p = kpy_store_path("/p", KPY_KIND_SCRIPT, "py3.11-0123456789abcdef");

	cr_assert_str_eq(d, "/p/script_envs");
	cr_assert_str_eq(p, "/p/script_envs/py3.11-0123456789abcdef.tar.zst");
	free(d);
	free(p);
}
