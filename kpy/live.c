/* live.c: environments in use: their root directory, listing, state, placeholders, creation. */
#include "autoconfig.h"
#include "live.h"
#include "buf.h"
#include "fdio.h"
#include "publish.h"
#include "passwd.h"
#include "relocate.h"
#include "store.h"
#include "tree.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char *user_name(void)
{
	char *out;
	const char *u = getenv("USER");

	if (kpy_passwd(getuid(), NULL, &out) == 0)
		return out;
	if (u != NULL && u[0] != '\0' && strchr(u, '/') == NULL)
		return strdup(u);
	return asprintf(&out, "%lu", (unsigned long)getuid()) < 0 ? NULL : out;
}

/* Malloc'd contents of PATH (at most MAX bytes, NUL-terminated; a symlink is not
 * followed), or NULL. */
static char *slurp(const char *path, size_t max, size_t *len)
{
	char *text;

	return kpy_read_file(path, max, 1, &text, len, NULL, NULL) < 0 ? NULL : text;
}

/* 1 if PATH is a real directory of ours (mode tightened to 0700), 0 if it belongs
 * to someone else, -1 (error set) if it is ours but unusable. */
static int our_dir(const char *path, struct kpy_err *e)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return kpy_err_sys(e, errno, "cannot use %s", path);
	if (st.st_uid != getuid())
		return 0;
	if (S_ISLNK(st.st_mode))
		return kpy_err_set(e, KPY_EFAIL, "%s is a symlink: remove it (kpy keeps live envs only in a real directory)", path);
	if (!S_ISDIR(st.st_mode))
		return kpy_err_set(e, KPY_EFAIL, "%s is not a directory: remove it", path);
	if ((st.st_mode & 077) != 0 && chmod(path, 0700) < 0)
		return kpy_err_sys(e, errno, "cannot make %s private", path);
	return 1;
}

/* This host's name, for per-job directories: TMPDIR may be shared between nodes. */
static void host_name(char *buf, size_t n)
{
	if (gethostname(buf, n - 1) < 0 || buf[0] == '\0')
		snprintf(buf, n, "localhost");
	buf[n - 1] = '\0';
	buf[strcspn(buf, "/")] = '\0';
}

/* $XDG_STATE_HOME/kpy/live-root.<host>; malloc'd. */
static char *state_file(void)
{
	const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	char host[256], *out = NULL, *pwhome = NULL;

	host_name(host, sizeof(host));
	if (xdg != NULL && xdg[0] == '/') {
		if (asprintf(&out, "%s/kpy/live-root.%s", xdg, host) < 0)
			out = NULL;
		return out;
	}
	if (home == NULL || home[0] != '/') {
		if (kpy_passwd(getuid(), &pwhome, NULL) < 0)
			return NULL;
		home = pwhome;
	}
	if (asprintf(&out, "%s/.local/state/kpy/live-root.%s", home, host) < 0)
		out = NULL;
	free(pwhome);
	return out;
}

/* Write TEXT to PATH through a temporary file and rename(); the directory is made
 * mode 0700 if missing. */
static int remember(const char *path, const char *text, struct kpy_err *e)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');

	if (kpy_pathf(dir, sizeof(dir), e, "%.*s", (int)(slash - path), path) < 0 ||
	    kpy_mkdirs(dir, 0700, e) < 0)
		return -1;
	return kpy_write_file(AT_FDCWD, path, text, strlen(text), 0600, 0, e);
}

/* The squatted case: a private root of ours remembered in the state file, or a new one. */
static char *fallback_root(const char *base, const char *user, struct kpy_err *e)
{
	char *state = state_file(), *old = NULL, *out = NULL, prefix[PATH_MAX], tmpl[PATH_MAX];
	struct kpy_err ignore = KPY_ERR_INIT;

	if (state == NULL) {
		kpy_err_set(e, KPY_EFAIL, "out of memory");
		return NULL;
	}
	if (kpy_pathf(prefix, sizeof(prefix), e, "%s/kpy-%s.", base, user) < 0) {
		free(state);
		return NULL;
	}
	if ((old = slurp(state, PATH_MAX, NULL)) != NULL) {
		old[strcspn(old, "\n")] = '\0';
		if (strncmp(old, prefix, strlen(prefix)) == 0 && strchr(old + strlen(prefix), '/') == NULL &&
		    our_dir(old, &ignore) == 1) {
			free(state);
			return old;
		}
		free(old);
	}
	if (kpy_pathf(tmpl, sizeof(tmpl), e, "%sXXXXXX", prefix) < 0) {
		free(state);
		return NULL;
	}
	if (mkdtemp(tmpl) == NULL) {
		kpy_err_sys(e, errno, "cannot create a live directory in %s", base);
		goto out;
	}
	char line[PATH_MAX + 2];
	snprintf(line, sizeof(line), "%s\n", tmpl);
	if (remember(state, line, e) < 0) {
		rmdir(tmpl);
		goto out;
	}
	out = strdup(tmpl);
out:
	free(state);
	return out;
}

