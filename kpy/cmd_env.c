/* cmd_env.c: the commands that make, save, restore and activate environments. */
#include "autoconfig.h"
#include "cmd.h"
#include "progress.h"
#include "envarchive.h"
#include "config.h"
#include "live.h"
#include "offline.h"
#include "once.h"
#include "store.h"
#include "text.h"
#include "tree.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Hand PATH to the shell function, which sources PATH/bin/activate. Returns 0 if
 * it was handed over, -1 if there is no usable KPY_ACTIVATE_FD. */
static int hand_over(const char *path)
{
	const char *fdv = getenv("KPY_ACTIVATE_FD");
	char *end;
	long fd;
	FILE *f;

	if (fdv == NULL || *fdv == '\0')
		return -1;
	fd = strtol(fdv, &end, 10);
	if (*end != '\0' || fd <= 2 || fd > 1024 || (f = fdopen((int)fd, "w")) == NULL)
		return -1;
	fprintf(f, "%s\n", path);
	return fclose(f) == 0 ? 0 : -1;
}

/* 1 if KPY_ACTIVATE_FD names an open descriptor (the shell function is listening). */
static int can_hand_over(void)
{
	const char *fdv = getenv("KPY_ACTIVATE_FD");
	char *end;
	long fd;

	if (fdv == NULL || *fdv == '\0')
		return 0;
	fd = strtol(fdv, &end, 10);
	return *end == '\0' && fd > 2 && fd <= 1024 && fcntl((int)fd, F_GETFD) >= 0;
}

/* Stdout is a pipe, as in eval "$(kpy activate X)": what kpy prints there is run. */
static int captured(void)
{
	struct stat st;

	return fstat(STDOUT_FILENO, &st) == 0 && S_ISFIFO(st.st_mode);
}

static int in_job(void)
{
	const char *job = getenv("SLURM_JOB_ID");

	return job != NULL && job[0] != '\0';
}

/* In a job, or on a host matching a compute_hosts pattern (as the pip wrapper decides). */
int on_compute(const struct kpy_config *cfg)
{
	char host[256] = "", *pats, *save = NULL;
	int hit = 0;

	if (in_job())
		return 1;
	if (cfg == NULL || cfg->compute_hosts == NULL || gethostname(host, sizeof(host) - 1) < 0 || host[0] == '\0')
		return 0;
	if ((pats = strdup(cfg->compute_hosts)) == NULL)
		return 0;
	for (char *p = strtok_r(pats, " \t", &save); p && !hit; p = strtok_r(NULL, " \t", &save)) {
		char shorth[256];
		snprintf(shorth, sizeof(shorth), "%.*s", (int)strcspn(host, "."), host);
		hit = fnmatch(p, host, 0) == 0 || fnmatch(p, shorth, 0) == 0;
	}
	free(pats);
	return hit;
}

static void sh_quoted(const char *s, const char *tail)
{
	putchar('\'');
	for (; *s; s++)
		fputs(*s == '\'' ? "'\\''" : (char[]){ *s, '\0' }, stdout);
	fputs(tail, stdout);
	putchar('\'');
}

void print_offline_exports(const struct kpy_config *cfg)
{
	char *wheels = cfg != NULL && cfg->pipdir != NULL ? kpy_wheelhouse(cfg->pipdir) : NULL;
	const char *sep = "export ";

	/* one line of the fixed values, one of those set to the wheelhouse */
	for (const struct kpy_offline_var *v = kpy_offline_vars; v->name != NULL; v++) {
		if (v->value != NULL) {
			printf("%s%s=%s", sep, v->name, v->value);
			sep = " ";
		}
	}
	if (sep[0] == ' ')
		putchar('\n');
	sep = "export ";
	for (const struct kpy_offline_var *v = kpy_offline_vars; wheels != NULL && v->name != NULL; v++) {
		if (v->value == NULL) {
			printf("%s%s=", sep, v->name);
			sh_quoted(wheels, "");
			sep = " ";
		}
	}
	if (sep[0] == ' ')
		putchar('\n');
	free(wheels);
}

/* On a compute node: POSIX shell code that makes every pip and uv offline, as the
 * plugin does; with a broken configuration, the fixed variables inside a job. */
void print_offline(void)
{
	struct kpy_err e = KPY_ERR_INIT;
	struct kpy_config cfg = { 0 };
	int cfg_ok = kpy_config_load(&cfg, &e) == 0;

	if (on_compute(cfg_ok ? &cfg : NULL))
		print_offline_exports(cfg_ok ? &cfg : NULL);
	kpy_config_free(&cfg);
}

/* --sh: POSIX shell code on stdout that activates the venv PATH, or (UV) points
 * UV_CACHE_DIR at the uv cache PATH, and on a compute node makes pip and uv offline. */
static int print_sh(const char *path, int uv)
{
	if (uv) {
		fputs("export UV_CACHE_DIR=", stdout);
		sh_quoted(path, "");
	} else {
		fputs(". ", stdout);
		sh_quoted(path, "/bin/activate");
	}
	putchar('\n');
	print_offline();
	return fflush(stdout) == 0 ? 0 : 1;
}

/* After create, load or save: activate through the shell function (or print the --sh
 * code), or say how. In a job, where a batch script would go on without the env,
 * failing to activate is exit status 3. AGAIN is the command that activates it. */
static int activate(const char *path, int explain, int sh, const char *again)
{
	if (sh)
		return print_sh(path, 0);
	if (hand_over(path) == 0 || !explain)
		return 0;
	if (in_job()) {
		say("%s is NOT active in this shell: kpy runs as a program and cannot change the shell that started it. "
		    "In a batch script write: eval \"$(kpy %s --sh)\"  (or load the shell function first: eval \"$(kpy bash)\")", path, again);
		return 3;
	}
	say("activate it with: source %s/bin/activate   (in a script: eval \"$(kpy %s --sh)\"; or set up the shell function with eval \"$(kpy bash)\" to have kpy do it)", path, again);
	return 0;
}

