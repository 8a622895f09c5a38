/* cmd_env.c: the commands that make, save, restore and activate environments. */
#include "autoconfig.h"
#include "cmd.h"
#include "archive.h"
#include "config.h"
#include "live.h"
#include "store.h"
#include "text.h"
#include "tree.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* After create, load or save: activate through the shell function, or say how. */
static void activate(const char *path, int explain)
{
	if (hand_over(path) < 0 && explain)
		say("activate it with: source %s/bin/activate   (or set up the shell function with eval \"$(kpy bash)\" to have kpy do it)", path);
}

static int opt_end(const char *cmd, int argc, char **argv, int *i)
{
	/* no options left: reject anything that looks like one */
	for (; *i < argc; (*i)++) {
		if (strcmp(argv[*i], "--") == 0) {
			(*i)++;
			break;
		}
		if (argv[*i][0] == '-' && argv[*i][1] != '\0')
			return usage_error(cmd, "unknown option '%s'", argv[*i]);
		break;
	}
	return 0;
}

static char *live_path(const char *name, char **root_out, struct kpy_err *e)
{
	char *root = kpy_live_root(e), *path = NULL;

	if (root == NULL)
		return NULL;
	if (asprintf(&path, "%s/%s", root, name) < 0) {
		path = NULL;
		kpy_err_set(e, KPY_EFAIL, "out of memory");
	}
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

int cmd_create(int argc, char **argv)
{
	struct kpy_err e = KPY_ERR_INIT;
	const char *version = NULL, *name = NULL;
	char *root = NULL, *path = NULL, *placeholder = NULL, python[32];
	int i = 1, rc = 1;
	struct stat st;

	if (wants_help("create", argc, argv))
		return 0;
	if ((rc = opt_end("create", argc, argv, &i)) != 0)
		return rc;
	rc = 1;
	if (i < argc && (is_version(argv[i]) || strcmp(argv[i], "3") == 0))
		version = argv[i++];
	else if (i < argc && argv[i][0] >= '0' && argv[i][0] <= '9' && strchr(argv[i], '.'))
		return usage_error("create", "'%s' is not a Python version of the form 3.x (for example 3.11)", argv[i]);
	if (i < argc)
		name = argv[i++];
	if (i < argc && version == NULL && (is_version(argv[i]) || strcmp(argv[i], "3") == 0))
		return usage_error("create", "the Python version comes first: kpy create %s %s", argv[i], name);
	if (i < argc)
		return usage_error("create", "too many arguments");
	if (name != NULL && kpy_name_check(name, "environment name", &e) < 0)
		return fail(&e);
	if ((root = kpy_live_root(&e)) == NULL || kpy_live_root_make(root, &e) < 0)
		goto out;
	if (name == NULL && (name = placeholder = kpy_live_placeholder(root, &e)) == NULL)
		goto out;
	if (asprintf(&path, "%s/%s", root, name) < 0) {
		path = NULL;
		goto out;
	}
	if (lstat(path, &st) == 0) {
		kpy_err_set(&e, KPY_EEXIST, "an environment named '%s' already exists at %s: activate it with 'kpy activate %s', or choose another name", name, path, name);
		goto out;
	}
	if (version == NULL || strcmp(version, "3") == 0)
		snprintf(python, sizeof(python), "python3");
	else
		snprintf(python, sizeof(python), "python%s", version);
	if (kpy_venv_create(python, path, name, &e) < 0)
		goto out;
	say("created %s at %s", name, path);
	activate(path, 1);
	rc = 0;
out:
	if (rc != 0)
		fail(&e);
	free(placeholder);
	free(root);
	free(path);
	return rc;
}

static void human(char *buf, size_t n, double bytes)
{
	const char *units = "BKMGTP";
	int u = 0;

	while (bytes >= 1024 && u < 5)
		bytes /= 1024, u++;
	snprintf(buf, n, u == 0 ? "%.0f%c" : "%.1f%c", bytes, units[u]);
}

int cmd_save(int argc, char **argv)
{
	struct kpy_err e = KPY_ERR_INIT, warn = KPY_ERR_INIT;
	struct kpy_config cfg = { 0 };
	struct kpy_save_opts o = { 0 };
	struct kpy_manifest m = { 0 };
	const char *venv = getenv("VIRTUAL_ENV");
	char *dest = NULL;
	int i, rc = 1;
	double t0;

	if (wants_help("save", argc, argv))
		return 0;
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-f") == 0 || strcmp(argv[i], "--force") == 0)
			o.force = 1;
		else if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		} else if (argv[i][0] == '-' && argv[i][1] != '\0')
			return usage_error("save", "unknown option '%s'", argv[i]);
		else if (o.name == NULL)
			o.name = argv[i];
		else
			return usage_error("save", "too many arguments");
	}
	if (i < argc && o.name == NULL)
		o.name = argv[i++];
	if (i < argc)
		return usage_error("save", "too many arguments");
	if (o.name == NULL)
		return usage_error("save", "give the name to save the active environment under");
	if (kpy_name_check(o.name, "environment name", &e) < 0)
		return fail(&e);
	if (venv == NULL || venv[0] == '\0') {
		say("no active virtual environment to save: activate one first (kpy activate NAME, or source ENV/bin/activate)");
		return 1;
	}
	if (kpy_config_load(&cfg, &e) < 0 || kpy_store_check(cfg.pipdir, KPY_KIND_VENV, 1, 1, &e) < 0)
		goto out;
	if ((dest = kpy_store_path(cfg.pipdir, KPY_KIND_VENV, o.name)) == NULL)
		goto out;
	o.level = cfg.level;
	t0 = now();
	if (kpy_archive_save(venv, dest, &o, &warn, &e) < 0)
		goto out;
	if (warn.code != KPY_OK)
		say("warning: the archive is saved, but the live env was not updated (%s); its prompt still shows the old name", warn.msg);
	struct stat st;
	char in[16], outs[16];
	if (kpy_archive_manifest(dest, &m, &e) == 0 && stat(dest, &st) == 0) {
		human(in, sizeof(in), (double)m.bytes);
		human(outs, sizeof(outs), (double)st.st_size);
		say("saved %s to %s (%lld files, %s -> %s) in %.1f s", o.name, dest, m.files, in, outs, now() - t0);
	}
	activate(venv, 0);
	rc = 0;
