/* test_venvfacts.c: kpy/venvfacts.c: the prompt a venv gives itself (activate, then
 * pyvenv.cfg, then its directory), the prefixes a save refuses, pyvenv.cfg's prompt
 * rewritten, and a missing base interpreter named. */
#include "helpers.h"
#include "venvfacts.h"

static char *d;
static char env[PATH_MAX];

static void setup(void)
{
	char p[PATH_MAX];
	struct kpy_err e = KPY_ERR_INIT;

	d = mk_tmpdir();
	PATHF(env, "%s/myenv", d);
	PATHF(p, "%s/bin", env);
	cr_assert_eq(kpy_mkdirs(p, 0755, &e), 0);
}

static void teardown(void)
{
	rm_tmpdir(d);
}

TestSuite(venvfacts, .init = setup, .fini = teardown);

static void activate(const char *text)
{
	char p[PATH_MAX];

	PATHF(p, "%s/bin/activate", env);
	put(p, text, 0644);
}

static void prompt_is(const char *cfg, const char *want)
{
	char *got = kpy_venv_prompt(env, cfg);

	cr_assert_not_null(got);
	cr_assert_str_eq(got, want);
	free(got);
}

Test(venvfacts, prompt_from_activate_then_cfg_then_the_directory)
{
	prompt_is(NULL, "myenv");
	prompt_is("home = /usr/bin\n", "myenv");
	prompt_is("home = /usr/bin\nprompt = 'fromcfg'\n", "fromcfg");
	prompt_is("prompt = \"dq\"\n", "dq");
	prompt_is("prompt = bare\n", "bare");
	activate("VIRTUAL_ENV=/x\nVIRTUAL_ENV_PROMPT='(torch) '\nexport VIRTUAL_ENV_PROMPT\n");
	prompt_is("prompt = 'fromcfg'\n", "torch");
	activate("VIRTUAL_ENV_PROMPT=\"sci\"\n");
	prompt_is(NULL, "sci");
	activate("VIRTUAL_ENV_PROMPT=plain\n");
	prompt_is(NULL, "plain");
	/* a prompt computed by the shell is no name: the next source decides */
	activate("VIRTUAL_ENV_PROMPT=\"$(basename \"$VIRTUAL_ENV\")\"\n");
	prompt_is("prompt = 'c'\n", "c");
	activate("no prompt here\n");
	prompt_is(NULL, "myenv");
}

Test(venvfacts, bad_prefixes_are_named)
{
	cr_assert_null(kpy_bad_prefix("/home/me/envs/torch", 0));
	cr_assert_null(kpy_bad_prefix("/home/me/my envs/torch", 0), "an inner blank is fine");
	cr_assert_null(kpy_bad_prefix("/home/o'brien/env", 1));
	cr_assert_str_eq(kpy_bad_prefix("/home/o'brien/env", 0),
			 "a quote (') in it would break the env's activate scripts");
	cr_assert(strstr(kpy_bad_prefix("/home/me/a\nb", 1), "control character") != NULL);
	cr_assert(strstr(kpy_bad_prefix("/home/me/a\tb", 1), "control character") != NULL);
	cr_assert(strstr(kpy_bad_prefix("/home/me/a\x7f", 1), "control character") != NULL);
	cr_assert_str_eq(kpy_bad_prefix("/home/me/env ", 1), "it ends in a blank");
}

Test(venvfacts, set_cfg_prompt_changes_only_that_line)
{
	struct kpy_err e = KPY_ERR_INIT;
	char p[PATH_MAX], *got;
	struct stat st;

	PATHF(p, "%s/pyvenv.cfg", env);
	cr_assert_eq(kpy_venv_set_cfg_prompt(env, "new", &e), 0, "no pyvenv.cfg: nothing to do");
	cr_assert(!exists(p));
	put(p, "home = /usr/bin\nversion = 3.11.2\n", 0600);
	cr_assert_eq(kpy_venv_set_cfg_prompt(env, "new", &e), 0, "%s", e.msg);
	cr_assert_str_eq(got = get(p), "home = /usr/bin\nversion = 3.11.2\n", "no prompt line: none added");
	free(got);
	put(p, "home = /usr/bin\r\nprompt = 'old'\r\nversion = 3.11.2\r\n", 0600);
	cr_assert_eq(kpy_venv_set_cfg_prompt(env, "new", &e), 0, "%s", e.msg);
	cr_assert_str_eq(got = get(p), "home = /usr/bin\r\nprompt = 'new'\r\nversion = 3.11.2\r\n");
	free(got);
	cr_assert_eq(stat(p, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0600, "its mode kept");
}

Test(venvfacts, check_python_names_the_missing_interpreter)
{
	struct kpy_err e = KPY_ERR_INIT;
	struct kpy_manifest m = { .python_version = "3.99.1" };
	char p[PATH_MAX], dest[PATH_MAX];

	PATHF(dest, "%s/final", d);
	cr_assert_eq(kpy_venv_check_python(env, dest, &m, "/pd/x.tar.zst", &e), 0, "no bin/python: nothing to check");
	PATHF(p, "%s/bin/python", env);
	cr_assert_eq(symlink("python3", p), 0);
	PATHF(p, "%s/bin/python3", env);
	cr_assert_eq(symlink("/nonexistent/bin/python3.99", p), 0);
	cr_assert_eq(kpy_venv_check_python(env, dest, &m, "/pd/x.tar.zst", &e), -1);
	cr_assert_eq(e.code, KPY_ENOPYTHON);
	cr_assert(strstr(e.msg, "/nonexistent/bin/python3.99") && strstr(e.msg, "Python 3.99.1") &&
		  strstr(e.msg, "/pd/x.tar.zst"), "%s", e.msg);
	/* a link into the env's final place is followed inside the restored tree */
	kpy_err_clear(&e);
	unlink(p);
	char target[PATH_MAX];
	PATHF(target, "%s/bin/real", dest);
	cr_assert_eq(symlink(target, p), 0);
	PATHF(p, "%s/bin/real", env);
	put(p, "#!/bin/sh\n", 0755);
	cr_assert_eq(kpy_venv_check_python(env, dest, &m, "/pd/x.tar.zst", &e), 0, "%s", e.msg);
	/* a working interpreter outside */
	unlink(p);
	cr_assert_eq(kpy_venv_check_python(env, dest, &m, "/pd/x.tar.zst", &e), -1);
	cr_assert(strstr(e.msg, "/bin/real") != NULL, "%s", e.msg);
}

Test(venvfacts, base_python_is_what_bin_python_leads_to_outside)
{
	char p[PATH_MAX], real[PATH_MAX], *got;

	cr_assert_null(kpy_venv_base_python(env, NULL));
	cr_assert_str_eq(got = kpy_venv_base_python(env, "executable = /opt/py/bin/python3.12\n"),
			 "/opt/py/bin/python3.12", "no link: pyvenv.cfg's executable");
	free(got);
	PATHF(p, "%s/bin/python", env);
	cr_assert_eq(symlink("/bin/sh", p), 0);
	cr_assert_not_null(realpath("/bin/sh", real));
	cr_assert_str_eq(got = kpy_venv_base_python(env, NULL), real);
	free(got);
}