/* After loading the uv cache PATH: UV_CACHE_DIR through the shell function (which
 * reads "UV_CACHE_DIR=PATH"), or the --sh code, or say how; exit status 3 in a job
 * where the shell cannot be changed, as for envs. */
static int activate_uv(const char *path, int sh, const char *again)
{
	char *line = NULL;
	int handed;

	if (sh)
		return print_sh(path, 1);
	if (asprintf(&line, "UV_CACHE_DIR=%s", path) < 0)
		line = NULL;
	handed = line != NULL && hand_over(line) == 0;
	free(line);
	if (handed)
		return 0;
	if (in_job()) {
		say("UV_CACHE_DIR is NOT set in this shell: kpy runs as a program and cannot change the shell that started it. "
		    "In a batch script write: eval \"$(kpy %s --sh)\"  (or load the shell function first: eval \"$(kpy bash)\")", again);
		return 3;
	}
	say("use it with: export UV_CACHE_DIR=%s   (in a script: eval \"$(kpy %s --sh)\"; or set up the shell function with eval \"$(kpy bash)\" to have kpy do it)", path, again);
	return 0;
}

static char *live_path(const char *name, char **root_out, struct kpy_err *e)
{
	char *root = kpy_live_root(e), *path = NULL;

	if (root == NULL)
		return NULL;
	if ((path = kpy_live_path(root, KPY_KIND_VENV, name)) == NULL)
		kpy_err_set(e, KPY_EFAIL, "out of memory");
	if (root_out != NULL)
		*root_out = root;
	else
		free(root);
	return path;
}

static int is_version(const char *s)
{
	if (strncmp(s, "3.", 2) != 0 || s[2] == '\0' || strlen(s) > 6)
		return 0;
	for (const char *p = s + 2; *p; p++)
		if (*p < '0' || *p > '9')
			return 0;
	return 1;
}

int cmd_create(const struct cmd *self, const struct cmd_args *a)
{
	struct kpy_err e = KPY_ERR_INIT;
	const char *version = NULL, *name = NULL;
	char *root = NULL, *path = NULL, *placeholder = NULL, python[32];
	int i = 0, rc = 1;
	struct stat st;

	if (i < a->argc && (is_version(a->argv[i]) || strcmp(a->argv[i], "3") == 0))
		version = a->argv[i++];
	else if (i < a->argc && a->argv[i][0] >= '0' && a->argv[i][0] <= '9' && strchr(a->argv[i], '.'))
		return usage_error(self, "'%s' is not a Python version of the form 3.x (for example 3.11)", a->argv[i]);
	if (i < a->argc)
		name = a->argv[i++];
	if (i < a->argc && version == NULL && (is_version(a->argv[i]) || strcmp(a->argv[i], "3") == 0))
		return usage_error(self, "the Python version comes first: kpy create %s %s", a->argv[i], name);
	if (i < a->argc)
		return usage_error(self, "too many arguments: unexpected '%s'", a->argv[i]);
	if (name != NULL && kpy_name_check(name, "environment name", &e) < 0)
		return fail(&e);
	if (name != NULL && strlen(name) > 3 && strcmp(name + strlen(name) - 3, ".py") == 0 &&
	    stat(name, &st) == 0 && S_ISREG(st.st_mode)) {
		say("'%s' is a script here, not an environment name: run it in an env made for its dependencies with 'kpy run %s'", name, name);
		return 1;
	}
	if ((root = kpy_live_root(&e)) == NULL)
		goto out;
	if (name == NULL && (name = placeholder = kpy_live_placeholder(root, &e)) == NULL)
		goto out;
	if ((path = kpy_live_path(root, KPY_KIND_VENV, name)) == NULL) {
		kpy_err_set(&e, KPY_EFAIL, "out of memory");
		goto out;
	}
	if (lstat(path, &st) == 0) {
		kpy_err_set(&e, KPY_EFAIL, "an environment named '%s' already exists at %s: activate it with 'kpy activate %s', or choose another name", name, path, name);
		goto out;
	}
	if (version == NULL || strcmp(version, "3") == 0)
		snprintf(python, sizeof(python), "python3");
	else
		snprintf(python, sizeof(python), "python%s", version);
	if (kpy_venv_create(python, path, name, &e) < 0)
		goto out;
	say("created %s at %s", name, path);
	{
		char again[128];
		snprintf(again, sizeof(again), "activate %s", name);
		rc = activate(path, 1, 0, again);
	}
out:
	if (rc == 1)
		fail(&e);
	free(placeholder);
	free(root);
	free(path);
	return rc;
}

/* After saving the live env VENV as NAME: if VENV is a live env (in the live root)
 * under another name, rename it to NAME so that its name and prompt agree; returns the
 * new path (malloc'd) or NULL when it stays where it is (saying why, if it matters). */
