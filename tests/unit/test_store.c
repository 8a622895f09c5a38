/* test_store.c: kpy/store.c: names, paths, checks, list and rm. */
#include "helpers.h"
#include "store.h"
#include "live.h"
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

Test(store, site_names_and_dirs)
{
	char **v = kpy_site_dirs("/a::/b:");

	cr_assert_str_eq(kpy_store_bare("site:x"), "x");
	cr_assert_str_eq(kpy_store_bare("x"), "x");
	cr_assert_str_eq(kpy_store_bare("sitex"), "sitex");
	cr_assert(v != NULL && v[0] && v[1] && !v[2]);
	cr_assert_str_eq(v[0], "/a");
	cr_assert_str_eq(v[1], "/b");
	kpy_strv_free(v);
	v = kpy_site_dirs(NULL);
	cr_assert(v != NULL && v[0] == NULL);
	kpy_strv_free(v);
}

/* <D>/<sub>/venv_archives/NAME.tar.zst holding TEXT (lookup only looks at names) */
static void fake(const char *d, const char *sub, const char *name, const char *text)
{
	char p[PATH_MAX];
	struct kpy_err e = KPY_ERR_INIT;

	PATHF(p, "%s/%s/venv_archives", d, sub);
	cr_assert_eq(kpy_mkdirs(p, 0755, &e), 0, "%s", e.msg);
	PATHF(p, "%s/%s/venv_archives/%s.tar.zst", d, sub, name);
	put(p, text, 0644);
}

Test(store, lookup_own_first_then_each_site)
{
	struct kpy_err e = KPY_ERR_INIT;
	char *d = mk_tmpdir(), own[PATH_MAX], sites[3 * PATH_MAX], s1[PATH_MAX], s2[PATH_MAX], *p, *in;

	PATHF(own, "%s/own", d);
	PATHF(s1, "%s/s1", d);
	PATHF(s2, "%s/s2", d);
	snprintf(sites, sizeof(sites), "%s:%s", s1, s2);
	fake(d, "own", "dup", "own");
	fake(d, "s1", "dup", "s1");
	fake(d, "s1", "a", "s1");
	fake(d, "s2", "a", "s2");
	fake(d, "s2", "b", "s2");

	p = kpy_store_lookup(own, sites, KPY_KIND_VENV, "dup", &in, &e);
	cr_assert(p != NULL && strcmp(in, own) == 0, "the own name wins: %s", e.msg);
	char *text = get(p);
	cr_assert_str_eq(text, "own");
	free(text), free(p), free(in);
	p = kpy_store_lookup(own, sites, KPY_KIND_VENV, "site:dup", &in, &e);
	cr_assert(p != NULL && strcmp(in, s1) == 0, "site: forces the site's: %s", e.msg);
	free(p), free(in);
	p = kpy_store_lookup(own, sites, KPY_KIND_VENV, "a", &in, &e);
	cr_assert(p != NULL && strcmp(in, s1) == 0, "the first site that has it: %s", e.msg);
	free(p), free(in);
	p = kpy_store_lookup(own, sites, KPY_KIND_VENV, "b", &in, &e);
	cr_assert(p != NULL && strcmp(in, s2) == 0, "then the next: %s", e.msg);
	free(p), free(in);

	/* not anywhere: the user's message, then each site's */
	cr_assert_null(kpy_store_lookup(own, sites, KPY_KIND_VENV, "nope", NULL, &e));
	cr_assert_eq(e.code, KPY_ENOSAVED);
	cr_assert(strstr(e.msg, own) && strstr(e.msg, "nor in the site store") && strstr(e.msg, s1) && strstr(e.msg, s2), "%s", e.msg);
	kpy_err_clear(&e);
	cr_assert_null(kpy_store_lookup(own, sites, KPY_KIND_VENV, "site:nope", NULL, &e));
	cr_assert_eq(e.code, KPY_ENOSAVED);
	cr_assert(strstr(e.msg, "no site environment 'nope'") && !strstr(e.msg, own), "%s", e.msg);
	/* no site store */
	kpy_err_clear(&e);
	cr_assert_null(kpy_store_lookup(own, NULL, KPY_KIND_VENV, "site:a", NULL, &e));
	cr_assert_eq(e.code, KPY_ESITE);
	kpy_err_clear(&e);
	cr_assert_null(kpy_store_lookup(own, NULL, KPY_KIND_VENV, "a", NULL, &e));
	cr_assert_eq(e.code, KPY_ENOSAVED, "without sites, the user's own error: %s", e.msg);
	/* a missing site pipdir: ESITE for site:, and the next site is still tried */
	snprintf(sites, sizeof(sites), "%s/gone:%s", d, s2);
	kpy_err_clear(&e);
	p = kpy_store_lookup(own, sites, KPY_KIND_VENV, "site:b", NULL, &e);
	cr_assert(p != NULL, "%s", e.msg);
	free(p);
	snprintf(sites, sizeof(sites), "%s/gone", d);
	cr_assert_null(kpy_store_lookup(own, sites, KPY_KIND_VENV, "site:b", NULL, &e));
	cr_assert_eq(e.code, KPY_ESITE);
	cr_assert(strstr(e.msg, "site pipdir") && strstr(e.msg, "does not exist"), "%s", e.msg);
	/* the user's pipdir not made yet: the site's is found */
	snprintf(sites, sizeof(sites), "%s", s2);
	kpy_err_clear(&e);
	p = kpy_store_lookup("/nonexistent/pipdir", sites, KPY_KIND_VENV, "b", NULL, &e);
	cr_assert(p != NULL, "%s", e.msg);
	free(p);
	/* a bad name is refused before anything is looked at */
	cr_assert_null(kpy_store_lookup(own, sites, KPY_KIND_VENV, "site:../x", NULL, &e));
	cr_assert_eq(e.code, KPY_EINVAL);
	rm_tmpdir(d);
}
