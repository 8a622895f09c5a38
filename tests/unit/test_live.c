/* test_live.c: kpy/live.c: where live envs go, listing, placeholders, creating. */
#include "helpers.h"
#include "live.h"

Test(live, root_in_a_job_and_elsewhere)
{
	struct kpy_err e = KPY_ERR_INIT;
	char *r;

	setenv("SLURM_TMPDIR", "/scratch/job1", 1);
	r = kpy_live_root(&e);
	cr_assert_str_eq(r, "/scratch/job1/kpy");
	free(r);
	unsetenv("SLURM_TMPDIR");
	setenv("TMPDIR", "/var/tmp", 1);
	r = kpy_live_root(&e);
	cr_assert(strncmp(r, "/var/tmp/kpy-", 13) == 0, "%s", r);
	free(r);
	unsetenv("TMPDIR");
	r = kpy_live_root(&e);
	cr_assert(strncmp(r, "/tmp/kpy-", 9) == 0, "%s", r);
	free(r);
}

Test(live, list_and_placeholder)
{
	struct kpy_err e = KPY_ERR_INIT;
	char *d = mk_tmpdir(), p[PATH_MAX], **names, *ph;

	ph = kpy_live_placeholder(d, &e);
	cr_assert_str_eq(ph, "venv");
	free(ph);
	const char *envs[] = { "venv", "b", ".hidden.kpy-123", "notanenv" };
	for (size_t i = 0; i < 4; i++) {
		PATHF(p, "%s/%s/bin", d, envs[i]);
		cr_assert_eq(kpy_mkdirs(p, 0755, &e), 0);
		if (i < 3) {
			PATHF(p, "%s/%s/bin/activate", d, envs[i]);
			put(p, "", 0644);
		}
	}
	ph = kpy_live_placeholder(d, &e);
	cr_assert_str_eq(ph, "venv1");
	free(ph);
	cr_assert_eq(kpy_live_list(d, &names, &e), 0);
	cr_assert_str_eq(names[0], "b");
	cr_assert_str_eq(names[1], "venv");
	cr_assert_null(names[2]);
	kpy_strv_free(names);
	rm_tmpdir(d);
}

Test(live, create_a_real_venv, .timeout = 60)
{
	struct kpy_err e = KPY_ERR_INIT;
	char *d = mk_tmpdir(), p[PATH_MAX], a[PATH_MAX], *text;

	PATHF(p, "%s/myenv", d);
	cr_assert_eq(kpy_venv_create("/usr/bin/python3", p, "myenv", &e), 0, "%s", e.msg);
	PATHF(a, "%s/bin/activate", p);
	text = get(a);
	cr_assert_not_null(text);
	cr_assert(strstr(text, "(myenv)") != NULL);
	free(text);
	kpy_err_clear(&e);
	cr_assert_eq(kpy_venv_create("/usr/bin/python3", p, "myenv", &e), -1);
	cr_assert_eq(e.code, KPY_EEXIST);
	rm_tmpdir(d);
}

Test(live, missing_python_leaves_nothing)
{
	struct kpy_err e = KPY_ERR_INIT;
	char *d = mk_tmpdir(), p[PATH_MAX];

	PATHF(p, "%s/env", d);
	cr_assert_eq(kpy_venv_create("python3.99", p, "env", &e), -1);
	cr_assert_eq(e.code, KPY_ENOENT);
	cr_assert(strstr(e.msg, "python3.99") != NULL, "%s", e.msg);
	cr_assert(!exists(p));
	rm_tmpdir(d);
}