static char *rename_live(const char *venv, const char *name)
{
	struct kpy_err e = KPY_ERR_INIT;
	char *root = kpy_live_root(&e), rroot[PATH_MAX], rparent[PATH_MAX], given[PATH_MAX];
	char *slash, *fresh = NULL;

	/* the env's files name it by the path it was made at (VIRTUAL_ENV), which may go
	 * through a symlink: relocate from that path, not from its real path */
	if (root == NULL || realpath(root, rroot) == NULL ||
	    snprintf(given, sizeof(given), "%s", venv) >= (int)sizeof(given))
		goto out;
	for (size_t n = strlen(given); n > 1 && given[n - 1] == '/'; n--)
		given[n - 1] = '\0';
	if ((slash = strrchr(given, '/')) == NULL || slash == given)
		goto out;
	*slash = '\0';
	if (realpath(given, rparent) == NULL || strcmp(rparent, rroot) != 0 ||
	    strcmp(slash + 1, name) == 0) {
		*slash = '/';
		goto out; /* not a live env of this place, or already NAME */
	}
	if (asprintf(&fresh, "%s/%s", given, name) < 0) {
		fresh = NULL;
		goto out;
	}
	*slash = '/';
	if (kpy_live_rename(given, fresh, &e) == 0) {
		say("renamed the live env %s to %s (%s)", slash + 1, name, fresh);
		goto out;
	}
	if (e.code == KPY_ETAKEN)
		say("the live env keeps its name '%s' (a live env named '%s' exists): 'kpy activate %s' activates it, with the prompt (%s)",
		    slash + 1, name, slash + 1, name);
	else
		say("warning: the live env keeps its name '%s' (%s): 'kpy activate %s' activates it", slash + 1, e.msg, slash + 1);
	free(fresh);
	fresh = NULL;
out:
	free(root);
	return fresh;
}

/* PATH (absolute) without "." and ".." components and repeated slashes, in place.
 * Each kept component is written as "/NAME" at or before where it was read, so
 * nothing unread is overwritten. */
static void clean_path(char *path)
{
	char *out = path;
	const char *p = path;

	while (*p != '\0') {
		size_t n;

		while (*p == '/')
			p++;
		n = strcspn(p, "/");
		if (n == 0 || (n == 1 && p[0] == '.')) {
			/* nothing */
		} else if (n == 2 && p[0] == '.' && p[1] == '.') {
			while (out > path && *--out != '/')
				;
		} else {
			*out++ = '/';
			memmove(out, p, n);
			out += n;
		}
		p += n;
	}
	if (out == path)
		*out++ = '/';
	*out = '\0';
}

/* The working directory as the shell names it ($PWD, which keeps symlinked parents,
 * as uv's own absolute paths do) when that is this directory, else getcwd(). */
