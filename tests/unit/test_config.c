/* test_config.c: kpy/config.c: defaults, site < user < environment, writing. */
#include "helpers.h"
#include "config.h"

static char *dir;
static char site[PATH_MAX];

static void setup(void)
{
	char p[PATH_MAX];

	dir = mk_tmpdir();
	PATHF(p, "%s/home", dir);
	mkdir(p, 0755);
	setenv("HOME", p, 1);
	PATHF(p, "%s/cfg", dir);
	setenv("XDG_CONFIG_HOME", p, 1);
	PATHF(p, "%s/data", dir);
	setenv("XDG_DATA_HOME", p, 1);
	PATHF(site, "%s/site.conf", dir);
	setenv("KPY_SITE_CONFIG", site, 1);
	unsetenv("KPY_PIPDIR");
	unsetenv("KPY_LEVEL");
	unsetenv("KPY_COMPUTE_HOSTS");
	unsetenv("KPY_THREADS");
}

static void teardown(void)
{
	rm_tmpdir(dir);
}

TestSuite(config, .init = setup, .fini = teardown);

Test(config, defaults)
{
	struct kpy_config c;
	struct kpy_err e = KPY_ERR_INIT;
	char want[PATH_MAX];

	cr_assert_eq(kpy_config_load(&c, &e), 0, "%s", e.msg);
	PATHF(want, "%s/data/kpy", dir);
	cr_assert_str_eq(c.pipdir, want);
	cr_assert_eq(c.level, 3);
	cr_assert_null(c.compute_hosts);
	kpy_config_free(&c);
	unsetenv("XDG_DATA_HOME");
	cr_assert_eq(kpy_config_load(&c, &e), 0);
	PATHF(want, "%s/home/.local/share/kpy", dir);
	cr_assert_str_eq(c.pipdir, want);
	kpy_config_free(&c);
}

Test(config, site_then_user_then_environment)
{
	struct kpy_config c;
	struct kpy_err e = KPY_ERR_INIT;

	put(site, "[kpy]\npipdir = /site/pip\nlevel = 5\ncompute_hosts = cn*\n", 0644);
	cr_assert_eq(kpy_config_load(&c, &e), 0, "%s", e.msg);
	cr_assert_str_eq(c.pipdir, "/site/pip");
	cr_assert_eq(c.level, 5);
	cr_assert_str_eq(c.compute_hosts, "cn*");
	kpy_config_free(&c);

	cr_assert_eq(kpy_config_set("pipdir", "~/mine", &e), 0, "%s", e.msg);
	cr_assert_eq(kpy_config_load(&c, &e), 0, "%s", e.msg);
	cr_assert(strstr(c.pipdir, "/home/mine") != NULL, "%s", c.pipdir);
	cr_assert_eq(c.level, 5, "site value kept where the user sets nothing");
	kpy_config_free(&c);

	setenv("KPY_PIPDIR", "/env/pip", 1);
	cr_assert_eq(kpy_config_load(&c, &e), 0);
	cr_assert_str_eq(c.pipdir, "/env/pip");
	kpy_config_free(&c);

	cr_assert_eq(kpy_config_set("pipdir", NULL, &e), 0);
	unsetenv("KPY_PIPDIR");
	cr_assert_eq(kpy_config_load(&c, &e), 0);
	cr_assert_str_eq(c.pipdir, "/site/pip");
	kpy_config_free(&c);
}

Test(config, bad_values_are_refused_with_their_source)
{
	struct kpy_config c;
	struct kpy_err e = KPY_ERR_INIT;

	put(site, "[kpy]\nlevel = 42\n", 0644);
	cr_assert_eq(kpy_config_load(&c, &e), -1);
	cr_assert_eq(e.code, KPY_ECONFIG);
	cr_assert(strstr(e.msg, "level '42'") && strstr(e.msg, site), "%s", e.msg);

	kpy_err_clear(&e);
	put(site, "[kpy]\npipdir = relative/dir\n", 0644);
	cr_assert_eq(kpy_config_load(&c, &e), -1);
	cr_assert_eq(e.code, KPY_ECONFIG);
	/* facts only: the command's remedy names 'kpy config', the plugin's does not */
	cr_assert(strstr(e.msg, "not an absolute path") && !strstr(e.msg, "kpy config"), "%s", e.msg);

	kpy_err_clear(&e);
	cr_assert_eq(kpy_config_set("nosuchkey", "1", &e), -1);
	cr_assert(strstr(e.msg, "unknown setting 'nosuchkey'"), "%s", e.msg);
	kpy_err_clear(&e);
	cr_assert_eq(kpy_config_set("level", "0", &e), -1);
	cr_assert_eq(e.code, KPY_EINVAL);
}