out:
	if (rc != 0)
		fail(&e);
	kpy_manifest_free(&m);
	kpy_config_free(&cfg);
	free(dest);
	return rc;
}

/* Archive path of the saved NAME, checking the pipdir and the name. */
static char *saved_path(const struct kpy_config *cfg, const char *name, struct kpy_err *e)
{
	char *path;

	if (kpy_store_check(cfg->pipdir, KPY_KIND_VENV, 0, 0, e) < 0)
		return NULL;
	if ((path = kpy_store_path(cfg->pipdir, KPY_KIND_VENV, name)) == NULL) {
		kpy_err_set(e, KPY_EFAIL, "out of memory");
		return NULL;
	}
	if (access(path, F_OK) < 0) {
		kpy_store_missing(cfg->pipdir, KPY_KIND_VENV, name, e);
		free(path);
		return NULL;
	}
	return path;
}

int cmd_load(int argc, char **argv)
{
	struct kpy_err e = KPY_ERR_INIT;
	struct kpy_config cfg = { 0 };
	const char *name = NULL, *as = NULL;
	char *archive = NULL, *root = NULL, *path = NULL;
	int rc = 1;
	struct stat st;
	double t0;

	if (wants_help("load", argc, argv))
		return 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--as") == 0) {
			if (++i == argc)
				return usage_error("load", "--as needs a name");
			as = argv[i];
		} else if (strncmp(argv[i], "--as=", 5) == 0) {
			as = argv[i] + 5;
		} else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			return usage_error("load", "unknown option '%s'", argv[i]);
		} else if (name == NULL) {
			name = argv[i];
		} else {
			return usage_error("load", "too many arguments");
		}
	}
	if (name == NULL) {
		if (as != NULL)
			return usage_error("load", "--as needs the NAME of a saved environment");
		return print_saved(0);
	}
	if (kpy_name_check(name, "environment name", &e) < 0 ||
	    (as != NULL && kpy_name_check(as, "name given to --as", &e) < 0))
		return fail(&e);
	if (as == NULL)
		as = name;
	if (kpy_config_load(&cfg, &e) < 0 || (archive = saved_path(&cfg, name, &e)) == NULL)
		goto out;
	if ((path = live_path(as, &root, &e)) == NULL || kpy_live_root_make(root, &e) < 0)
		goto out;
	if (lstat(path, &st) == 0) {
		if (strcmp(as, name) == 0)
			kpy_err_set(&e, KPY_EEXIST, "an environment named '%s' is already loaded at %s: activate it with 'kpy activate %s', or load another copy with 'kpy load %s --as NEWNAME'", as, path, as, name);
		else
			kpy_err_set(&e, KPY_EEXIST, "an environment named '%s' already exists at %s: activate it with 'kpy activate %s', or choose another name for --as", as, path, as);
		goto out;
	}
	t0 = now();
	if (kpy_archive_restore(archive, path, as, NULL, &e) < 0)
		goto out;
	if (strcmp(as, name) == 0)
		say("loaded %s into %s in %.2f s", name, path, now() - t0);
	else
		say("loaded %s as %s into %s in %.2f s", name, as, path, now() - t0);
	activate(path, 1);
	rc = 0;
