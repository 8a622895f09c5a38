/* test_live.c: kpy/live.c: where live envs go, listing, placeholders, creating. */
#include "helpers.h"
#include "live.h"
#include "store.h"
#include <signal.h>
#include <sys/wait.h>

Test(live, root_in_a_job_and_elsewhere)
{
	struct kpy_err e = KPY_ERR_INIT;
	char *d = mk_tmpdir(), p[PATH_MAX], *r;
	struct stat st;

	unsetenv("SLURM_JOB_ID");
	PATHF(p, "%s/job1", d);
	setenv("SLURM_TMPDIR", p, 1);
	r = kpy_live_root(&e);
	PATHF(p, "%s/job1/kpy", d);
	cr_assert_str_eq(r, p);
	cr_assert(stat(p, &st) == 0 && S_ISDIR(st.st_mode), "made");
	free(r);
	unsetenv("SLURM_TMPDIR");
	setenv("TMPDIR", d, 1);
	r = kpy_live_root(&e);
	PATHF(p, "%s/kpy-", d);
	cr_assert(strncmp(r, p, strlen(p)) == 0 && strchr(r + strlen(p), '/') == NULL, "%s", r);
	cr_assert(stat(r, &st) == 0 && (st.st_mode & 0777) == 0700, "private");
	free(r);
	unsetenv("TMPDIR");
	rm_tmpdir(d);
}

/* one layout for the command, kpy run and the plugin: envs, uv caches, script envs */
Test(live, paths_of_each_kind)
{
	char *r = kpy_live_scratch_root("/scratch/job7"), *p;

	cr_assert_str_eq(r, "/scratch/job7/kpy");
	p = kpy_live_path(r, KPY_KIND_VENV, "torch");
	cr_assert_str_eq(p, "/scratch/job7/kpy/torch");
	free(p);
	p = kpy_live_path(r, KPY_KIND_UV, "ml");
	cr_assert_str_eq(p, "/scratch/job7/kpy/.uv/ml");
	free(p);
	p = kpy_live_path(r, KPY_KIND_SCRIPT, "3.11-abc");
	cr_assert_str_eq(p, "/scratch/job7/kpy/.run/3.11-abc");
	free(p);
	p = kpy_live_path(r, KPY_KIND_UV, NULL);
	cr_assert_str_eq(p, "/scratch/job7/kpy/.uv");
	free(p);
	p = kpy_live_path(r, KPY_KIND_VENV, NULL);
	cr_assert_str_eq(p, "/scratch/job7/kpy");
	free(p);
	free(r);
}

/* hardening #5: a job without SLURM_TMPDIR gets a directory of its own, and making
 * one removes those of jobs that have no process left here */
Test(live, per_job_directory_and_pruning)
{
	struct kpy_err e = KPY_ERR_INIT;
	char *d = mk_tmpdir(), p[PATH_MAX], *user, *r, h[256] = "";

	gethostname(h, sizeof(h) - 1);
	unsetenv("SLURM_TMPDIR");
	setenv("TMPDIR", d, 1);
	cr_assert_not_null(user = kpy_user_root(&e), "%s", e.msg);
	PATHF(p, "%s/.job-999999991@%s/env/bin", user, h); /* a job long gone */
	cr_assert_eq(kpy_mkdirs(p, 0755, &e), 0);
	PATHF(p, "%s/.job-999999990@other-node/env/bin", user); /* TMPDIR shared with a node */
	cr_assert_eq(kpy_mkdirs(p, 0755, &e), 0);
	setenv("SLURM_JOB_ID", "999999992", 1);
	cr_assert_not_null(r = kpy_live_root(&e), "%s", e.msg);
	PATHF(p, "%s/.job-999999992@%s", user, h);
	cr_assert_str_eq(r, p);
	PATHF(p, "%s/.job-999999991@%s", user, h);
	cr_assert(!exists(p), "the ended job's directory is removed");
	PATHF(p, "%s/.job-999999990@other-node", user);
	cr_assert(exists(p), "another node's job is left alone");
	free(r);
	/* a second call in the same job: the same directory, kept */
	cr_assert_not_null(r = kpy_live_root(&e));
	PATHF(p, "%s/.job-999999992@%s", user, h);
	cr_assert_str_eq(r, p);
	cr_assert(exists(p));
	free(r);
	/* a job with a process alive here is kept when another job starts */
	pid_t pid = fork();
	if (pid == 0) {
		char *envp[] = { "SLURM_JOB_ID=999999992", NULL };
		execle("/bin/sleep", "sleep", "30", (char *)NULL, envp);
		_exit(127);
	}
	usleep(100000);
	setenv("SLURM_JOB_ID", "999999993", 1);
	cr_assert_not_null(r = kpy_live_root(&e));
	free(r);
	cr_assert(exists(p), "a running job's directory is kept");
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	setenv("SLURM_JOB_ID", "999999994", 1);
	cr_assert_not_null(r = kpy_live_root(&e));
	free(r);
	cr_assert(!exists(p), "removed once its job ended");
	unsetenv("SLURM_JOB_ID");
	unsetenv("TMPDIR");
	free(user);
	rm_tmpdir(d);
}