char *kpy_user_root(struct kpy_err *e)
{
	const char *tmp = getenv("TMPDIR"), *base = tmp && tmp[0] == '/' ? tmp : "/tmp";
	char *user = user_name(), *out = NULL;
	int r;

	if (user == NULL || asprintf(&out, "%s/kpy-%s", base, user) < 0) {
		free(user);
		kpy_err_set(e, KPY_EFAIL, "out of memory");
		return NULL;
	}
	if (mkdir(out, 0700) == 0)
		goto done;
	if (errno == ENOENT) {
		if (kpy_mkdirs(out, 0700, e) < 0)
			goto fail;
		goto done;
	}
	if (errno != EEXIST) {
		kpy_err_sys(e, errno, "cannot create %s", out);
		goto fail;
	}
	if ((r = our_dir(out, e)) < 0)
		goto fail;
	if (r == 0) { /* another user holds the name: never use it, never fail on it */
		free(out);
		out = fallback_root(base, user, e);
	}
done:
	free(user);
	return out;
fail:
	free(user);
	free(out);
	return NULL;
}

static int job_id_ok(const char *id)
{
	if (id == NULL || *id == '\0' || strlen(id) > 20)
		return 0;
	for (const char *p = id; *p; p++)
		if (!isdigit((unsigned char)*p))
			return 0;
	return 1;
}

/* 1 if job JOB may still run on this host: a process of ours has SLURM_JOB_ID=JOB in
 * its environment. (A process hiding its environment cannot be told apart: the job
 * steps' own helpers do, so counting those would keep every directory.) */
static int job_alive(const char *job)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	char want[40], path[64];
	int alive = 0;

	if (d == NULL)
		return 1; /* cannot tell: keep */
	snprintf(want, sizeof(want), "SLURM_JOB_ID=%s", job);
	while (!alive && (de = readdir(d)) != NULL) {
		struct stat st;
		char *env;
		size_t len;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%s", de->d_name);
		if (stat(path, &st) < 0 || st.st_uid != getuid())
			continue;
		snprintf(path, sizeof(path), "/proc/%s/environ", de->d_name);
		if ((env = slurp(path, 1 << 20, &len)) == NULL)
			continue;
		for (size_t i = 0; i < len; i += strlen(env + i) + 1)
			if (strcmp(env + i, want) == 0) {
				alive = 1;
				break;
			}
		free(env);
	}
	closedir(d);
	return alive;
}

int kpy_live_prune(const char *root, const char *keep)
{
	DIR *d = opendir(root);
	struct dirent *de;
	char host[256], suffix[260];
	int n = 0;

	if (d == NULL)
		return 0;
	host_name(host, sizeof(host));
	snprintf(suffix, sizeof(suffix), "@%s", host);
	while ((de = readdir(d)) != NULL) {
		char path[PATH_MAX], id[32];
		struct kpy_err ignore = KPY_ERR_INIT;
		size_t len = strlen(de->d_name), sl = strlen(suffix);

		/* .job-<id>@<this host> only: other hosts' jobs are theirs to remove */
		if (strncmp(de->d_name, ".job-", 5) != 0 || len <= 5 + sl ||
		    strcmp(de->d_name + len - sl, suffix) != 0 || len - 5 - sl >= sizeof(id))
			continue;
		snprintf(id, sizeof(id), "%.*s", (int)(len - 5 - sl), de->d_name + 5);
		if (!job_id_ok(id) || (keep != NULL && strcmp(id, keep) == 0) || job_alive(id))
			continue;
		if (kpy_pathf(path, sizeof(path), NULL, "%s/%s", root, de->d_name) == 0 &&
		    kpy_rmtree(path, &ignore) == 0)
			n++;
	}
	closedir(d);
	return n;
}