Test(config, user_file_is_ini_with_a_kpy_section)
{
	struct kpy_err e = KPY_ERR_INIT;
	char p[PATH_MAX], *text;

	cr_assert_eq(kpy_config_set("compute_hosts", "cn* gpu*", &e), 0, "%s", e.msg);
	PATHF(p, "%s/cfg/kpy/config.ini", dir);
	text = get(p);
	cr_assert_not_null(text);
	cr_assert(strstr(text, "[kpy]") != NULL, "%s", text);
	cr_assert(strstr(text, "compute_hosts") != NULL && strstr(text, "cn* gpu*") != NULL, "%s", text);
	free(text);
}

Test(config, keys_above_any_section_count)
{
	struct kpy_config c;
	struct kpy_err e = KPY_ERR_INIT;

	put(site, "pipdir = /bare/pip\n[kpy]\nlevel = 4\n", 0644);
	cr_assert_eq(kpy_config_load(&c, &e), 0, "%s", e.msg);
	cr_assert_str_eq(c.pipdir, "/bare/pip");
	cr_assert_eq(c.level, 4);
	kpy_config_free(&c);
}

Test(config, comment_characters_are_refused)
{
	struct kpy_err e = KPY_ERR_INIT;

	cr_assert_eq(kpy_config_set("pipdir", "/x/proj#1/kpy", &e), -1);
	cr_assert_eq(e.code, KPY_EINVAL);
	cr_assert(strstr(e.msg, "'#'") != NULL, "%s", e.msg);
}

/* kpy_config_edit on IN: the result equals WANT, byte for byte. */
static void edit_is(const char *in, const char *key, const char *value, const char *want)
{
	size_t n = 0;
	char *out = kpy_config_edit(in, strlen(in), key, value, &n);

	cr_assert_not_null(out);
	cr_assert_eq(n, strlen(out), "length %zu for [%s]", n, out);
	cr_assert_str_eq(out, want, "editing %s in [%s]", key, in);
	free(out);
}

Test(config, edit_keeps_comments_and_other_sections)
{
	const char *in = "# mine\n[kpy]\n; a comment\npipdir = /old # note\nlevel=7\n\n"
			 "[Other]\nMixedCase = Keep Me\n";

	edit_is(in, "pipdir", "/new",
		"# mine\n[kpy]\n; a comment\npipdir = /new\nlevel=7\n\n[Other]\nMixedCase = Keep Me\n");
	edit_is(in, "compute_hosts", "cn*",
		"# mine\n[kpy]\n; a comment\npipdir = /old # note\nlevel=7\ncompute_hosts = cn*\n\n"
		"[Other]\nMixedCase = Keep Me\n");
	edit_is(in, "level", NULL,
		"# mine\n[kpy]\n; a comment\npipdir = /old # note\n\n[Other]\nMixedCase = Keep Me\n");
	edit_is(in, "compute_hosts", NULL, in);
}

Test(config, edit_matches_any_case)
{
	edit_is("[KPY]\n  PipDir   =  /x\n[other]\npipdir = /not/mine\n", "pipdir", "/y",
		"[KPY]\npipdir = /y\n[other]\npipdir = /not/mine\n");
	edit_is("[ Kpy ]\nLEVEL = 2\n", "level", NULL, "[ Kpy ]\n");
	/* a key that only starts like ours is another key */
	edit_is("[kpy]\npipdir_old = /a\n", "pipdir", "/b", "[kpy]\npipdir_old = /a\npipdir = /b\n");
}

Test(config, edit_keys_above_any_section_count_as_kpy)
{
	edit_is("pipdir = /a\nlevel = 2\n", "pipdir", "/b", "pipdir = /b\nlevel = 2\n");
	edit_is("pipdir = /a\n", "level", "4", "pipdir = /a\nlevel = 4\n");
	edit_is("level = 2\n[kpy]\nlevel = 3\n", "level", "5", "level = 5\n[kpy]\n");
	edit_is("level = 2\n[kpy]\nlevel = 3\n", "level", NULL, "[kpy]\n");
	/* top keys but another section and no [kpy]: a [kpy] section is added */
	edit_is("# c\n[other]\nx = 1\n", "level", "4", "# c\n[other]\nx = 1\n\n[kpy]\nlevel = 4\n");
}

