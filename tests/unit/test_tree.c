/* test_tree.c: kpy/tree.c never follows symlinks while removing. */
#include "helpers.h"
#include <grp.h>
#include <sys/wait.h>

Test(tree, rmtree_does_not_follow_symlinks)
{
	struct kpy_err e = KPY_ERR_INIT;
	char *d = mk_tmpdir(), p[PATH_MAX], q[PATH_MAX], outside[PATH_MAX];

	PATHF(outside, "%s/outside", d);
	mkdir(outside, 0755);
	PATHF(p, "%s/keep", outside);
	put(p, "precious", 0644);
	PATHF(p, "%s/victim/a/b", d);
	cr_assert_eq(kpy_mkdirs(p, 0755, &e), 0);
	PATHF(p, "%s/victim/a/link", d);
	cr_assert_eq(symlink(outside, p), 0);
	PATHF(p, "%s/victim/a/b/file", d);
	put(p, "x", 0644);
	PATHF(p, "%s/victim/ro", d);
	mkdir(p, 0755);
	PATHF(q, "%s/victim/ro/f", d);
	put(q, "x", 0644);
	chmod(p, 0555);
	PATHF(p, "%s/victim", d);
	cr_assert_eq(kpy_rmtree(p, &e), 0, "%s", e.msg);
	cr_assert(!exists(p));
	PATHF(p, "%s/keep", outside);
	cr_assert(exists(p), "a file behind a symlink was removed");
	/* a symlink as the top is unlinked, not followed */
	PATHF(p, "%s/toplink", d);
	cr_assert_eq(symlink(outside, p), 0);
	cr_assert_eq(kpy_rmtree(p, &e), 0);
	cr_assert(!exists(p));
	PATHF(p, "%s/keep", outside);
	cr_assert(exists(p));
	PATHF(p, "%s/missing", d);
	cr_assert_eq(kpy_rmtree(p, &e), 0);
	rm_tmpdir(d);
}

Test(tree, mkdirs)
{
	struct kpy_err e = KPY_ERR_INIT;
	char *d = mk_tmpdir(), p[PATH_MAX];

	PATHF(p, "%s/a/b/c", d);
	cr_assert_eq(kpy_mkdirs(p, 0700, &e), 0);
	cr_assert_eq(kpy_mkdirs(p, 0700, &e), 0, "existing is fine");
	PATHF(p, "%s/f", d);
	put(p, "", 0644);
	PATHF(p, "%s/f/sub", d);
	cr_assert_eq(kpy_mkdirs(p, 0700, &e), -1);
	rm_tmpdir(d);
}

Test(tree, very_deep_and_read_only_trees_go)
{
	struct kpy_err e = KPY_ERR_INIT;
	char *d = mk_tmpdir(), p[PATH_MAX];
	int fd;

	/* 600 levels: deeper than the directories rmtree holds open at once */
	PATHF(p, "%s/deep", d);
	mkdir(p, 0755);
	fd = open(p, O_RDONLY | O_DIRECTORY);
	for (int i = 0; i < 600; i++) {
		cr_assert_eq(mkdirat(fd, "d", 0755), 0);
		int sub = openat(fd, "d", O_RDONLY | O_DIRECTORY);
		close(fd);
		fd = sub;
	}
	int f = openat(fd, "leaf", O_WRONLY | O_CREAT, 0644);
	close(f);
	fchmod(fd, 0555); /* a read-only directory at the bottom */
	close(fd);
	cr_assert_eq(kpy_rmtree(p, &e), 0, "%s", e.msg);
	cr_assert(!exists(p));
	rm_tmpdir(d);
}

/* A mode-0000 directory (inside one of mode 0000) with files in it goes too, for its
 * owner: its mode is fixed before it is opened. As root, run as nobody. */
Test(tree, unreadable_directories_of_the_owner_go)
{
	struct kpy_err e = KPY_ERR_INIT;
	char *d = mk_tmpdir(), p[PATH_MAX], top[PATH_MAX];

	chmod(d, 0755);
	PATHF(top, "%s/t", d);
	PATHF(p, "%s/t/a/b", d);
	cr_assert_eq(kpy_mkdirs(p, 0755, &e), 0);
	PATHF(p, "%s/t/a/b/f", d);
	put(p, "x", 0644);
	PATHF(p, "%s/t/a/g", d);
	put(p, "x", 0644);
	if (geteuid() == 0) {
		char cmd[PATH_MAX + 32];
		PATHF(cmd, "chown -R 65534:65534 '%s'", d);
		cr_assert_eq(system(cmd), 0);
	}
	PATHF(p, "%s/t/a/b", d);
	chmod(p, 0);
	PATHF(p, "%s/t/a", d);
	chmod(p, 0);
	pid_t pid = fork();
	if (pid == 0) {
		if (geteuid() == 0 && (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0))
			_exit(3);
		_exit(kpy_rmtree(top, &e) == 0 ? 0 : 4);
	}
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "rmtree failed (%d)", status);
	cr_assert(!exists(top));
	/* the top itself at mode 0000 */
	PATHF(p, "%s/t/x", d);
	cr_assert_eq(kpy_mkdirs(p, 0755, &e), 0);
	if (geteuid() == 0)
		cr_assert_eq(chown(top, 65534, 65534), 0);
	chmod(top, 0);
	pid = fork();
	if (pid == 0) {
		if (geteuid() == 0 && (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0))
			_exit(3);
		_exit(kpy_rmtree(top, &e) == 0 ? 0 : 4);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "rmtree of a mode-0000 top failed");
	cr_assert(!exists(top));
	rm_tmpdir(d);
}

/* A relative path (a relative $SLURM_TMPDIR) is refused before anything is made in
 * the working directory. */
Test(tree, mkdirs_refuses_relative_paths)
{
	struct kpy_err e = KPY_ERR_INIT;
	char *d = mk_tmpdir(), p[PATH_MAX];
	int cwd = open(".", O_RDONLY | O_DIRECTORY);

	cr_assert_eq(chdir(d), 0);
	int rc = kpy_mkdirs("scratch/kpy", 0700, &e);
	int made = exists("scratch");
	(void)!fchdir(cwd);
	close(cwd);
	cr_assert_eq(rc, -1);
	cr_assert_eq(e.code, KPY_EINVAL);
	cr_assert(strstr(e.msg, "scratch/kpy") != NULL && strstr(e.msg, "absolute") != NULL, "%s", e.msg);
	cr_assert(!made, "a directory was made relative to the working directory");
	PATHF(p, "%s/scratch", d);
	cr_assert(!exists(p));
	rm_tmpdir(d);
}
