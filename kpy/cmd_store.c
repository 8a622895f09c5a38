/* cmd_store.c: the commands that look at and prune the saved environments. */
#include "autoconfig.h"
#include "cmd.h"
#include "config.h"
#include "store.h"
#include "text.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* A manifest's Python version as people write it, escaped: virtualenv records
 * sys.version_info ("3.11.2.final.0"), which shows as 3.11.2 (3.13.0rc1, 3.12.0b2). */
static void show_version(char *buf, size_t size, const char *v)
{
	static const char *const levels[][2] = {
		{ "final", "" }, { "candidate", "rc" }, { "beta", "b" }, { "alpha", "a" },
	};
	char tmp[128];
	int a, b, c, n = 0;

	snprintf(tmp, sizeof(tmp), "%s", v);
	if (sscanf(v, "%d.%d.%d.%n", &a, &b, &c, &n) == 3 && n > 0) {
		for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
			size_t l = strlen(levels[i][0]);
			const char *serial = v + n + l + 1;
			if (strncmp(v + n, levels[i][0], l) == 0 && v[n + l] == '.' &&
			    strspn(serial, "0123456789") == strlen(serial) && *serial) {
				snprintf(tmp, sizeof(tmp), "%d.%d.%d%s%s", a, b, c, levels[i][1],
					 i == 0 ? "" : serial);
				break;
			}
		}
	}
	kpy_escape_to(buf, size, tmp);
}

/* The table of saved archives of KIND (venvs: name, Python, size, date; uv caches:
 * name, size, date, files, after a blank line if GAP, only when there are any), or
 * only their names; *COUNT gets how many. */
static int print_kind(const struct kpy_config *cfg, const char *kind, int names_only, int gap,
		      size_t *count, struct kpy_err *e)
{
	struct kpy_saved *v = NULL;
	char (*ver)[64] = NULL;
	size_t n = 0;
	int rc = -1, venv = strcmp(kind, KPY_KIND_VENV) == 0, wname = venv ? 4 : 8, wver = 6;

	if (kpy_store_list(cfg->pipdir, kind, 1, &v, &n, e) < 0)
		goto out;
	if (n > 0 && (ver = calloc(n, sizeof(*ver))) == NULL) {
		kpy_err_set(e, KPY_EFAIL, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (v[i].damaged)
			snprintf(ver[i], sizeof(ver[i]), "DAMAGED");
		else if (v[i].m.python_version != NULL)
			show_version(ver[i], sizeof(ver[i]), v[i].m.python_version);
		else
			snprintf(ver[i], sizeof(ver[i]), "-");
		if ((int)strlen(v[i].name) > wname)
			wname = (int)strlen(v[i].name);
		if ((int)strlen(ver[i]) > wver)
			wver = (int)strlen(ver[i]);
	}
	if (!names_only && venv)
		printf("%-*s  %-*s %8s  %s\n", wname, "NAME", wver, "PYTHON", "SIZE", "SAVED");
	else if (!names_only && n > 0)
		printf("%s%-*s  %8s  %-16s  %s\n", gap ? "\n" : "", wname, "UV CACHE", "SIZE", "SAVED",
		       "FILES");
	for (size_t i = 0; i < n; i++) {
		char size[16], date[32] = "?";

		if (names_only) {
			printf("%s\n", v[i].name);
			continue;
		}
		kpy_human_size(size, sizeof(size), (double)v[i].size);
		if (!v[i].damaged) {
			time_t t = (time_t)v[i].m.saved;
			struct tm tm;
			if (localtime_r(&t, &tm) != NULL)
				strftime(date, sizeof(date), "%Y-%m-%d %H:%M", &tm);
		}
		if (venv)
			printf("%-*s  %-*s %8s  %s\n", wname, v[i].name, wver, ver[i],
			       size, v[i].damaged ? "(unreadable manifest: see kpy(1), ARCHIVES)" : date);
		else if (v[i].damaged)
			printf("%-*s  %8s  %s\n", wname, v[i].name, size,
			       "DAMAGED (unreadable manifest: see kpy(1), ARCHIVES)");
		else
			printf("%-*s  %8s  %-16s  %lld\n", wname, v[i].name, size, date, v[i].m.files);
	}
	*count = n;
	rc = 0;
out:
	free(ver);
	kpy_saved_free(v, n);
	return rc;
}

int print_saved(const char *kind, int names_only)
{
	struct kpy_err e = KPY_ERR_INIT;
	struct kpy_config cfg = { 0 };
	size_t n = 0, nuv = 0;
	int rc = 1;
	struct stat st;

	if (kpy_config_load(&cfg, &e) < 0)
		goto out;
	if (kind == NULL || strcmp(kind, KPY_KIND_VENV) == 0) {
		if (print_kind(&cfg, KPY_KIND_VENV, names_only, 0, &n, &e) < 0)
			goto out;
	}
	/* both kinds unless asked for one; names alone are the venvs' (completion) */
	if ((kind == NULL && !names_only) || (kind != NULL && strcmp(kind, KPY_KIND_UV) == 0)) {
		if (print_kind(&cfg, KPY_KIND_UV, names_only, kind == NULL, &nuv, &e) < 0)
			goto out;
	}
	if (n + nuv == 0 && stat(cfg.pipdir, &st) < 0 && errno == ENOENT)
		say("the pipdir %s does not exist, so nothing is saved there: 'kpy save NAME' creates it; "
		    "if the saved environments are elsewhere, set 'kpy config pipdir PATH'", cfg.pipdir);
	else if (n == 0 && !names_only && (kind == NULL || strcmp(kind, KPY_KIND_VENV) == 0))
		say("no saved environments in %s: save the active one with 'kpy save NAME'", cfg.pipdir);
	else if (nuv == 0 && !names_only && kind != NULL && strcmp(kind, KPY_KIND_UV) == 0)
		say("no saved uv caches in %s: save one with 'kpy save --uv-cache NAME [DIR]'", cfg.pipdir);
	rc = 0;
out:
	if (rc != 0)
		fail(&e);
	kpy_config_free(&cfg);
	return rc;
}

int cmd_list(const struct cmd *self, const struct cmd_args *a)
{
	const char *kind = cmd_has(a, OPT_UV_CACHE) ? KPY_KIND_UV : NULL;
	int names = cmd_has(a, OPT_NAMES), rc;

	(void)self;
	if ((rc = print_saved(kind, names)) != 0 || names || kind != NULL)
		return rc;
	return print_script_envs();
}

int cmd_rm(const struct cmd *self, const struct cmd_args *a)
{
	struct kpy_err e = KPY_ERR_INIT;
	struct kpy_config cfg = { 0 };
	const char *kind = cmd_has(a, OPT_UV_CACHE) ? KPY_KIND_UV : KPY_KIND_VENV, *name = a->argv[0];
	int rc = 1;

	if (cmd_has(a, OPT_SCRIPT) && cmd_has(a, OPT_UV_CACHE))
		return usage_error(self, "--script removes script environments, --uv-cache uv caches: give one of them");
	if (cmd_has(a, OPT_SCRIPT))
		return rm_script_envs(a->argc, a->argv);
	if (kpy_config_load(&cfg, &e) < 0 || kpy_store_check(cfg.pipdir, kind, KPY_STORE_WRITABLE, &e) < 0 ||
	    kpy_store_rm(cfg.pipdir, kind, name, &e) < 0)
		goto out;
	say("removed %s%s", strcmp(kind, KPY_KIND_UV) == 0 ? "the uv cache " : "", name);
	rc = 0;
out:
	if (rc != 0)
		fail(&e);
	kpy_config_free(&cfg);
	return rc;
}