Test(config, edit_crlf_and_missing_final_newline)
{
	edit_is("[kpy]\r\npipdir = /a\r\nlevel = 2\r\n", "pipdir", "/b",
		"[kpy]\r\npipdir = /b\r\nlevel = 2\r\n");
	edit_is("[kpy]\r\nlevel = 2\r\n", "pipdir", "/b", "[kpy]\r\nlevel = 2\r\npipdir = /b\r\n");
	edit_is("[kpy]\nlevel = 2", "level", "3", "[kpy]\nlevel = 3");
	edit_is("[kpy]\nlevel = 2", "pipdir", "/b", "[kpy]\nlevel = 2\npipdir = /b\n");
	edit_is("[other]\nx = 1", "level", "4", "[other]\nx = 1\n\n[kpy]\nlevel = 4\n");
}

Test(config, edit_new_file_and_duplicates)
{
	edit_is("", "level", "5", "[kpy]\nlevel = 5\n");
	edit_is("", "level", NULL, "");
	edit_is("[kpy]\n", "level", "5", "[kpy]\nlevel = 5\n");
	/* a later line would win when read: it goes */
	edit_is("[kpy]\nlevel = 1\n[x]\n[kpy]\nlevel = 2\n", "level", "5", "[kpy]\nlevel = 5\n[x]\n[kpy]\n");
}