char *kpy_live_root(struct kpy_err *e)
{
	const char *scratch = getenv("SLURM_TMPDIR"), *job = getenv("SLURM_JOB_ID");
	char *user, *out = NULL;
	int r;

	if (scratch != NULL && scratch[0] == '/') {
		if ((out = kpy_live_scratch_root(scratch)) == NULL) {
			kpy_err_set(e, KPY_EFAIL, "out of memory");
			return NULL;
		}
		if (mkdir(out, 0700) < 0 && errno != EEXIST && kpy_mkdirs(out, 0700, e) < 0) {
			free(out);
			return NULL;
		}
		return out;
	}
	if ((user = kpy_user_root(e)) == NULL)
		return NULL;
	if (!job_id_ok(job)) {
		kpy_live_prune(user, NULL);
		return user;
	}
	char host[256];
	host_name(host, sizeof(host));
	if (asprintf(&out, "%s/.job-%s@%s", user, job, host) < 0) {
		kpy_err_set(e, KPY_EFAIL, "out of memory");
		free(user);
		return NULL;
	}
	if (mkdir(out, 0700) == 0) {
		kpy_live_prune(user, job); /* a new job here: the ended ones' envs go */
	} else if (errno != EEXIST) {
		kpy_err_sys(e, errno, "cannot create %s", out);
		free(out);
		out = NULL;
	} else if ((r = our_dir(out, e)) <= 0) {
		if (r == 0)
			kpy_err_set(e, KPY_EFAIL, "%s belongs to another user: remove it", out);
		free(out);
		out = NULL;
	}
	free(user);
	return out;
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
		if (kpy_pathf(path, sizeof(path), NULL, "%s/%s/bin/activate", root, de->d_name) < 0 ||
		    access(path, F_OK) < 0)
			continue;
		char **nv = kpy_grow(v, &cap, n + 1, sizeof(*v), 16); /* and the NULL after */
		if (nv == NULL)
			break;
		v = nv;
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
		if (kpy_pathf(path, sizeof(path), e, "%s/%s", root, name) < 0)
			return NULL;
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
			? kpy_err_set(e, KPY_ETAKEN, "%s already exists", dest)
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

int kpy_live_manifest(const char *env, struct kpy_manifest *m, struct kpy_err *e)
{
	char path[PATH_MAX], *text;
	size_t len;
	int rv;

	if (kpy_pathf(path, sizeof(path), e, "%s/%s", env, KPY_MANIFEST_PATH) < 0)
		return -1;
	if ((text = slurp(path, 1 << 16, &len)) == NULL &&
	    (kpy_pathf(path, sizeof(path), e, "%s/%s", env, KPY_MANIFEST_NEXT_PATH) < 0 ||
	     (text = slurp(path, 1 << 16, &len)) == NULL))
		return kpy_err_set(e, KPY_ENOENT, "%s was never saved or loaded by kpy", env);
	rv = kpy_manifest_parse(text, len, m, e);
	free(text);
	return rv;
}

int kpy_live_modified(const char *env)
{
	char path[PATH_MAX], *saved;
	glob_t g = { 0 };
	size_t nsaved = 0, nfound = 0;
	int modified = 0;

	if (kpy_pathf(path, sizeof(path), NULL, "%s/%s", env, KPY_PACKAGES_PATH) < 0 ||
	    (saved = slurp(path, 1 << 22, NULL)) == NULL)
		return -1;
	for (char *l = saved; *l; l += strcspn(l, "\n") + (l[strcspn(l, "\n")] != '\0'))
		if (*l != '\n')
			nsaved++;
	if (kpy_pathf(path, sizeof(path), NULL, "%s/lib/python*/site-packages/*.dist-info", env) == 0 &&
	    glob(path, 0, NULL, &g) == 0) {
		for (size_t i = 0; i < g.gl_pathc && !modified; i++) {
			const char *base = strrchr(g.gl_pathv[i], '/') + 1;
			size_t bl = strlen(base);
			const char *p = saved;
			int found = 0;

			nfound++;
			while ((p = strstr(p, base)) != NULL) {
				if ((p == saved || p[-1] == '\n') && (p[bl] == '\n' || p[bl] == '\0')) {
					found = 1;
					break;
				}
				p += bl;
			}
			if (!found)
				modified = 1;
		}
	}
	globfree(&g);
	free(saved);
	return modified || nfound != nsaved;
}

/* kpy_live_rename's walk: nftw has no user pointer. */
static struct {
	const char *root;
	struct kpy_reloc r;
	struct kpy_err *e;
} rw;

/* 1 if the file at PATH holds no NUL byte: text, which relocation may rewrite (a
 * binary file must keep its length, so a path inside it is left as it is, as save's
 * relocation list does). */
static int is_text(const char *path)
{
	char buf[65536];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), text = 1;

	if (fd < 0)
		return 0;
	while (text && (n = read(fd, buf, sizeof(buf))) > 0)
		text = memchr(buf, '\0', (size_t)n) == NULL;
	close(fd);
	return text;
}

