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
	cr_assert_eq(e.code, KPY_EINVAL);
	cr_assert(strstr(e.msg, "level '42'") && strstr(e.msg, site), "%s", e.msg);

	kpy_err_clear(&e);
	put(site, "[kpy]\npipdir = relative/dir\n", 0644);
	cr_assert_eq(kpy_config_load(&c, &e), -1);
	cr_assert(strstr(e.msg, "not an absolute path"), "%s", e.msg);

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
