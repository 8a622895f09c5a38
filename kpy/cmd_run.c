/* cmd_run.c: kpy run: a script with inline dependencies (PEP 723) in a saved env of
 * its own, built once per dependency set, restored once per job, then exec'd. */
#include "autoconfig.h"
#include "cmd.h"
#include "envarchive.h"
#include "fdio.h"
#include "config.h"
#include "live.h"
#include "offline.h"
#include "once.h"
#include "store.h"
#include "text.h"
#include "tree.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern const char kpy_script_meta[]; /* kpy/script_meta.py, compiled in */

#define META_MAX (1 << 20) /* what script_meta.py may answer */
#define MAX_PYTHONS 32

/* What script_meta.py said about a script, and the interpreter chosen for it. */
struct meta {
	char python[PATH_MAX];  /* the base interpreter, absolute */
	char version[16];       /* its major.minor */
	char *spec;             /* requires-python or NULL */
	char hash[17];
	char **deps;            /* normalised, sorted; NULL-terminated */
	char **raw;             /* as written, in the same order (for pip) */
	size_t ndeps;
	char *requires;         /* deps joined by ' ' (the manifest's requires) */
	char key[KPY_NAME_MAX + 1];
};

static void meta_free(struct meta *m)
{
	for (size_t i = 0; i < m->ndeps; i++) {
		free(m->deps[i]);
		free(m->raw[i]);
	}
	free(m->deps);
	free(m->raw);
	free(m->spec);
	free(m->requires);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Run ARGV (argv[0] absolute) with its stdout into *OUT (malloc'd, NUL-terminated, at
 * most META_MAX bytes) or, when OUT is NULL, onto stderr (stdout belongs to the
 * script). Returns the exit status, 128+N for a signal, or -1 (E set). */
static int run_child(char *const argv[], char **out, struct kpy_err *e)
{
	int fds[2] = { -1, -1 }, status;
	size_t len = 0;
	char *buf = NULL;
	pid_t pid;

	if (out != NULL) {
		*out = NULL;
		if ((buf = malloc(META_MAX + 1)) == NULL)
			return kpy_err_set(e, KPY_EFAIL, "out of memory");
		if (pipe(fds) < 0) {
			free(buf);
			return kpy_err_sys(e, errno, "cannot run %s", argv[0]);
		}
	}
	if ((pid = fork()) < 0) {
		kpy_err_sys(e, errno, "cannot run %s", argv[0]);
		goto fail;
	}
	if (pid == 0) {
		if (out != NULL) {
			dup2(fds[1], STDOUT_FILENO);
			close(fds[0]);
			close(fds[1]);
		} else {
			dup2(STDERR_FILENO, STDOUT_FILENO);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	if (out != NULL) {
		close(fds[1]);
		fds[1] = -1;
		ssize_t n = kpy_read_full(fds[0], buf, META_MAX); /* a read error ends it too */
		len = n > 0 ? (size_t)n : 0;
		close(fds[0]);
		fds[0] = -1;
		buf[len] = '\0';
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			kpy_err_sys(e, errno, "cannot wait for %s", argv[0]);
			goto fail;
		}
	}
	if (out != NULL)
		*out = buf;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
fail:
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	free(buf);
	return -1;
}

/* The value of the first "KEY\t" line of TEXT, copied into BUF; NULL if none. */
static const char *field(const char *text, const char *key, char *buf, size_t size)
{
	size_t kl = strlen(key);

	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (strncmp(p, key, kl) == 0 && p[kl] == '\t') {
			snprintf(buf, size, "%.*s", (int)strcspn(p + kl + 1, "\n"), p + kl + 1);
			return buf;
		}
	}
	return NULL;
}

/* The absolute path of NAME in PATH, into BUF; -1 if not found. */
static int which(const char *name, char *buf, size_t size)
{
	const char *path = getenv("PATH");

	for (const char *p = path ? path : ""; *p;) {
		size_t n = strcspn(p, ":");
		if (n > 0 && p[0] == '/' && snprintf(buf, size, "%.*s/%s", (int)n, p, name) < (int)size &&
		    access(buf, X_OK) == 0)
			return 0;
		p += n;
		if (*p == ':')
			p++;
	}
	return -1;
}

static int by_minor_desc(const void *a, const void *b)
{
	long x = strtol(*(char *const *)a + strlen("python3."), NULL, 10);
	long y = strtol(*(char *const *)b + strlen("python3."), NULL, 10);

	return x < y ? 1 : x > y ? -1 : 0;
}

/* The interpreters to try: python3, then every python3.N in PATH, newest first.
 * NULL-terminated array of malloc'd names. */
static char **pythons(void)
{
	char **v = calloc(MAX_PYTHONS + 1, sizeof(*v)), *path = getenv("PATH");
	size_t n = 0;

	if (v == NULL || (v[n++] = strdup("python3")) == NULL) {
		free(v);
		return NULL;
	}
	for (const char *p = path ? path : ""; *p && n < MAX_PYTHONS;) {
		size_t len = strcspn(p, ":");
		char dir[PATH_MAX];
		struct dirent *de;
		DIR *d;

		snprintf(dir, sizeof(dir), "%.*s", (int)len, p);
		p += len;
		if (*p == ':')
			p++;
		if (dir[0] != '/' || (d = opendir(dir)) == NULL)
			continue;
		while ((de = readdir(d)) != NULL && n < MAX_PYTHONS) {
			const char *s = de->d_name + strlen("python3.");
			size_t k;
			if (strncmp(de->d_name, "python3.", 8) != 0 || *s == '\0' || strspn(s, "0123456789") != strlen(s))
				continue;
			for (k = 0; k < n && strcmp(v[k], de->d_name) != 0; k++)
				;
			if (k == n && (v[n] = strdup(de->d_name)) != NULL)
				n++;
		}
		closedir(d);
	}
	qsort(v + 1, n - 1, sizeof(*v), by_minor_desc);
	return v;
}

/* Run script_meta.py with PYTHON: MODE is "parse" or "check", ARG the script or the
 * specifier. Returns its exit status (3: an error line, 4: no tomllib), -1 (E set). */
static int ask(const char *python, const char *mode, const char *arg, char **out, struct kpy_err *e)
{
	char *argv[] = { (char *)python, "-I", "-c", (char *)kpy_script_meta, (char *)mode, (char *)arg, NULL };
	int rc = run_child(argv, out, e);

	if (rc == 127)
		kpy_err_set(e, KPY_EFAIL, "cannot run %s", python);
	return rc;
}

/* Split the dep and raw lines of TEXT into M. */
static int take_deps(const char *text, struct meta *m, struct kpy_err *e)
{
	size_t nd = 0, nr = 0, cap = 0;

	for (const char *p = text; *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : p + strlen(p))
		if (strncmp(p, "dep\t", 4) == 0)
			cap++;
	if ((m->deps = calloc(cap + 1, sizeof(char *))) == NULL ||
	    (m->raw = calloc(cap + 1, sizeof(char *))) == NULL)
		return kpy_err_set(e, KPY_EFAIL, "out of memory");
	for (const char *p = text; *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : p + strlen(p)) {
		int dep = strncmp(p, "dep\t", 4) == 0, raw = strncmp(p, "raw\t", 4) == 0;
		char *s;
		if (!dep && !raw)
			continue;
		if ((dep && nd == cap) || (raw && nr == cap) ||
		    (s = strndup(p + 4, strcspn(p + 4, "\n"))) == NULL)
			return kpy_err_set(e, KPY_EFAIL, "out of memory");
		if (dep)
			m->deps[nd++] = s;
		else
			m->raw[nr++] = s;
	}
	m->ndeps = cap;
	if (nd != cap || nr != cap)
		return kpy_err_set(e, KPY_EFAIL, "kpy's metadata reader answered %zu dependencies and %zu requirements", nd, nr);
	size_t len = 1;
	for (size_t i = 0; i < cap; i++)
		len += strlen(m->deps[i]) + 1;
	if ((m->requires = calloc(1, len)) == NULL)
		return kpy_err_set(e, KPY_EFAIL, "out of memory");
	for (size_t i = 0; i < cap; i++) {
		if (i)
			strcat(m->requires, " ");
		strcat(m->requires, m->deps[i]);
	}
	return 0;
}

/* Read SCRIPT's block and choose the interpreter: the first of python3, python3.N
 * (newest first) that satisfies requires-python. */
static int read_meta(const char *script, struct meta *m, struct kpy_err *e)
{
	char **cands = pythons(), *text = NULL, val[1200], tried[1024] = "";
	size_t k, tl = 0;
	int rc, rv = -1, found = 0;

	if (cands == NULL)
		return kpy_err_set(e, KPY_EFAIL, "out of memory");
	/* the block is read with the first interpreter that has tomllib */
	for (k = 0; cands[k]; k++) {
		if (which(cands[k], m->python, sizeof(m->python)) < 0)
			continue;
		free(text);
		text = NULL;
		if ((rc = ask(m->python, "parse", script, &text, e)) < 0)
			goto out;
		if (rc == 0)
			break;
		if (rc == 4)
			continue;
		if (rc == 3 && field(text, "error", val, sizeof(val)) != NULL) {
			kpy_err_set(e, KPY_EINVAL, "%s", val);
		} else {
			kpy_err_set(e, KPY_EFAIL, "%s could not read the metadata of %s (exit status %d, see above)", m->python, script, rc);
		}
		goto out;
	}
	if (cands[k] == NULL) {
		if (text != NULL && field(text, "error", val, sizeof(val)) != NULL)
			kpy_err_set(e, KPY_EFAIL, "%s: %s (put one first in PATH, e.g. with 'module load python/3.11')", script, val);
		else
			kpy_err_set(e, KPY_EFAIL, "no python3 in PATH to read %s with: put one first in PATH (e.g. 'module load python')", script);
		goto out;
	}
	if (field(text, "hash", val, sizeof(val)) == NULL || strlen(val) != 16 ||
	    field(text, "version", m->version, sizeof(m->version)) == NULL) {
		kpy_err_set(e, KPY_EFAIL, "kpy's metadata reader gave no answer for %s with %s", script, m->python);
		goto out;
	}
	snprintf(m->hash, sizeof(m->hash), "%s", val);
	if (field(text, "requires-python", val, sizeof(val)) != NULL && (m->spec = strdup(val)) == NULL) {
		kpy_err_set(e, KPY_EFAIL, "out of memory");
		goto out;
	}
	if (take_deps(text, m, e) < 0)
		goto out;
	found = field(text, "match", val, sizeof(val)) != NULL && strcmp(val, "1") == 0;
	if (!found) {
		char full[32] = "?";
		field(text, "full", full, sizeof(full));
		tl += (size_t)snprintf(tried + tl, sizeof(tried) - tl, "%s (%s, %s)", cands[k], full, m->python);
	}
	/* requires-python not met by the reader: try the others (those without tomllib
	 * too: checking a version needs none) */
	for (size_t j = 0; !found && cands[j]; j++) {
		char path[PATH_MAX], *out = NULL, full[32] = "?";
		struct kpy_err ignore = KPY_ERR_INIT;

		if (j == k || which(cands[j], path, sizeof(path)) < 0)
			continue;
		rc = ask(path, "check", m->spec, &out, &ignore);
		if (rc == 0 && out != NULL && field(out, "match", val, sizeof(val)) != NULL && strcmp(val, "1") == 0 &&
		    field(out, "version", m->version, sizeof(m->version)) != NULL) {
			snprintf(m->python, sizeof(m->python), "%s", path);
			found = 1;
		} else if (rc == 3 && out != NULL && field(out, "error", val, sizeof(val)) != NULL) {
			kpy_err_set(e, KPY_EINVAL, "%s: %s", script, val);
			free(out);
			goto out;
		} else if (tl < sizeof(tried)) {
			if (out != NULL)
				field(out, "full", full, sizeof(full));
			tl += (size_t)snprintf(tried + tl, sizeof(tried) - tl, "%s%s (%s, %s)", tl ? ", " : "", cands[j], full, path);
		}
		free(out);
	}
	if (!found) {
		kpy_err_set(e, KPY_EFAIL, "%s needs Python %s, and no Python in PATH has it (tried: %s): put one first in PATH "
			    "(e.g. 'module load python/3.X'), or change requires-python in the script's '# /// script' block%s",
			    script, m->spec, tried, m->spec && strncmp(m->spec, "==", 2) == 0 && !strchr(m->spec, '*')
			    ? " (==3.X means 3.X.0 exactly: ==3.X.* is any 3.X)" : "");
		goto out;
	}
	snprintf(m->key, sizeof(m->key), "py%s-%s", m->version, m->hash);
	if (kpy_name_check(m->key, "script environment key", e) < 0)
		goto out;
	rv = 0;
out:
	free(text);
	for (k = 0; cands[k]; k++)
		free(cands[k]);
	free(cands);
	return rv;
}

/* pip in the env BUILD: "install" from the wheelhouse only, or "wheel" into it from
 * whatever index pip is configured with. */
static int pip(const char *build, const char *what, const char *wheels, const struct meta *m,
	       const char *script, struct kpy_err *e)
{
	char py[PATH_MAX], **argv = calloc(m->ndeps + 12, sizeof(char *));
	size_t n = 0;
	int rc;

	if (argv == NULL)
		return kpy_err_set(e, KPY_EFAIL, "out of memory");
	snprintf(py, sizeof(py), "%s/bin/python", build);
	argv[n++] = py;
	argv[n++] = "-m";
	argv[n++] = "pip";
	argv[n++] = (char *)what;
	argv[n++] = "-q";
	argv[n++] = "--disable-pip-version-check";
	if (strcmp(what, "install") == 0) {
		argv[n++] = "--no-index";
		argv[n++] = "--find-links";
	} else {
		argv[n++] = "--wheel-dir";
	}
	argv[n++] = (char *)wheels;
	for (size_t i = 0; i < m->ndeps; i++)
		argv[n++] = m->raw[i];
	rc = run_child(argv, NULL, e);
	free(argv);
	if (rc < 0)
		return -1;
	if (rc == 0)
		return 0;
	if (strcmp(what, "install") == 0)
		return kpy_err_set(e, KPY_ENOENT, "cannot install the dependencies of %s (%s) from the wheelhouse %s (pip's message above): "
				   "on a login node with internet, run 'kpy run --prepare %s' to fill it", script, m->requires, wheels, script);
	return kpy_err_set(e, KPY_EFAIL, "'pip wheel' could not get the dependencies of %s (%s) into %s (pip's message above): "
			   "check the names, and that pip reaches its index (or PIP_FIND_LINKS)", script, m->requires, wheels);
}

/* Remove RUNDIR/.KEY.build-<this host>-PID directories of builds killed midway (PID
 * gone); called under the build lock, so no build of KEY is running here. */
static void sweep_builds(const char *rundir, const char *key)
{
	char host[256] = "", pre[PATH_MAX];
	struct dirent *de;
	DIR *d;

	gethostname(host, sizeof(host) - 1);
	snprintf(pre, sizeof(pre), ".%s.build-%s-", key, host);
	if ((d = opendir(rundir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		const char *p = de->d_name + strlen(pre);
		char path[PATH_MAX];
		struct kpy_err ignore = KPY_ERR_INIT;
		long pid;

		if (strncmp(de->d_name, pre, strlen(pre)) != 0 || *p == '\0' || strspn(p, "0123456789") != strlen(p))
			continue;
		pid = strtol(p, NULL, 10);
		if (pid <= 0 || pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", rundir, de->d_name) < (int)sizeof(path))
			kpy_rmtree(path, &ignore);
	}
	closedir(d);
}

/* Build the env of M in a hidden directory of RUNDIR, install its dependencies
 * (after fetching them into the wheelhouse, with FETCH) and save it as ARCHIVE. Under
 * the archive's lock: one builder, the others wait and find it saved. *BUILT says
 * whether this process saved it. Nothing is left behind on failure. */
static int build(const struct meta *m, const char *script, const char *archive, const char *rundir,
		 const struct kpy_config *cfg, int fetch, int *built, struct kpy_err *e)
{
	struct kpy_save_opts o = { 0 };
	struct kpy_err warn = KPY_ERR_INIT, ignore = KPY_ERR_INIT;
	char tmp[PATH_MAX], *wheels = NULL, where[PATH_MAX], host[256] = "";
	int fd, rv = -1, made = 0;

	*built = 0;
	gethostname(host, sizeof(host) - 1);
	if (kpy_store_check(cfg->pipdir, KPY_KIND_SCRIPT, KPY_STORE_WRITABLE | KPY_STORE_CREATE, e) < 0)
		return -1;
	if ((fd = kpy_lock_target(archive, e)) < 0)
		return -1;
	if ((wheels = kpy_wheelhouse(cfg->pipdir)) == NULL) {
		kpy_err_set(e, KPY_EFAIL, "out of memory");
		goto out;
	}
	if (!fetch && access(archive, F_OK) == 0) {
		rv = 0; /* another run built it while we waited */
		goto out;
	}
	if (fetch && mkdir(wheels, 0755) < 0 && errno != EEXIST) {
		kpy_err_sys(e, errno, "cannot create the wheelhouse %s", wheels);
		goto out;
	}
	sweep_builds(rundir, m->key);
	snprintf(tmp, sizeof(tmp), "%s/.%s.build-%s-%ld", rundir, m->key, host, (long)getpid());
	if (kpy_venv_create(m->python, tmp, m->key, e) < 0)
		goto out;
	made = 1;
	if (fetch && m->ndeps > 0 && pip(tmp, "wheel", wheels, m, script, e) < 0)
		goto out;
	if (fetch && access(archive, F_OK) == 0) {
		rv = 0; /* the wheelhouse is filled; the env was saved before */
		goto out;
	}
	if (m->ndeps > 0 && pip(tmp, "install", wheels, m, script, e) < 0)
		goto out;
	o.name = m->key;
	o.kind = KPY_KIND_VENV;
	o.level = cfg->level;
	o.threads = cfg->threads;
	o.script = realpath(script, where) ? where : script;
	o.requires = m->requires;
	if (kpy_archive_save(tmp, archive, &o, &warn, e) < 0) {
		if (e->code != KPY_EEXIST)
			goto out;
		kpy_err_clear(e); /* saved meanwhile by a kpy that took no lock: use it */
	} else {
		*built = 1;
	}
	rv = 0;
out:
	if (made)
		kpy_rmtree(tmp, &ignore);
	kpy_unlock_target(archive, fd);
	free(wheels);
	return rv;
}

static int set_env(const char *name, const char *value, void *arg)
{
	(void)arg;
	return setenv(name, value, 1);
}

/* exec the env's python with the script: its args, stdin, signals and exit status. */
static int exec_script(const char *env, const struct kpy_config *cfg, int argc, char **argv,
		       struct kpy_err *e)
{
	char py[PATH_MAX], bin[PATH_MAX], *wheels = NULL, *path = NULL, **args;
	const char *old = getenv("PATH");

	snprintf(py, sizeof(py), "%s/bin/python", env);
	snprintf(bin, sizeof(bin), "%s/bin", env);
	if (asprintf(&path, "%s%s%s", bin, old && *old ? ":" : "", old ? old : "") < 0 ||
	    (args = calloc((size_t)argc + 2, sizeof(char *))) == NULL)
		return kpy_err_set(e, KPY_EFAIL, "out of memory");
	setenv("VIRTUAL_ENV", env, 1);
	setenv("PATH", path, 1);
	unsetenv("PYTHONHOME");
	if (on_compute(cfg)) {
		if ((wheels = kpy_wheelhouse(cfg->pipdir)) == NULL) {
			free(args);
			free(path);
			return kpy_err_set(e, KPY_EFAIL, "out of memory");
		}
		kpy_offline_apply(wheels, set_env, NULL);
	}
	args[0] = py;
	for (int i = 0; i < argc; i++)
		args[i + 1] = argv[i];
	fflush(NULL);
	execv(py, args);
	kpy_err_sys(e, errno, "cannot run %s", py);
	free(args);
	free(path);
	free(wheels);
	return -1;
}

/* The script as given: a readable regular file. */
static int check_script(const char *script, struct kpy_err *e)
{
	struct stat st;

	if (stat(script, &st) < 0) {
		if (errno == ENOENT)
			return kpy_err_set(e, KPY_ENOENT, "no script %s: give the path of a Python file (kpy run SCRIPT.py [ARGS...])", script);
		return kpy_err_sys(e, errno, "cannot read the script %s", script);
	}
	if (S_ISDIR(st.st_mode))
		return kpy_err_set(e, KPY_EINVAL, "%s is a directory, not a script: give the Python file to run (kpy run %s/SCRIPT.py)", script, script);
	if (!S_ISREG(st.st_mode))
		return kpy_err_set(e, KPY_EINVAL, "%s is not a regular file: give the Python file to run", script);
	if (access(script, R_OK) < 0)
		return kpy_err_sys(e, errno, "cannot read the script %s", script);
	return 0;
}

int cmd_run(const struct cmd *self, const struct cmd_args *a)
{
	struct kpy_err e = KPY_ERR_INIT;
	struct kpy_config cfg = { 0 };
	struct meta m = { 0 };
	char *archive = NULL, *root = NULL, *rundir = NULL, *dest = NULL;
	const char *script = a->argv[0];
	int prepare = cmd_has(a, OPT_PREPARE), rc = 1, built = 0, restored = 0;
	struct stat st;
	double t0 = now();

	/* options end at SCRIPT (CMD_OPTS_FIRST): what follows is the script's */
	if (prepare && a->argc > 1)
		return usage_error(self, "--prepare takes only the SCRIPT (its ARGS are for running it)");
	if (cmd_threads(self, a, NULL, &rc) < 0) /* a bad -j before anything else */
		return rc;
	if (check_script(script, &e) < 0 || read_meta(script, &m, &e) < 0)
		goto out;
	if (kpy_config_load(&cfg, &e) < 0)
		goto out;
	/* -j, else the setting, else the job's CPUs: for build's save and the restore */
	if ((cfg.threads = cmd_threads(self, a, &cfg, &rc)) < 0)
		goto out_usage;
	if ((archive = kpy_store_path(cfg.pipdir, KPY_KIND_SCRIPT, m.key)) == NULL ||
	    (root = kpy_live_root(&e)) == NULL ||
	    (rundir = kpy_live_path(root, KPY_KIND_SCRIPT, NULL)) == NULL ||
	    (dest = kpy_live_path(root, KPY_KIND_SCRIPT, m.key)) == NULL) {
		kpy_err_set(&e, KPY_EFAIL, "out of memory");
		goto out;
	}
	if (mkdir(rundir, 0755) < 0 && errno != EEXIST) {
		kpy_err_sys(&e, errno, "cannot create %s", rundir);
		goto out;
	}
	if (prepare) {
		int had = access(archive, F_OK) == 0;
		if (build(&m, script, archive, rundir, &cfg, 1, &built, &e) < 0)
			goto out;
		if (m.ndeps > 0) {
			char *wheels = kpy_wheelhouse(cfg.pipdir);

			say("prepared %s: the wheelhouse %s has %s", script,
			    wheels ? wheels : "<pipdir>/wheels", m.requires);
			free(wheels);
		}
		if (built)
			say("saved the env of %s (Python %s, %s) as %s in %.1f s: 'kpy run %s' now works offline, on compute nodes too",
			    script, m.version, m.ndeps ? m.requires : "no dependencies", archive, now() - t0, script);
		else
			say("the env of %s (Python %s, %s) was %s saved as %s: 'kpy run %s' works offline",
			    script, m.version, m.ndeps ? m.requires : "no dependencies", had ? "already" : "meanwhile", archive, script);
		rc = 0;
		goto out;
	}
	/* every later run (every task of the job): the env is there, nothing to do */
	if (stat(dest, &st) < 0 || !S_ISDIR(st.st_mode)) {
		if (access(archive, F_OK) < 0 && build(&m, script, archive, rundir, &cfg, 0, &built, &e) < 0)
			goto out;
		struct kpy_restore_opts ro = { .threads = cfg.threads };
		if (kpy_load_once(archive, dest, &ro, 0, &restored, &e) < 0)
			goto out;
		if (built)
			say("built the env of %s (Python %s, %s) and saved it as %s in %.1f s", script, m.version,
			    m.ndeps ? m.requires : "no dependencies", archive, now() - t0);
		else if (restored)
			say("restored the env of %s (%s) into %s in %.2f s", script, m.key, dest, now() - t0);
	}
	exec_script(dest, &cfg, a->argc, a->argv, &e);
out:
	if (rc != 0)
		fail(&e);
out_usage:
	meta_free(&m);
	kpy_config_free(&cfg);
	free(archive);
	free(root);
	free(rundir);
	free(dest);
	return rc;
}

/* kpy list: the script envs, after the named ones; nothing when there are none. */
int print_script_envs(void)
{
	struct kpy_err e = KPY_ERR_INIT;
	struct kpy_config cfg = { 0 };
	struct kpy_saved *v = NULL;
	size_t n = 0;
	int rc = 1;

	if (kpy_config_load(&cfg, &e) < 0 || kpy_store_list(cfg.pipdir, KPY_KIND_SCRIPT, 1, &v, &n, &e) < 0)
		goto out;
	if (n > 0)
		printf("\nscript environments (kpy run; remove with kpy rm --script KEY):\n%-23s  %-7s %8s  %-16s  %-24s  %s\n",
		       "KEY", "PYTHON", "SIZE", "SAVED", "SCRIPT", "DEPENDENCIES");
	for (size_t k = 0; k < n; k++) {
		char size[16], date[32] = "?", py[16] = "-", script[256] = "-", deps[1024] = "-";
		double b = (double)v[k].size;
		const char *u = "BKMGT", *base;
		int j = 0;
		time_t t = (time_t)v[k].m.saved;
		struct tm tm;

		while (b >= 1024 && j < 4)
			b /= 1024, j++;
		snprintf(size, sizeof(size), j ? "%.1f%c" : "%.0f%c", b, u[j]);
		if (!v[k].damaged && localtime_r(&t, &tm) != NULL)
			strftime(date, sizeof(date), "%Y-%m-%d %H:%M", &tm);
		if (v[k].m.python_version != NULL)
			kpy_escape_to(py, sizeof(py), v[k].m.python_version);
		py[strspn(py, "0123456789.")] = '\0';
		if (strchr(py, '.') != strrchr(py, '.'))
			*strrchr(py, '.') = '\0'; /* 3.11.2 -> 3.11: the key's version */
		if (v[k].m.script != NULL) {
			base = strrchr(v[k].m.script, '/');
			kpy_escape_to(script, sizeof(script), base ? base + 1 : v[k].m.script);
		}
		if (v[k].m.requires != NULL)
			kpy_escape_to(deps, sizeof(deps), v[k].m.requires[0] ? v[k].m.requires : "(none)");
		printf("%-23s  %-7s %8s  %-16s  %-24s  %s\n", v[k].name, v[k].damaged ? "DAMAGED" : py, size,
		       date, script, v[k].damaged ? "(unreadable manifest)" : deps);
	}
	rc = 0;
out:
	if (rc != 0)
		fail(&e);
	kpy_saved_free(v, n);
	kpy_config_free(&cfg);
	return rc;
}

/* kpy rm --script KEY... */
int rm_script_envs(int argc, char **argv)
{
	struct kpy_err e = KPY_ERR_INIT;
	struct kpy_config cfg = { 0 };
	int rc = 1;

	if (kpy_config_load(&cfg, &e) < 0 || kpy_store_check(cfg.pipdir, KPY_KIND_SCRIPT, KPY_STORE_WRITABLE, &e) < 0)
		goto out;
	for (int i = 0; i < argc; i++) {
		char *archive = NULL;
		int fd;

		if (kpy_name_check(argv[i], "script environment key", &e) < 0 ||
		    (archive = kpy_store_path(cfg.pipdir, KPY_KIND_SCRIPT, argv[i])) == NULL)
			goto out;
		/* under the build lock: never removed from under a run that is saving it */
		if ((fd = kpy_lock_target(archive, &e)) < 0) {
			free(archive);
			goto out;
		}
		if (kpy_store_rm(cfg.pipdir, KPY_KIND_SCRIPT, argv[i], &e) < 0) {
			kpy_unlock_target(archive, fd);
			free(archive);
			goto out;
		}
		kpy_unlock_target(archive, fd);
		free(archive);
		say("removed the script environment %s", argv[i]);
	}
	rc = 0;
out:
	if (rc != 0)
		fail(&e);
	kpy_config_free(&cfg);
	return rc;
}