out:
	if (rc != 0)
		fail(&e);
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
		saved = kpy_store_path(cfg.pipdir, KPY_KIND_VENV, name);
	if (saved != NULL && access(saved, F_OK) == 0) {
		snprintf(hint, sizeof(hint), "; a saved environment of that name exists: load it with 'kpy load %s'", name);
	} else if (near == NULL) {
		struct kpy_saved *v = NULL;
		const char **cands = NULL, *s = NULL;
		size_t n = 0;
		if (cfg.pipdir != NULL && kpy_store_list(cfg.pipdir, KPY_KIND_VENV, &v, &n, &ignore) == 0 &&
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

int cmd_activate(int argc, char **argv)
{
	struct kpy_err e = KPY_ERR_INIT;
	char *root = NULL, *path = NULL, **names = NULL, act[PATH_MAX];
	int i = 1, rc;

	if (wants_help("activate", argc, argv))
		return 0;
	if ((rc = opt_end("activate", argc, argv, &i)) != 0)
		return rc;
	if (argc - i > 1)
		return usage_error("activate", "too many arguments");
	rc = 1;
	if ((root = kpy_live_root(&e)) == NULL)
		goto out;
	if (i == argc) {
		if (kpy_live_list(root, &names, &e) < 0)
			goto out;
		for (size_t k = 0; names[k]; k++)
			printf("%s\n", names[k]);
		if (names[0] == NULL && isatty(STDOUT_FILENO))
			say("no environments in %s: make one with 'kpy create' or 'kpy load NAME'", root);
		rc = 0;
		goto out;
	}
	if (kpy_name_check(argv[i], "environment name", &e) < 0)
		goto out;
	if (asprintf(&path, "%s/%s", root, argv[i]) < 0) {
		path = NULL;
		goto out;
	}
	snprintf(act, sizeof(act), "%s/bin/activate", path);
	if (access(act, R_OK) < 0) {
		not_live(root, argv[i], &e);
		goto out;
	}
	if (hand_over(path) < 0) {
		printf("source %s/bin/activate\n", path);
		if (isatty(STDOUT_FILENO)) /* not when captured, as in eval "$(kpy activate X)" */
			say("kpy cannot change this shell by itself: run the line above, or set up the shell function with eval \"$(kpy bash)\"");
	}
	rc = 0;
out:
	if (rc != 0)
		fail(&e);
	kpy_strv_free(names);
	free(root);
	free(path);
	return rc;
}

/* Remove the empty directories PARENT and its ancestors down to TOP, which export
 * made for a restore that then failed. */
static void unmake_parents(const char *parent, const char *top)
{
	char p[PATH_MAX], *slash;

	snprintf(p, sizeof(p), "%s", parent);
	while (strlen(p) >= strlen(top) && rmdir(p) == 0 && (slash = strrchr(p, '/')) != NULL)
		*slash = '\0';
}

int cmd_export(int argc, char **argv)
{
	struct kpy_err e = KPY_ERR_INIT;
	struct kpy_config cfg = { 0 };
	char *archive = NULL, cwd[PATH_MAX], dest[PATH_MAX + NAME_MAX + 2];
	char copy[PATH_MAX], top[PATH_MAX] = "", *slash, *base;
	int i = 1, rc;
	struct stat st;

	if (wants_help("export", argc, argv))
		return 0;
	if ((rc = opt_end("export", argc, argv, &i)) != 0)
		return rc;
	if (argc - i != 2)
		return usage_error("export", "give the saved NAME and the PATH to restore it to");
	rc = 1;
	if (kpy_name_check(argv[i], "environment name", &e) < 0)
		return fail(&e);
	/* the new prefix: the parent's real path plus the last component; a relative
	 * PATH is taken from the working directory (kpy_mkdirs wants absolute paths) */
	if (argv[i + 1][0] != '/') {
		if (getcwd(cwd, sizeof(cwd)) == NULL) {
			kpy_err_sys(&e, errno, "cannot export to %s", argv[i + 1]);
			return fail(&e);
		}
		if (snprintf(copy, sizeof(copy), "%s/%s", strcmp(cwd, "/") ? cwd : "", argv[i + 1]) >= (int)sizeof(copy))
			return usage_error("export", "PATH is too long");
	} else if (snprintf(copy, sizeof(copy), "%s", argv[i + 1]) >= (int)sizeof(copy)) {
		return usage_error("export", "PATH is too long");
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
		return usage_error("export", "PATH must name a new directory");
	if (kpy_config_load(&cfg, &e) < 0 || (archive = saved_path(&cfg, argv[i], &e)) == NULL)
		goto out;
	if (slash != NULL && slash != copy && stat(copy, &st) < 0 && errno == ENOENT) {
		/* missing parents are made (0755 less the umask), like mkdir -p */
		char *s2;
		snprintf(top, sizeof(top), "%s", copy);
		while ((s2 = strrchr(top, '/')) != NULL && s2 != top) {
			*s2 = '\0';
			if (stat(top, &st) == 0) {
				*s2 = '/';
				break;
			}
		}
		if (kpy_mkdirs(copy, 0755, &e) < 0) {
			top[0] = '\0';
			goto out;
		}
	}
	if (slash != copy && realpath(slash ? copy : ".", cwd) == NULL) {
		kpy_err_sys(&e, errno, "cannot export to %s", argv[i + 1]);
		goto out;
	}
	if (snprintf(dest, sizeof(dest), "%s/%s", strcmp(cwd, "/") ? cwd : "", base) >= (int)sizeof(dest)) {
		rc = usage_error("export", "PATH is too long");
		goto out;
	}
	if (kpy_archive_restore(archive, dest, NULL, NULL, &e) < 0)
		goto out;
	say("exported %s to %s", argv[i], dest);
	rc = 0;
out:
	if (rc == 1) {
		fail(&e);
		if (top[0] != '\0')
			unmake_parents(copy, top);
	}
	kpy_config_free(&cfg);
	free(archive);
	return rc;
}
