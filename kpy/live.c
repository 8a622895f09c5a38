/* live.c: environments in use: their root directory, listing, placeholders, creation. */
#include "autoconfig.h"
#include "live.h"
#include "store.h"
#include "tree.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char *user_name(void)
{
	struct passwd pw, *res = NULL;
	char buf[4096], *out;
	const char *u = getenv("USER");

	if (getpwuid_r(getuid(), &pw, buf, sizeof(buf), &res) == 0 && res != NULL)
		return strdup(pw.pw_name);
	if (u != NULL && u[0] != '\0' && strchr(u, '/') == NULL)
		return strdup(u);
	return asprintf(&out, "%lu", (unsigned long)getuid()) < 0 ? NULL : out;
}

char *kpy_live_root(struct kpy_err *e)
{
	const char *job = getenv("SLURM_TMPDIR"), *tmp = getenv("TMPDIR");
	char *out = NULL, *user;

	if (job != NULL && job[0] == '/') {
		if (asprintf(&out, "%s/kpy", job) < 0)
			out = NULL;
	} else {
		if ((user = user_name()) == NULL)
			return kpy_err_set(e, KPY_EFAIL, "out of memory"), NULL;
		if (asprintf(&out, "%s/kpy-%s", tmp && tmp[0] == '/' ? tmp : "/tmp", user) < 0)
			out = NULL;
		free(user);
	}
	if (out == NULL)
		kpy_err_set(e, KPY_EFAIL, "out of memory");
	return out;
}

int kpy_live_root_make(const char *root, struct kpy_err *e)
{
	struct stat st;

	if (mkdir(root, 0700) == 0)
		return 0;
	if (errno == ENOENT)
		return kpy_mkdirs(root, 0700, e);
	if (errno != EEXIST)
		return kpy_err_sys(e, errno, "cannot create %s", root);
	if (lstat(root, &st) < 0)
		return kpy_err_sys(e, errno, "cannot use %s", root);
	if (!S_ISDIR(st.st_mode))
		return kpy_err_set(e, KPY_EFAIL, "%s is not a directory: remove it", root);
	if (st.st_uid != getuid())
		return kpy_err_set(e, KPY_EFAIL, "%s belongs to another user: set TMPDIR to a directory of yours", root);
	return 0;
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int kpy_live_list(const char *root, char ***names, struct kpy_err *e)
{
	DIR *d = opendir(root);
	struct dirent *de;
	char **v = NULL;
	size_t n = 0, cap = 0;

	*names = NULL;
	if (d == NULL && errno != ENOENT)
		return kpy_err_sys(e, errno, "cannot list %s", root);
	while (d != NULL && (de = readdir(d)) != NULL) {
		char path[PATH_MAX];
		struct kpy_err ignore = KPY_ERR_INIT;

		if (kpy_name_check(de->d_name, "name", &ignore) < 0)
			continue; /* dot-directories are restores in progress */
		snprintf(path, sizeof(path), "%s/%s/bin/activate", root, de->d_name);
		if (access(path, F_OK) < 0)
			continue;
		if (n + 2 > cap) {
			char **nv = realloc(v, (cap = cap ? cap * 2 : 16) * sizeof(*v));
			if (nv == NULL)
				break;
			v = nv;
		}
		if ((v[n] = strdup(de->d_name)) != NULL)
			n++;
	}
	if (d != NULL)
		closedir(d);
	if (v == NULL && (v = calloc(1, sizeof(*v))) == NULL)
		return kpy_err_set(e, KPY_EFAIL, "out of memory");
	qsort(v, n, sizeof(*v), cmp);
	v[n] = NULL;
	*names = v;
	return 0;
}

void kpy_strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

char *kpy_live_placeholder(const char *root, struct kpy_err *e)
{
	char path[PATH_MAX], *out;
	struct stat st;

	for (int i = 0; i < 10000; i++) {
		char name[32];
		if (i == 0)
			snprintf(name, sizeof(name), "venv");
		else
			snprintf(name, sizeof(name), "venv%d", i);
		snprintf(path, sizeof(path), "%s/%s", root, name);
		if (lstat(path, &st) < 0 && errno == ENOENT)
			return (out = strdup(name)) ? out : (kpy_err_set(e, KPY_EFAIL, "out of memory"), NULL);
	}
	kpy_err_set(e, KPY_EFAIL, "no free placeholder name in %s: give a name", root);
	return NULL;
}

int kpy_venv_create(const char *python, const char *dest, const char *prompt,
		    struct kpy_err *e)
{
	const char *slash = strrchr(dest, '/');
	int status, rv = -1;
	pid_t pid;

	if (slash == NULL)
		return kpy_err_set(e, KPY_EINVAL, "cannot create '%s': give an absolute path", dest);
	if (mkdir(dest, 0755) < 0)
		return errno == EEXIST
			? kpy_err_set(e, KPY_EEXIST, "%s already exists", dest)
			: kpy_err_sys(e, errno, "cannot create %s", dest);
	pid = fork();
	if (pid < 0) {
		kpy_err_sys(e, errno, "cannot start %s", python);
		goto out;
	}
	if (pid == 0) {
		/* venv's own output goes to stderr: stdout belongs to the caller */
		dup2(STDERR_FILENO, STDOUT_FILENO);
		execlp(python, python, "-m", "venv", "--prompt", prompt, dest, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			kpy_err_sys(e, errno, "cannot wait for %s", python);
			goto out;
		}
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
		kpy_err_set(e, KPY_ENOENT, "%s was not found in PATH: load a module that provides it, or choose another version", python);
		goto out;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		kpy_err_set(e, KPY_EFAIL, "'%s -m venv %s' failed (see above): on Debian install python3-venv", python, dest);
		goto out;
	}
	rv = 0;
out:
	if (rv < 0) {
		struct kpy_err ignore = KPY_ERR_INIT;
		kpy_rmtree(dest, &ignore);
	}
	return rv;
}