static int relocate_one(const char *path, const struct stat *st, int type, struct FTW *f)
{
	const char *rel = path + strlen(rw.root) + 1;
	size_t ol = strlen(rw.r.old_prefix);
	(void)f;

	if (strlen(path) <= strlen(rw.root) || strncmp(rel, ".kpy/", 5) == 0 ||
	    (strlen(rel) > 4 && strcmp(rel + strlen(rel) - 4, ".pyc") == 0))
		return 0;
	if (type == FTW_F && S_ISREG(st->st_mode) && st->st_size < (64 << 20))
		return !is_text(path) ? 0 : kpy_relocate_file(rw.root, rel, &rw.r, rw.e) < 0 ? 1 : 0;
	if (type == FTW_SL) {
		char target[PATH_MAX], fresh[PATH_MAX], tmp[PATH_MAX];
		ssize_t n = readlink(path, target, sizeof(target) - 1);
		if (n <= 0)
			return 0;
		target[n] = '\0';
		if (strncmp(target, rw.r.old_prefix, ol) != 0 || (target[ol] != '/' && target[ol] != '\0'))
			return 0;
		if (kpy_pathf(fresh, sizeof(fresh), rw.e, "%s%s", rw.r.new_prefix, target + ol) < 0 ||
		    kpy_pathf(tmp, sizeof(tmp), rw.e, "%s.kpy-%ld", path, (long)getpid()) < 0)
			return 1;
		if (symlink(fresh, tmp) < 0 || rename(tmp, path) < 0) {
			kpy_err_sys(rw.e, errno, "cannot rewrite the symlink %s", path);
			unlink(tmp);
			return 1;
		}
	}
	return 0;
}

static int relocate_tree(const char *root, const char *from, const char *to, struct kpy_err *e)
{
	int rv = 0;

	rw.root = root;
	rw.r = (struct kpy_reloc){ .old_prefix = from, .new_prefix = to };
	rw.e = e;
	if (nftw(root, relocate_one, 32, FTW_PHYS) != 0)
		rv = e->code != KPY_OK ? -1 : kpy_err_sys(e, errno, "cannot rewrite the files of %s", root);
	rw.e = NULL; /* E is the caller's, gone after this returns */
	return rv;
}

int kpy_live_rename(const char *old, const char *new, struct kpy_err *e)
{
	struct kpy_err ignore = KPY_ERR_INIT;

	if (renameat2(AT_FDCWD, old, AT_FDCWD, new, RENAME_NOREPLACE) < 0)
		return errno == EEXIST
			? kpy_err_set(e, KPY_ETAKEN, "%s already exists", new)
			: kpy_err_sys(e, errno, "cannot rename %s to %s", old, new);
	if (relocate_tree(new, old, new, e) == 0)
		return 0;
	/* put it back as it was, so the env keeps working under its old path */
	relocate_tree(new, new, old, &ignore);
	rename(new, old);
	return -1;
}

char *kpy_live_scratch_root(const char *scratch)
{
	char *p;

	return asprintf(&p, "%s/kpy", scratch) < 0 ? NULL : p;
}

char *kpy_live_path(const char *root, const char *kind, const char *name)
{
	const char *sub = strcmp(kind, KPY_KIND_UV) == 0 ? "/.uv"
			  : strcmp(kind, KPY_KIND_SCRIPT) == 0 ? "/.run" : "";
	char *p;

	if (name == NULL)
		return asprintf(&p, "%s%s", root, sub) < 0 ? NULL : p;
	return asprintf(&p, "%s%s/%s", root, sub, name) < 0 ? NULL : p;
}