/* hardening #4: another user's ${TMPDIR}/kpy-USER is never used nor fatal */
Test(live, squatted_root_gets_a_private_one)
{
	struct kpy_err e = KPY_ERR_INIT;
	char *d = mk_tmpdir(), p[PATH_MAX], state[PATH_MAX], *r1, *r2, *text;
	struct stat st;

	if (getuid() != 0)
		cr_skip_test("needs root to make a directory of another user");
	unsetenv("SLURM_TMPDIR");
	unsetenv("SLURM_JOB_ID");
	setenv("TMPDIR", d, 1);
	PATHF(state, "%s/state", d);
	setenv("XDG_STATE_HOME", state, 1);
	PATHF(p, "%s/kpy-root", d);
	cr_assert_eq(mkdir(p, 0777), 0);
	cr_assert_eq(chown(p, 65534, 65534), 0);
	cr_assert_not_null(r1 = kpy_user_root(&e), "%s", e.msg);
	cr_assert(strncmp(r1, p, strlen(p)) == 0 && r1[strlen(p)] == '.', "%s", r1);
	cr_assert(lstat(r1, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == 0 && (st.st_mode & 0777) == 0700);
	cr_assert_not_null(r2 = kpy_user_root(&e));
	cr_assert_str_eq(r1, r2, "remembered");
	char host[256] = "";
	gethostname(host, sizeof(host) - 1);
	PATHF(state, "%s/state/kpy/live-root.%s", d, host);
	cr_assert_not_null(text = get(state));
	cr_assert(strncmp(text, r1, strlen(r1)) == 0);
	free(text);
	free(r2);
	/* the remembered one gone (reboot): a new one */
	rmdir(r1);
	cr_assert_not_null(r2 = kpy_user_root(&e));
	cr_assert(exists(r2));
	free(r1);
	free(r2);
	unsetenv("TMPDIR");
	unsetenv("XDG_STATE_HOME");
	rm_tmpdir(d);
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
	cr_assert_eq(e.code, KPY_ETAKEN);
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

/* save NEWNAME through the shell function renames the live env: paths follow */
Test(live, rename_rewrites_paths)
{
	struct kpy_err e = KPY_ERR_INIT;
	char *d = mk_tmpdir(), oldp[PATH_MAX], newp[PATH_MAX], p[PATH_MAX], t[PATH_MAX * 2], *text;
	char link[PATH_MAX];
	ssize_t n;

	PATHF(oldp, "%s/old", d);
	PATHF(newp, "%s/new", d);
	PATHF(p, "%s/bin", oldp);
	cr_assert_eq(kpy_mkdirs(p, 0755, &e), 0);
	PATHF(p, "%s/bin/tool", oldp);
	snprintf(t, sizeof(t), "#!%s/bin/python\nprint(1)\n", oldp);
	put(p, t, 0755);
	PATHF(p, "%s/bin/activate", oldp);
	snprintf(t, sizeof(t), "VIRTUAL_ENV=\"%s\"\nexport VIRTUAL_ENV\n", oldp);
	put(p, t, 0644);
	PATHF(p, "%s/bin/abs", oldp);
	snprintf(t, sizeof(t), "%s/bin/tool", oldp);
	cr_assert_eq(symlink(t, p), 0);
	PATHF(p, "%s/bin/tool", newp);
	cr_assert_eq(kpy_live_rename(oldp, newp, &e), 0, "%s", e.msg);
	cr_assert(!exists(oldp));
	cr_assert_not_null(text = get(p));
	snprintf(t, sizeof(t), "#!%s/bin/python\n", newp);
	cr_assert(strncmp(text, t, strlen(t)) == 0, "%s", text);
	free(text);
	PATHF(p, "%s/bin/activate", newp);
	cr_assert_not_null(text = get(p));
	cr_assert(strstr(text, newp) != NULL && strstr(text, oldp) == NULL, "%s", text);
	free(text);
	PATHF(p, "%s/bin/abs", newp);
	cr_assert((n = readlink(p, link, sizeof(link) - 1)) > 0);
	link[n] = '\0';
	snprintf(t, sizeof(t), "%s/bin/tool", newp);
	cr_assert_str_eq(link, t);
	/* a taken name is refused, nothing moves */
	cr_assert_eq(kpy_mkdirs(oldp, 0755, &e), 0);
	cr_assert_eq(kpy_live_rename(newp, oldp, &e), -1);
	cr_assert_eq(e.code, KPY_ETAKEN);
	rm_tmpdir(d);
}

Test(live, modified_compares_dist_info_with_the_saved_list)
{
	struct kpy_err e = KPY_ERR_INIT;
	char *d = mk_tmpdir(), p[PATH_MAX];

	cr_assert_eq(kpy_live_modified(d), -1, "no .kpy/packages: unknown");
	PATHF(p, "%s/lib/python3.11/site-packages/a-1.dist-info", d);
	cr_assert_eq(kpy_mkdirs(p, 0755, &e), 0);
	PATHF(p, "%s/.kpy", d);
	cr_assert_eq(kpy_mkdirs(p, 0755, &e), 0);
	PATHF(p, "%s/.kpy/packages", d);
	put(p, "a-1.dist-info\n", 0644);
	cr_assert_eq(kpy_live_modified(d), 0);
	PATHF(p, "%s/lib/python3.11/site-packages/b-2.dist-info", d);
	cr_assert_eq(kpy_mkdirs(p, 0755, &e), 0);
	cr_assert_eq(kpy_live_modified(d), 1, "installed since");
	rmdir(p);
	PATHF(p, "%s/.kpy/packages", d);
	put(p, "a-1.dist-info\nz-1.dist-info\n", 0644);
	cr_assert_eq(kpy_live_modified(d), 1, "removed since");
	rm_tmpdir(d);
}

/* A root too long for PATH_MAX with the name added is an error naming it, never a
 * truncated path that is then used (looked up, removed, written). */
Test(live_paths, too_long_paths_are_errors)
{
	struct kpy_err e = KPY_ERR_INIT;
	struct kpy_manifest m = { 0 };
	char root[PATH_MAX];

	memset(root, 'a', sizeof(root) - 4);
	root[0] = '/';
	root[sizeof(root) - 4] = '\0';
	cr_assert_null(kpy_live_placeholder(root, &e));
	cr_assert_eq(e.code, KPY_EINVAL, "%s", e.msg);
	cr_assert(strstr(e.msg, "longer than the limit") != NULL, "%s", e.msg);
	kpy_err_clear(&e);
	cr_assert_eq(kpy_live_manifest(root, &m, &e), -1);
	cr_assert_eq(e.code, KPY_EINVAL, "%s", e.msg);
}