Test(config, set_keeps_the_file_and_its_mode)
{
	struct kpy_err e = KPY_ERR_INIT;
	struct kpy_config c;
	char p[PATH_MAX], d[PATH_MAX], *text;
	struct stat st;

	PATHF(d, "%s/cfg/kpy", dir);
	PATHF(p, "%s/config.ini", d);
	PATHF(d, "%s/cfg", dir);
	mkdir(d, 0755);
	PATHF(d, "%s/cfg/kpy", dir);
	mkdir(d, 0755);
	put(p, "; keep\r\n[Other]\r\nKey = V\r\n[kpy]\r\nlevel = 2", 0600);
	cr_assert_eq(kpy_config_set("level", "6", &e), 0, "%s", e.msg);
	text = get(p);
	cr_assert_str_eq(text, "; keep\r\n[Other]\r\nKey = V\r\n[kpy]\r\nlevel = 6");
	free(text);
	cr_assert_eq(stat(p, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0600);
	cr_assert_eq(kpy_config_load(&c, &e), 0, "%s", e.msg);
	cr_assert_eq(c.level, 6);
	kpy_config_free(&c);
	cr_assert_eq(kpy_config_set("level", NULL, &e), 0, "%s", e.msg);
	text = get(p);
	cr_assert_str_eq(text, "; keep\r\n[Other]\r\nKey = V\r\n[kpy]\r\n");
	free(text);
}

Test(config, set_does_not_leak_descriptors)
{
	struct kpy_err e = KPY_ERR_INIT;
	int before = open("/dev/null", O_RDONLY), after;

	close(before);
	for (int i = 0; i < 50; i++)
		cr_assert_eq(kpy_config_set("level", i % 2 ? "4" : "5", &e), 0, "%s", e.msg);
	after = open("/dev/null", O_RDONLY);
	close(after);
	cr_assert_eq(after, before, "descriptors leaked: next fd %d, was %d", after, before);
}

Test(config, unknown_key_suggests_the_closest)
{
	struct kpy_err e = KPY_ERR_INIT;

	cr_assert_eq(kpy_config_set("pipdri", "/x", &e), -1);
	cr_assert(strstr(e.msg, "did you mean 'pipdir'?") != NULL, "%s", e.msg);
}

/* the plugin reads the job's configuration from the job's environment, not its own */
Test(config, load_from_a_given_environment)
{
	struct kpy_config c;
	struct kpy_err e = KPY_ERR_INIT;
	char home[PATH_MAX], cfgdir[PATH_MAX], user[PATH_MAX], want[PATH_MAX];
	char ehome[PATH_MAX + 8], ecfg[PATH_MAX + 20], esite[PATH_MAX + 20];
	char *env[] = { ehome, ecfg, esite, "KPY_LEVEL=7", "KPY_PIPDIRX=/not/this", NULL };

	/* the process environment says otherwise everywhere */
	setenv("KPY_PIPDIR", "/process/pip", 1);
	setenv("KPY_LEVEL", "2", 1);
	PATHF(home, "%s/jobhome", dir);
	mkdir(home, 0755);
	PATHF(cfgdir, "%s/jobcfg", dir);
	mkdir(cfgdir, 0755);
	PATHF(user, "%s/kpy", cfgdir);
	mkdir(user, 0755);
	PATHF(user, "%s/kpy/config.ini", cfgdir);
	put(user, "[kpy]\ncompute_hosts = cn*\n", 0644);
	snprintf(ehome, sizeof(ehome), "HOME=%s", home);
	snprintf(ecfg, sizeof(ecfg), "XDG_CONFIG_HOME=%s", cfgdir);
	snprintf(esite, sizeof(esite), "KPY_SITE_CONFIG=%s", site);

	cr_assert_eq(kpy_config_load_from(&c, kpy_envp_get, env, &e), 0, "%s", e.msg);
	PATHF(want, "%s/.local/share/kpy", home);
	cr_assert_str_eq(c.pipdir, want, "the default pipdir under the given HOME");
	cr_assert_eq(c.level, 7, "KPY_LEVEL of the given environment");
	cr_assert_str_eq(c.compute_hosts, "cn*", "the user file under the given XDG_CONFIG_HOME");
	kpy_config_free(&c);

	env[3] = "KPY_PIPDIR=/given/pip";
	cr_assert_eq(kpy_config_load_from(&c, kpy_envp_get, env, &e), 0, "%s", e.msg);
	cr_assert_str_eq(c.pipdir, "/given/pip");
	cr_assert_eq(c.level, 3);
	kpy_config_free(&c);

	/* and kpy_config_load is the same loader over the process environment */
	cr_assert_eq(kpy_config_load(&c, &e), 0, "%s", e.msg);
	cr_assert_str_eq(c.pipdir, "/process/pip");
	cr_assert_eq(c.level, 2);
	kpy_config_free(&c);
	unsetenv("KPY_PIPDIR");
	unsetenv("KPY_LEVEL");
}

Test(config, envp_lookup)
{
	char *env[] = { "A=1", "AB=2", "B=", "A=3", NULL };

	cr_assert_str_eq(kpy_envp_get("A", env), "1", "the first of two, as getenv");
	cr_assert_str_eq(kpy_envp_get("AB", env), "2");
	cr_assert_str_eq(kpy_envp_get("B", env), "");
	cr_assert_null(kpy_envp_get("C", env));
	cr_assert_null(kpy_envp_get("A", NULL));
}

Test(config, one_table_of_keys)
{
	struct kpy_config c;
	struct kpy_err e = KPY_ERR_INIT;
	int n = 0;

	cr_assert_eq(kpy_config_load(&c, &e), 0, "%s", e.msg);
	cr_assert_eq(kpy_config_check_key("nosuchkey", &e), -1);
	for (; kpy_config_table[n].name != NULL; n++) {
		const struct kpy_config_key *k = &kpy_config_table[n];
		char *v = kpy_config_value(&c, k->name);
		cr_assert_str_eq(kpy_config_keys[n], k->name, "kpy_config_keys[%d]", n);
		cr_assert(k->about != NULL && k->about[0] && k->dflt != NULL && k->dflt[0], "%s", k->name);
		cr_assert(kpy_config_known(k->name), "%s", k->name);
		cr_assert(v != NULL, "no value for %s", k->name);
		cr_assert(strstr(e.msg, k->name) != NULL, "the unknown-key message lacks %s: %s", k->name, e.msg);
		free(v);
	}
	cr_assert_null(kpy_config_keys[n]);
	cr_assert_gt(n, 0);
	cr_assert_null(kpy_config_value(&c, "nosuchkey"));
	kpy_config_free(&c);
}

Test(config, site_pipdir_from_the_site_file_only)
{
	struct kpy_config c;
	struct kpy_err e = KPY_ERR_INIT;
	char user[PATH_MAX], cfgdir[PATH_MAX];

	cr_assert_eq(kpy_config_load(&c, &e), 0, "%s", e.msg);
	cr_assert_null(c.site_pipdir, "unset by default");
	kpy_config_free(&c);
	/* ':' or blanks between, kept joined by ':' */
	put(site, "[kpy]\nsite_pipdir = /opt/a: /opt/b  /opt/c:\n", 0644);
	cr_assert_eq(kpy_config_load(&c, &e), 0, "%s", e.msg);
	cr_assert_str_eq(c.site_pipdir, "/opt/a:/opt/b:/opt/c");
	char *v = kpy_config_value(&c, "site_pipdir");
	cr_assert_str_eq(v, "/opt/a:/opt/b:/opt/c");
	free(v);
	kpy_config_free(&c);
	/* a relative part is an error naming it and the file */
	put(site, "[kpy]\nsite_pipdir = /opt/a:rel\n", 0644);
	cr_assert_eq(kpy_config_load(&c, &e), -1);
	cr_assert_eq(e.code, KPY_ECONFIG);
	cr_assert(strstr(e.msg, "site_pipdir 'rel'") && strstr(e.msg, site), "%s", e.msg);
	/* in the user file: an error saying where it is read from */
	put(site, "[kpy]\nsite_pipdir = /opt/a\n", 0644);
	PATHF(cfgdir, "%s/cfg/kpy", dir);
	cr_assert_eq(kpy_mkdirs(cfgdir, 0755, &e), 0);
	PATHF(user, "%s/config.ini", cfgdir);
	put(user, "[kpy]\nsite_pipdir = /mine\n", 0644);
	kpy_err_clear(&e);
	cr_assert_eq(kpy_config_load(&c, &e), -1);
	cr_assert_eq(e.code, KPY_ECONFIG);
	cr_assert(strstr(e.msg, user) && strstr(e.msg, "site file only") && strstr(e.msg, "--unset site_pipdir"), "%s", e.msg);
	/* kpy config site_pipdir VALUE is refused; --unset works */
	kpy_err_clear(&e);
	cr_assert_eq(kpy_config_set("site_pipdir", "/x", &e), -1);
	cr_assert_eq(e.code, KPY_EINVAL);
	cr_assert(strstr(e.msg, "site file only"), "%s", e.msg);
	kpy_err_clear(&e);
	cr_assert_eq(kpy_config_set("site_pipdir", NULL, &e), 0, "%s", e.msg);
	cr_assert_eq(kpy_config_load(&c, &e), 0, "%s", e.msg);
	cr_assert_str_eq(c.site_pipdir, "/opt/a");
	kpy_config_free(&c);
}

Test(config, threads_auto_file_variable_and_bad_values)
{
	struct kpy_config c;
	struct kpy_err e = KPY_ERR_INIT;
	char *v;

	cr_assert_eq(kpy_config_load(&c, &e), 0, "%s", e.msg);
	cr_assert_eq(c.threads, 0, "unset: auto");
	cr_assert_str_eq(v = kpy_config_value(&c, "threads"), "auto");
	free(v);
	kpy_config_free(&c);
	put(site, "[kpy]\nthreads = 6\n", 0644);
	cr_assert_eq(kpy_config_load(&c, &e), 0, "%s", e.msg);
	cr_assert_eq(c.threads, 6);
	cr_assert_str_eq(v = kpy_config_value(&c, "threads"), "6");
	free(v);
	kpy_config_free(&c);
	cr_assert_eq(kpy_config_set("threads", "auto", &e), 0, "%s", e.msg);
	cr_assert_eq(kpy_config_load(&c, &e), 0, "%s", e.msg);
	cr_assert_eq(c.threads, 0, "the user's auto wins over the site's 6");
	kpy_config_free(&c);
	setenv("KPY_THREADS", "3", 1);
	cr_assert_eq(kpy_config_load(&c, &e), 0, "%s", e.msg);
	cr_assert_eq(c.threads, 3, "KPY_THREADS wins");
	kpy_config_free(&c);
	static const char *const bad[] = { "65", "-1", "x", "2x", " 2", "1e3", NULL };
	for (int i = 0; bad[i] != NULL; i++) {
		kpy_err_clear(&e);
		setenv("KPY_THREADS", bad[i], 1);
		cr_assert_eq(kpy_config_load(&c, &e), -1, "[%s]", bad[i]);
		cr_assert_eq(e.code, KPY_ECONFIG);
		cr_assert(strstr(e.msg, "threads '") && strstr(e.msg, "KPY_THREADS") && strstr(e.msg, "1 to 64"),
			  "%s", e.msg);
	}
	unsetenv("KPY_THREADS");
	kpy_err_clear(&e);
	cr_assert_eq(kpy_config_set("threads", "100", &e), -1, "kpy config refuses it too");
}