static int work_dir(char *buf, size_t size)
{
	const char *pwd = getenv("PWD");
	struct stat a, b;

	if (pwd != NULL && pwd[0] == '/' && strlen(pwd) < size && stat(pwd, &a) == 0 &&
	    stat(".", &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
		strcpy(buf, pwd);
		return 0;
	}
	return getcwd(buf, size) != NULL ? 0 : -1;
}

/* The uv cache to save: DIR as given, else $UV_CACHE_DIR, else $XDG_CACHE_HOME/uv,
 * else ~/.cache/uv; made absolute and clean, but not resolved: the cache's own
 * absolute symlinks name it as uv knew it, and only links under that prefix are
 * pointed at the new place when it is restored. */
static int uv_cache_dir(const char *given, char *buf, size_t size, struct kpy_err *e)
{
	const char *d = given, *x = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	char cwd[PATH_MAX] = "";
	int n;

	if (d == NULL && (d = getenv("UV_CACHE_DIR")) != NULL && d[0] == '\0')
		d = NULL;
	if (d == NULL && x != NULL && x[0] == '/')
		n = snprintf(buf, size, "%s/uv", x);
	else if (d == NULL && home != NULL && home[0] == '/')
		n = snprintf(buf, size, "%s/.cache/uv", home);
	else if (d == NULL)
		return kpy_err_set(e, KPY_EINVAL, "no uv cache to save: give its directory (kpy save --uv-cache NAME DIR) or set UV_CACHE_DIR");
	else if (d[0] == '/')
		n = snprintf(buf, size, "%s", d);
	else if (work_dir(cwd, sizeof(cwd)) < 0)
		return kpy_err_sys(e, errno, "cannot save the uv cache %s", d);
	else
		n = snprintf(buf, size, "%s/%s", strcmp(cwd, "/") ? cwd : "", d);
	if (n < 0 || (size_t)n >= size)
		return kpy_err_set(e, KPY_EINVAL, "the uv cache path is too long: %s", d ? d : "(default)");
	clean_path(buf);
	return 0;
}

/* The pipdir a save of KIND goes to, checked (and its archive directory made): the
 * user's, or with SITE (kpy save --site, an admin's publish) the first site pipdir,
 * which must exist and be writable. NULL on failure; *OWN is freed by the caller. */
static const char *save_pipdir(const struct kpy_config *cfg, const char *kind, int site, char **own,
			       struct kpy_err *e)
{
	char **dirs;

	*own = NULL;
	if (!site)
		return kpy_store_check(cfg->pipdir, kind, KPY_STORE_WRITABLE | KPY_STORE_CREATE, e) < 0 ? NULL : cfg->pipdir;
	if (cfg->site_pipdir == NULL) {
		kpy_err_set(e, KPY_ESITE, "--site publishes to the site store, but no site_pipdir is set in the site configuration");
		return NULL;
	}
	if ((dirs = kpy_site_dirs(cfg->site_pipdir)) == NULL || dirs[0] == NULL ||
	    (*own = strdup(dirs[0])) == NULL) {
		kpy_strv_free(dirs);
		kpy_err_set(e, KPY_EFAIL, "out of memory");
		return NULL;
	}
	kpy_strv_free(dirs);
	/* what an admin publishes is for every user: readable whatever the admin's umask */
	umask(022);
	if (kpy_site_check(*own, KPY_STORE_WRITABLE, e) < 0 ||
	    kpy_store_check(*own, kind, KPY_STORE_WRITABLE | KPY_STORE_CREATE, e) < 0)
		return NULL;
	return *own;
}

/* kpy save --uv-cache NAME [DIR] */
static int save_uv(const struct cmd *self, const struct cmd_args *a, const struct kpy_save_opts *given_o,
		   const char *given, int site)
{
	struct kpy_save_opts so = *given_o, *o = &so; /* RES below lives only here */
	struct kpy_err e = KPY_ERR_INIT, warn = KPY_ERR_INIT;
	struct kpy_config cfg = { 0 };
	struct kpy_save_result res = { 0 };
	char dir[PATH_MAX], tag[PATH_MAX + 16], *dest = NULL, in[16], outs[16], *own = NULL;
	const char *store;
	struct stat st;
	int rc = 1;
	double t0;

	if (uv_cache_dir(given, dir, sizeof(dir), &e) < 0)
		goto out;
	if (stat(dir, &st) < 0) {
		kpy_err_sys(&e, errno, "no uv cache at %s%s", dir, given ? "" :
			    " (give its directory: kpy save --uv-cache NAME DIR, or set UV_CACHE_DIR)");
		goto out;
	}
	snprintf(tag, sizeof(tag), "%s/CACHEDIR.TAG", dir);
	if (!S_ISDIR(st.st_mode) || access(tag, F_OK) < 0) {
		kpy_err_set(&e, KPY_EINVAL, "%s is not a uv cache (uv writes CACHEDIR.TAG at the root of its cache, and there is none): give the cache's directory, as 'uv cache dir' prints it", dir);
		goto out;
	}
	if (kpy_config_load(&cfg, &e) < 0 || (store = save_pipdir(&cfg, KPY_KIND_UV, site, &own, &e)) == NULL)
		goto out;
	if ((dest = kpy_store_path(store, KPY_KIND_UV, o->name)) == NULL) {
		kpy_err_set(&e, KPY_EFAIL, "out of memory");
		goto out;
	}
	o->kind = KPY_KIND_UV;
	o->level = cfg.level;
	if ((o->threads = cmd_threads(self, a, &cfg, &rc)) < 0)
		goto out_usage;
	o->result = &res;
	o->progress = cmd_progress("saving", o->name, 0, 0);
	t0 = now();
	rc = kpy_archive_save(dir, dest, o, &warn, &e);
	kpy_progress_end(o->progress);
	if (rc < 0) {
		rc = 1;
		goto out;
	}
	kpy_human_size(in, sizeof(in), (double)res.manifest.bytes);
	kpy_human_size(outs, sizeof(outs), (double)res.size);
	say("saved the uv cache %s to %s as %s (%lld files, %s -> %s) in %.1f s", dir, dest, o->name,
	    res.manifest.files, in, outs, now() - t0);
	rc = 0;
out:
	if (rc == 1) {
		char arg[KPY_NAME_MAX + 16];
		snprintf(arg, sizeof(arg), "--uv-cache %s", o->name);
		fail_about(&e, arg);
	}
out_usage:
	kpy_manifest_free(&res.manifest);
	kpy_config_free(&cfg);
	free(dest);
	free(own);
	return rc;
}

int cmd_save(const struct cmd *self, const struct cmd_args *a)
{
	struct kpy_err e = KPY_ERR_INIT, warn = KPY_ERR_INIT;
	struct kpy_config cfg = { 0 };
	struct kpy_save_opts o = { 0 };
	struct kpy_save_result res = { 0 };
	const char *venv = getenv("VIRTUAL_ENV");
	char *dest = NULL, *renamed = NULL, *own = NULL;
	const char *store;
	int rc = 1, uv = cmd_has(a, OPT_UV_CACHE); /* then a DIR may follow NAME */
	int site = cmd_has(a, OPT_SITE);
	double t0;

	o.force = cmd_has(a, OPT_FORCE);
	o.name = a->argv[0];
	if (kpy_store_bare(o.name) != o.name) {
		say("cannot save to '%s': the site store is read-only for users; save it as your own with "
		    "'kpy save %s%s' (an admin publishes with 'kpy save --site %s%s')", o.name, uv ? "--uv-cache " : "",
		    kpy_store_bare(o.name), uv ? "--uv-cache " : "", kpy_store_bare(o.name));
		return 1;
	}
	if (kpy_name_check(o.name, uv ? "uv cache name" : "environment name", &e) < 0)
		return fail(&e);
	if (uv)
		return save_uv(self, a, &o, a->argv[1], site);
	if (venv == NULL || venv[0] == '\0') {
		say("no active virtual environment to save: activate one first (kpy activate NAME, or source ENV/bin/activate)");
		return 1;
	}
	if (kpy_config_load(&cfg, &e) < 0 || (store = save_pipdir(&cfg, KPY_KIND_VENV, site, &own, &e)) == NULL)
		goto out;
	if ((dest = kpy_store_path(store, KPY_KIND_VENV, o.name)) == NULL)
		goto out;
	o.level = cfg.level;
	if ((o.threads = cmd_threads(self, a, &cfg, &rc)) < 0)
		goto out_usage;
	o.result = &res;
	o.progress = cmd_progress("saving", o.name, 0, 0);
	t0 = now();
	rc = kpy_archive_save(venv, dest, &o, &warn, &e);
	kpy_progress_end(o.progress);
	if (rc < 0) {
		rc = 1;
		goto out;
	}
	rc = 1;
	if (warn.code != KPY_OK)
		say("warning: the archive is saved, but the live env was not updated (%s); its prompt still shows the old name", warn.msg);
	char in[16], outs[16];
	kpy_human_size(in, sizeof(in), (double)res.manifest.bytes);
	kpy_human_size(outs, sizeof(outs), (double)res.size);
	say("saved %s to %s (%lld files, %s -> %s) in %.1f s", o.name, dest, res.manifest.files, in, outs,
	    now() - t0);
	/* through the shell function, which re-activates it, the live env takes the new name */
	if (warn.code == KPY_OK && can_hand_over())
		renamed = rename_live(venv, o.name);
	activate(renamed ? renamed : venv, 0, 0, NULL);
	rc = 0;
out:
	if (rc != 0)
		fail_about(&e, o.name);
out_usage:
	kpy_manifest_free(&res.manifest);
	kpy_config_free(&cfg);
	free(renamed);
	free(dest);
	free(own);
	return rc;
}

static void fmt_time(char *buf, size_t n, long long t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t <= 0 || localtime_r(&tt, &tm) == NULL || strftime(buf, n, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(buf, n, "an unknown time");
}

/* A and B are manifests of the same save (not a later one, nor one of another store:
 * the user's NAME and the site's, saved the same second, differ in prefix or size). */
static int same_save(const struct kpy_manifest *a, const struct kpy_manifest *b)
{
	return a->saved == b->saved && a->bytes == b->bytes &&
	       (a->prefix == NULL || b->prefix == NULL || strcmp(a->prefix, b->prefix) == 0);
}

/* PATH exists and was not restored now: use it if it holds the save ARCHIVE of NAME,
 * otherwise say what it is and how to replace it. UV: a uv cache. */
static int use_existing(const char *archive, const char *name, const char *as, const char *path,
			int uv, struct kpy_err *e)
{
	const char *opt = uv ? "--uv-cache " : "";
	struct kpy_manifest am = { 0 }, lm = { 0 };
	struct kpy_err ignore = KPY_ERR_INIT;
	char ad[64], ld[64];
	int rv = -1;

	/* NAME may be site:NAME; the live copy records NAME */
	if (kpy_live_manifest(path, &lm, &ignore) < 0 || lm.name == NULL || strcmp(lm.name, kpy_store_bare(name)) != 0) {
		if (uv)
			kpy_err_set(e, KPY_EFAIL, "a uv cache named '%s' already exists at %s and does not hold the saved %s: "
				    "replace it with 'kpy load -f --uv-cache %s%s%s' (what is in it is lost), "
				    "or load another copy with 'kpy load --uv-cache %s --as NEWNAME'",
				    as, path, name, name, strcmp(as, name) ? " --as " : "", strcmp(as, name) ? as : "", name);
		else
			kpy_err_set(e, KPY_EFAIL, "an environment named '%s' already exists at %s and does not hold the saved %s: "
				    "activate it with 'kpy activate %s', replace it with 'kpy load -f %s%s%s' (what is in it is lost), "
				    "or load another copy with 'kpy load %s --as NEWNAME'",
				    as, path, name, as, name, strcmp(as, name) ? " --as " : "", strcmp(as, name) ? as : "", name);
		goto out;
	}
	if (kpy_archive_manifest(archive, &am, e) < 0)
		goto out;
	/* another save: a later one, or one of another store (site:NAME and the user's NAME) */
	if (!same_save(&lm, &am)) {
		fmt_time(ld, sizeof(ld), lm.saved);
		fmt_time(ad, sizeof(ad), am.saved);
		kpy_err_set(e, KPY_EFAIL, "'%s' at %s holds the save of %s from %s, but %s was saved again on %s: "
			    "reload it with 'kpy load -f %s%s%s%s' (changes made in it are lost)%s%s%s",
			    as, path, name, ld, name, ad, opt, name, strcmp(as, name) ? " --as " : "", strcmp(as, name) ? as : "",
			    uv ? "" : ", or activate the old copy with 'kpy activate ", uv ? "" : as, uv ? "" : "'");
		goto out;
	}
	if (!uv && kpy_live_modified(path) == 1)
		say("%s is already loaded at %s, with packages changed since (reload the saved state with 'kpy load -f %s')", as, path, name);
	else
		say("%s%s is already loaded at %s", uv ? "the uv cache " : "", as, path);
	rv = 0;
out:
	kpy_manifest_free(&am);
	kpy_manifest_free(&lm);
	return rv;
}

int cmd_load(const struct cmd *self, const struct cmd_args *a)
{
	struct kpy_err e = KPY_ERR_INIT;
	struct kpy_config cfg = { 0 };
	const char *name = a->argv[0], *as = a->val[OPT_AS], *kind = KPY_KIND_VENV;
	char *archive = NULL, *root = NULL, *path = NULL, again[240];
	int rc = 1, force = cmd_has(a, OPT_FORCE), sh = cmd_has(a, OPT_SH), restored = 0;
	int uv = cmd_has(a, OPT_UV_CACHE), threads;
	double t0;

	if (uv)
		kind = KPY_KIND_UV;
	if (name == NULL) {
		if (as != NULL || force || sh || cmd_has(a, OPT_JOBS))
			return usage_error(self, "give the NAME of a saved %s", kpy_store_noun(kind));
		return print_saved(uv ? KPY_KIND_UV : NULL, 0);
	}
	/* site:NAME is the site store's NAME; the live copy is NAME */
	if (kpy_name_check(kpy_store_bare(name), uv ? "uv cache name" : "environment name", &e) < 0 ||
	    (as != NULL && kpy_name_check(as, "name given to --as", &e) < 0))
		goto out;
	if (as == NULL)
		as = kpy_store_bare(name);
	if (kpy_config_load(&cfg, &e) < 0)
		goto out;
	if ((threads = cmd_threads(self, a, &cfg, &rc)) < 0)
		goto out;
	if ((archive = kpy_store_lookup(cfg.pipdir, cfg.site_pipdir, kind, name, NULL, &e)) == NULL)
		goto out;
	if (uv) {
		/* beside the envs, on their file system: uv hard-links from its cache */
		if ((root = kpy_live_root(&e)) == NULL)
			goto out;
		if ((path = kpy_live_path(root, KPY_KIND_UV, NULL)) == NULL) {
			kpy_err_set(&e, KPY_EFAIL, "out of memory");
			goto out;
		}
		if (mkdir(path, 0755) < 0 && errno != EEXIST) {
			kpy_err_sys(&e, errno, "cannot create %s", path);
			goto out;
		}
		free(path);
		if ((path = kpy_live_path(root, KPY_KIND_UV, as)) == NULL) {
			kpy_err_set(&e, KPY_EFAIL, "out of memory");
			goto out;
		}
	} else if ((path = live_path(as, &root, &e)) == NULL) {
		goto out;
	}
	t0 = now();
	/* every task of a job may run this at once: one restores, the others wait and use it */
	struct kpy_restore_opts ro = { .prompt = uv ? NULL : as, .threads = threads,
				       .progress = cmd_progress("loading", as, 0, 0) };
	if (ro.progress != NULL) { /* shown: the totals from the manifest, the first entry */
		struct kpy_manifest pm = { 0 };
		struct kpy_err ignore = KPY_ERR_INIT;
		if (kpy_archive_manifest(archive, &pm, &ignore) == 0)
			kpy_progress_totals(ro.progress, (uint64_t)pm.bytes, (uint64_t)pm.files);
		kpy_manifest_free(&pm);
	}
	int loaded = kpy_load_once(archive, path, &ro, force, &restored, &e);
	kpy_progress_end(ro.progress);
	if (loaded < 0)
		goto out;
	if (!restored && use_existing(archive, name, as, path, uv, &e) < 0)
		goto out;
	if (restored && strcmp(as, kpy_store_bare(name)) == 0)
		say("loaded %s%s into %s in %.2f s", uv ? "the uv cache " : "", name, path, now() - t0);
	else if (restored)
		say("loaded %s%s as %s into %s in %.2f s", uv ? "the uv cache " : "", name, as, path, now() - t0);
	snprintf(again, sizeof(again), "load %s%s%s%s", uv ? "--uv-cache " : "", name,
		 strcmp(as, kpy_store_bare(name)) ? " --as " : "", strcmp(as, kpy_store_bare(name)) ? as : "");
	rc = uv ? activate_uv(path, sh, again) : activate(path, 1, sh, again);
out:
	if (rc == 1) {
		fail(&e);
		if (sh) /* eval "$(kpy load NAME --sh)" must fail too */
			printf("false\n");
	}
	kpy_config_free(&cfg);
	free(archive);
	free(root);
	free(path);
	return rc;
}

/* The error for activating NAME, which is not live in ROOT: the live names, the
 * closest of them, and whether a saved environment of that name can be loaded. */
static void not_live(const char *root, const char *name, struct kpy_err *e)
{
	struct kpy_err ignore = KPY_ERR_INIT;
	struct kpy_config cfg = { 0 };
	char list[1024] = "none", hint[512] = "", **names = NULL, *saved = NULL;
	const char *near = NULL;
	size_t len = 0;

	if (kpy_live_list(root, &names, &ignore) == 0 && names[0] != NULL) {
		list[0] = '\0';
		for (size_t k = 0; names[k] && len + strlen(names[k]) + 3 < sizeof(list); k++)
			len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s", k ? ", " : "", names[k]);
		near = kpy_suggest(name, (const char *const *)names);
	}
	if (kpy_config_load(&cfg, &ignore) == 0)
		saved = kpy_store_lookup(cfg.pipdir, cfg.site_pipdir, KPY_KIND_VENV, name, NULL, &ignore);
	if (saved != NULL) {
		snprintf(hint, sizeof(hint), "; a saved environment of that name exists: load it with 'kpy load %s'", name);
	} else if (near == NULL) {
		struct kpy_saved *v = NULL;
		const char **cands = NULL, *s = NULL;
		size_t n = 0;
		if (cfg.pipdir != NULL && kpy_store_list(cfg.pipdir, KPY_KIND_VENV, 0, &v, &n, &ignore) == 0 &&
		    (cands = calloc(n + 1, sizeof(*cands))) != NULL) {
			for (size_t k = 0; k < n; k++)
				cands[k] = v[k].name;
			s = kpy_suggest(name, cands);
		}
		if (s != NULL)
			snprintf(hint, sizeof(hint), "; did you mean the saved '%s'? load it with 'kpy load %s'", s, s);
		else
			snprintf(hint, sizeof(hint), "; make one with 'kpy create %s', or load a saved one with 'kpy load NAME' ('kpy list' shows them)", name);
		free(cands);
		kpy_saved_free(v, n);
	}
	kpy_err_set(e, KPY_ENOENT, "no environment named '%s' in %s (there: %s)%s%s%s%s", name, root, list,
		    near ? "; did you mean '" : "", near ? near : "", near ? "'?" : "", hint);
	free(saved);
	kpy_config_free(&cfg);
	kpy_strv_free(names);
}

/* 1 if the live env of manifest LM holds the site store's NAME (site:NAME). */
static int from_site(const struct kpy_config *cfg, const char *name, const struct kpy_manifest *lm)
{
	struct kpy_err ignore = KPY_ERR_INIT;
	struct kpy_manifest sm = { 0 };
	char site[KPY_NAME_MAX + 8], *archive;
	int rv = 0;

	snprintf(site, sizeof(site), KPY_SITE_PREFIX "%s", name);
	if (cfg->site_pipdir == NULL ||
	    (archive = kpy_store_lookup(cfg->pipdir, cfg->site_pipdir, KPY_KIND_VENV, site, NULL, &ignore)) == NULL)
		return 0;
	if (kpy_archive_manifest(archive, &sm, &ignore) == 0)
		rv = same_save(&sm, lm);
	kpy_manifest_free(&sm);
	free(archive);
	return rv;
}

/* kpy activate -l: each live env, the save it holds and whether it changed since. */
static int print_live(const char *root, char **names)
{
	struct kpy_err e = KPY_ERR_INIT;
	struct kpy_config cfg = { 0 };
	int cfg_ok = kpy_config_load(&cfg, &e) == 0;

	printf("%-16s %-16s %-19s %-24s %s\n", "NAME", "SAVE", "SAVED", "STATE", "PATH");
	for (size_t k = 0; names[k]; k++) {
		struct kpy_manifest lm = { 0 }, am = { 0 };
		struct kpy_err ignore = KPY_ERR_INIT;
		char path[PATH_MAX], when[64] = "-", state[128] = "never saved", *archive = NULL;
		int mod;

		snprintf(path, sizeof(path), "%s/%s", root, names[k]);
		mod = kpy_live_modified(path);
		if (kpy_live_manifest(path, &lm, &ignore) == 0 && lm.name != NULL) {
			fmt_time(when, sizeof(when), lm.saved);
			if (!cfg_ok || kpy_name_check(lm.name, "name", &ignore) < 0 ||
			    (archive = kpy_store_lookup(cfg.pipdir, cfg.site_pipdir, KPY_KIND_VENV, lm.name, NULL, &ignore)) == NULL)
				snprintf(state, sizeof(state), "save removed");
			else if (kpy_archive_manifest(archive, &am, &ignore) < 0)
				snprintf(state, sizeof(state), "save damaged");
			else if (!same_save(&am, &lm) && from_site(&cfg, lm.name, &lm))
				snprintf(state, sizeof(state), "as saved (site:%s)", lm.name);
			else if (am.saved != lm.saved)
				snprintf(state, sizeof(state), "%s", am.saved > lm.saved ? "saved again since" : "other save");
			else
				snprintf(state, sizeof(state), "as saved");
			if (mod == 1)
				snprintf(state + strlen(state), sizeof(state) - strlen(state), ", modified");
		}
		printf("%-16s %-16s %-19s %-24s %s\n", names[k], lm.name ? lm.name : "-", when, state, path);
		free(archive);
		kpy_manifest_free(&am);
		kpy_manifest_free(&lm);
	}
	kpy_config_free(&cfg);
	return fflush(stdout) == 0 ? 0 : 1;
}

int cmd_activate(const struct cmd *self, const struct cmd_args *a)
{
	struct kpy_err e = KPY_ERR_INIT;
	char *root = NULL, *path = NULL, **names = NULL, act[PATH_MAX];
	const char *name = a->argv[0];
	int rc, sh = cmd_has(a, OPT_SH), lng = cmd_has(a, OPT_LONG);

	/* in --sh mode a usage error prints 'false', so eval "$(...)" fails too */
	if (lng && name != NULL) {
		rc = usage_error(self, "-l lists the live environments: give no NAME with it");
		goto usage;
	}
	if (sh && name == NULL) {
		rc = usage_error(self, "--sh needs the NAME of the environment to activate");
		goto usage;
	}
	rc = 1;
	if ((root = kpy_live_root(&e)) == NULL)
		goto out;
	if (name == NULL) {
		if (kpy_live_list(root, &names, &e) < 0)
			goto out;
		if (lng) {
			rc = print_live(root, names);
			goto out;
		}
		for (size_t k = 0; names[k]; k++)
			printf("%s\n", names[k]);
		if (names[0] == NULL && isatty(STDOUT_FILENO))
			say("no environments in %s: make one with 'kpy create' or 'kpy load NAME'", root);
		rc = 0;
		goto out;
	}
	if (kpy_name_check(name, "environment name", &e) < 0)
		goto out;
	if ((path = kpy_live_path(root, KPY_KIND_VENV, name)) == NULL) {
		kpy_err_set(&e, KPY_EFAIL, "out of memory");
		goto out;
	}
	snprintf(act, sizeof(act), "%s/bin/activate", path);
	if (access(act, R_OK) < 0) {
		not_live(root, name, &e);
		goto out;
	}
	if (sh) {
		rc = print_sh(path, 0);
	} else if (hand_over(path) < 0) {
		fputs("source ", stdout);
		sh_quoted(path, "/bin/activate");
		putchar('\n');
		/* captured, as in eval "$(kpy activate X)", the line above is the answer; a
		 * batch script's output file is not: there the script would go on without it */
		if (!isatty(STDOUT_FILENO) && (!in_job() || captured())) {
			rc = 0;
		} else {
			say("kpy cannot change this shell by itself: run the line above (in a script: eval \"$(kpy activate %s --sh)\"), or set up the shell function with eval \"$(kpy bash)\"%s",
			    name, in_job() ? "; NOT activated (exit status 3)" : "");
			rc = in_job() ? 3 : 0;
		}
	} else {
		rc = 0;
	}
out:
	if (rc == 1) {
		fail(&e);
		if (sh)
			printf("false\n");
	}
	kpy_strv_free(names);
	free(root);
	free(path);
	return rc;
usage:
	if (sh)
		printf("false\n");
	return rc;
}

int cmd_unload(const struct cmd *self, const struct cmd_args *a)
{
	struct kpy_err e = KPY_ERR_INIT;
	const char *venv = getenv("VIRTUAL_ENV");
	char *root = NULL, **names = NULL;
	int rc = 1;

	(void)self;
	for (int k = 0; k < a->argc; k++)
		if (kpy_name_check(a->argv[k], "environment name", &e) < 0)
			goto out;
	if ((root = kpy_live_root(&e)) == NULL || kpy_live_list(root, &names, &e) < 0)
		goto out;
	for (int i = 0; i < a->argc; i++) {
		char path[PATH_MAX], aside[PATH_MAX];
		size_t k;
		int fd;

		for (k = 0; names[k] && strcmp(names[k], a->argv[i]) != 0; k++)
			;
		snprintf(path, sizeof(path), "%s/%s", root, a->argv[i]);
		if (names[k] == NULL) {
			kpy_err_set(&e, KPY_ENOENT, "no live environment named '%s' in %s: 'kpy activate -l' lists them", a->argv[i], root);
			goto out;
		}
		/* moved aside under the restore lock first: never a half-removed env that looks usable */
		snprintf(aside, sizeof(aside), "%s/.%s.rm-%ld", root, a->argv[i], (long)getpid());
		if ((fd = kpy_lock_target(path, &e)) < 0)
			goto out;
		if (rename(path, aside) < 0) {
			kpy_err_sys(&e, errno, "cannot remove %s", path);
			kpy_unlock_target(path, fd);
			goto out;
		}
		kpy_unlock_target(path, fd);
		if (kpy_rmtree(aside, &e) < 0)
			goto out;
		if (venv != NULL && strcmp(venv, path) == 0 && getenv("KPY_ACTIVATE_FD") == NULL)
			say("removed %s (%s); it was the active environment: run 'deactivate'", a->argv[i], path);
		else
			say("removed %s (%s)", a->argv[i], path);
	}
	rc = 0;
out:
	if (rc != 0)
		fail(&e);
	kpy_strv_free(names);
	free(root);
	return rc;
}

/* The directories export made for PATH's missing parents, to remove them again if the
 * restore then fails: exactly those, in reverse order. */
struct made {
	char *dir[64];
	int n;
};

/* mkdir -p PARENT (0755 less the umask), remembering what was made. */
static int make_parents(const char *parent, struct made *md, struct kpy_err *e)
{
	char buf[PATH_MAX];
	struct stat st;

	if (snprintf(buf, sizeof(buf), "%s", parent) >= (int)sizeof(buf))
		return kpy_err_set(e, KPY_EINVAL, "cannot export to %s: the path is too long", parent);
	for (char *p = buf + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(buf, 0755) == 0) {
			if (md->n < 64 && (md->dir[md->n] = strdup(buf)) != NULL)
				md->n++;
		} else if (errno != EEXIST) {
			return kpy_err_sys(e, errno, "cannot make directory %s", buf);
		}
		*p = c;
		if (c == '\0')
			break;
	}
	if (stat(parent, &st) < 0 || !S_ISDIR(st.st_mode))
		return kpy_err_set(e, KPY_EINVAL, "cannot export to %s: not a directory", parent);
	return 0;
}

static void unmake_parents(struct made *md, int remove)
{
	while (md->n > 0) {
		md->n--;
		if (remove)
			rmdir(md->dir[md->n]);
		free(md->dir[md->n]);
	}
}

int cmd_export(const struct cmd *self, const struct cmd_args *a)
{
	struct kpy_err e = KPY_ERR_INIT;
	struct kpy_config cfg = { 0 };
	char *archive = NULL, cwd[PATH_MAX], dest[PATH_MAX + NAME_MAX + 2];
	char copy[PATH_MAX], *slash, *base;
	const char *name = a->argv[0], *to = a->argv[1];
	struct made made = { .n = 0 };
	int rc = 1;
	struct stat st;

	if (kpy_name_check(kpy_store_bare(name), "environment name", &e) < 0)
		return fail(&e);
	/* the new prefix: the parent's real path plus the last component; a relative
	 * PATH is taken from the working directory */
	if (to[0] != '/') {
		if (getcwd(cwd, sizeof(cwd)) == NULL) {
			kpy_err_sys(&e, errno, "cannot export to %s", to);
			return fail(&e);
		}
		if (snprintf(copy, sizeof(copy), "%s/%s", strcmp(cwd, "/") ? cwd : "", to) >= (int)sizeof(copy))
			return usage_error(self, "PATH is too long");
	} else if (snprintf(copy, sizeof(copy), "%s", to) >= (int)sizeof(copy)) {
		return usage_error(self, "PATH is too long");
	}
	for (size_t n = strlen(copy); n > 1 && copy[n - 1] == '/'; n--)
		copy[n - 1] = '\0';
	slash = strrchr(copy, '/');
	base = slash ? slash + 1 : copy;
	if (slash == copy)
		snprintf(cwd, sizeof(cwd), "/");
	else if (slash != NULL)
		*slash = '\0';
	if (*base == '\0' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
		return usage_error(self, "PATH must name a new directory");
	if (kpy_config_load(&cfg, &e) < 0 || (archive = kpy_store_lookup(cfg.pipdir, cfg.site_pipdir, KPY_KIND_VENV, name, NULL, &e)) == NULL)
		goto out;
	/* missing parents are made (0755 less the umask), like mkdir -p */
	if (slash != NULL && slash != copy && stat(copy, &st) < 0 && errno == ENOENT &&
	    make_parents(copy, &made, &e) < 0)
		goto out;
	if (slash != copy && realpath(slash ? copy : ".", cwd) == NULL) {
		kpy_err_sys(&e, errno, "cannot export to %s", to);
		goto out;
	}
	if (snprintf(dest, sizeof(dest), "%s/%s", strcmp(cwd, "/") ? cwd : "", base) >= (int)sizeof(dest)) {
		rc = usage_error(self, "PATH is too long");
		goto out;
	}
	if (kpy_archive_restore(archive, dest, NULL, NULL, &e) < 0)
		goto out;
	say("exported %s to %s", name, dest);
	rc = 0;
out:
	if (rc == 1)
		fail(&e);
	unmake_parents(&made, rc != 0);
	kpy_config_free(&cfg);
	free(archive);
	return rc;
}
