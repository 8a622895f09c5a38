/* cmd_store.c: the commands that look at and prune the saved environments. */
#include "autoconfig.h"
#include "cmd.h"
#include "buf.h"
#include "config.h"
#include "live.h"
#include "store.h"
#include "text.h"

#include <errno.h>
#include <limits.h>
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

static int listed(const struct kpy_saved *v, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].name, name) == 0)
			return 1;
	return 0;
}

/* What print_kind lists: the archives of KIND in DIR (the user's pipdir, or with SITE
 * the site pipdir DIR), a blank line first if GAP. MINE (NMINE) are the user's own of
 * KIND: a site name among them shows as site:NAME, the way to load it; with
 * NAMES_ONLY, a site name among EARLIER (NEARLIER, earlier site pipdirs') is left out,
 * as load never reaches it. */
struct listing {
	const char *dir, *kind;
	int names_only, gap, site;
	const struct kpy_saved *mine, *earlier;
	size_t nmine, nearlier;
};

/* The table of saved archives (venvs: name, Python, size, date; uv caches: name,
 * size, date, files, only when there are any; a site's, only when there are any,
 * under its title), or only their names. *OUT and *COUNT get the list (free with
 * kpy_saved_free). */
static int print_kind(const struct listing *l, struct kpy_saved **out, size_t *count,
		      struct kpy_err *e)
{
	struct kpy_saved *v = NULL;
	char (*ver)[64] = NULL, (*shown)[KPY_NAME_MAX + 8] = NULL;
	size_t n = 0;
	int rc = -1, venv = strcmp(l->kind, KPY_KIND_VENV) == 0, wname = venv ? 4 : 8, wver = 6;

	*out = NULL;
	*count = 0;
	if (kpy_store_list(l->dir, l->kind, 1, &v, &n, e) < 0)
		goto out;
	if (n > 0 && ((ver = calloc(n, sizeof(*ver))) == NULL || (shown = calloc(n, sizeof(*shown))) == NULL)) {
		kpy_err_set(e, KPY_EFAIL, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		snprintf(shown[i], sizeof(shown[i]), "%s%s",
			 l->site && listed(l->mine, l->nmine, v[i].name) ? KPY_SITE_PREFIX : "", v[i].name);
		if (v[i].damaged)
			snprintf(ver[i], sizeof(ver[i]), "DAMAGED");
		else if (v[i].m.python_version != NULL)
			show_version(ver[i], sizeof(ver[i]), v[i].m.python_version);
		else
			snprintf(ver[i], sizeof(ver[i]), "-");
		if ((int)strlen(shown[i]) > wname)
			wname = (int)strlen(shown[i]);
		if ((int)strlen(ver[i]) > wver)
			wver = (int)strlen(ver[i]);
	}
	if (!l->names_only && l->site && n > 0) {
		char dir[PATH_MAX];
		kpy_escape_to(dir, sizeof(dir), l->dir);
		printf("\nsite %s (%s):\n", venv ? "envs" : "uv caches", dir);
	}
	if (!l->names_only && venv && (!l->site || n > 0))
		printf("%-*s  %-*s %8s  %s\n", wname, "NAME", wver, "PYTHON", "SIZE", "SAVED");
	else if (!l->names_only && n > 0)
		printf("%s%-*s  %8s  %-16s  %s\n", l->gap && !l->site ? "\n" : "", wname, "UV CACHE", "SIZE", "SAVED",
		       "FILES");
	for (size_t i = 0; i < n; i++) {
		char size[16], date[32] = "?";

		if (l->names_only) {
			if (!l->site || listed(l->mine, l->nmine, v[i].name) || !listed(l->earlier, l->nearlier, v[i].name))
				printf("%s\n", shown[i]);
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
			printf("%-*s  %-*s %8s  %s\n", wname, shown[i], wver, ver[i],
			       size, v[i].damaged ? "(unreadable manifest: see kpy(1), ARCHIVES)" : date);
		else if (v[i].damaged)
			printf("%-*s  %8s  %s\n", wname, shown[i], size,
			       "DAMAGED (unreadable manifest: see kpy(1), ARCHIVES)");
		else
			printf("%-*s  %8s  %-16s  %lld\n", wname, shown[i], size, date, v[i].m.files);
	}
	*out = v;
	*count = n;
	v = NULL;
	n = 0;
	rc = 0;
out:
	free(ver);
	free(shown);
	kpy_saved_free(v, n);
	return rc;
}

/* The site sections of KIND after the user's MINE: each site pipdir's archives. A
 * site pipdir that cannot be read is, with WARN, a warning naming it: the user's own
 * listing stands. */
static void print_site_kind(const struct kpy_config *cfg, const char *kind, int names_only,
			    const struct kpy_saved *mine, size_t nmine, int warn)
{
	struct kpy_saved *seen = NULL;
	size_t nseen = 0, cap = 0;
	char **dirs = kpy_site_dirs(cfg->site_pipdir);

	for (size_t i = 0; dirs != NULL && dirs[i] != NULL; i++) {
		struct kpy_err e = KPY_ERR_INIT;
		struct listing l = { dirs[i], kind, names_only, 1, 1, mine, seen, nmine, nseen };
		struct kpy_saved *v = NULL;
		size_t n = 0;

		if (kpy_site_check(dirs[i], 0, &e) < 0 || print_kind(&l, &v, &n, &e) < 0) {
			fflush(stdout);
			if (warn)
				say("warning: cannot list the site store: %s (ask your admin)", e.msg);
			continue;
		}
		/* the names seen so far, for the next site pipdirs */
		for (size_t k = 0; k < n; k++) {
			struct kpy_saved *nv = kpy_grow(seen, &cap, nseen, sizeof(*seen), 16);
			if (nv == NULL)
				break;
			seen = nv;
			memset(&seen[nseen], 0, sizeof(seen[nseen]));
			seen[nseen].name = v[k].name;
			v[k].name = NULL;
			nseen++;
		}
		kpy_saved_free(v, n);
	}
	kpy_saved_free(seen, nseen);
	kpy_strv_free(dirs);
}

/* print_saved, with MINE the user's own sections, with SITE the site's. */
static int print_saved_part(const char *kind, int names_only, int mine, int site)
{
	struct kpy_err e = KPY_ERR_INIT;
	struct kpy_config cfg = { 0 };
	struct kpy_saved *v = NULL, *uv = NULL;
	size_t n = 0, nuv = 0;
	int rc = 1, venvs = kind == NULL || strcmp(kind, KPY_KIND_VENV) == 0;
	/* both kinds unless asked for one; names alone are the venvs' (completion) */
	int uvs = (kind == NULL && !names_only) || (kind != NULL && strcmp(kind, KPY_KIND_UV) == 0);
	struct stat st;

	if (kpy_config_load(&cfg, &e) < 0)
		goto out;
	if (!mine) { /* only the names, that site names shadowed by them show as site:NAME */
		struct kpy_err ignore = KPY_ERR_INIT;
		if (venvs)
			kpy_store_list(cfg.pipdir, KPY_KIND_VENV, 0, &v, &n, &ignore);
		if (uvs)
			kpy_store_list(cfg.pipdir, KPY_KIND_UV, 0, &uv, &nuv, &ignore);
	}
	if (mine && venvs) {
		struct listing l = { cfg.pipdir, KPY_KIND_VENV, names_only, 0, 0, NULL, NULL, 0, 0 };
		if (print_kind(&l, &v, &n, &e) < 0)
			goto out;
	}
	if (mine && uvs) {
		struct listing l = { cfg.pipdir, KPY_KIND_UV, names_only, kind == NULL, 0, NULL, NULL, 0, 0 };
		if (print_kind(&l, &uv, &nuv, &e) < 0)
			goto out;
	}
	if (mine) {
		if (n + nuv == 0 && stat(cfg.pipdir, &st) < 0 && errno == ENOENT)
			say("the pipdir %s does not exist, so nothing is saved there: 'kpy save NAME' creates it; "
			    "if the saved environments are elsewhere, set 'kpy config pipdir PATH'", cfg.pipdir);
		else if (n == 0 && !names_only && venvs)
			say("no saved environments in %s: save the active one with 'kpy save NAME'", cfg.pipdir);
		else if (nuv == 0 && !names_only && kind != NULL && strcmp(kind, KPY_KIND_UV) == 0)
			say("no saved uv caches in %s: save one with 'kpy save --uv-cache NAME [DIR]'", cfg.pipdir);
	}
	if (site && venvs)
		print_site_kind(&cfg, KPY_KIND_VENV, names_only, v, n, 1);
	if (site && uvs) /* a site pipdir's warning once, not once per kind */
		print_site_kind(&cfg, KPY_KIND_UV, names_only, uv, nuv, !venvs);
	rc = fflush(stdout) == 0 ? 0 : 1;
out:
	if (rc != 0)
		fail(&e);
	kpy_saved_free(v, n);
	kpy_saved_free(uv, nuv);
	kpy_config_free(&cfg);
	return rc;
}

int print_saved(const char *kind, int names_only)
{
	return print_saved_part(kind, names_only, 1, 1);
}

int cmd_list(const struct cmd *self, const struct cmd_args *a)
{
	const char *kind = cmd_has(a, OPT_UV_CACHE) ? KPY_KIND_UV : NULL;
	int names = cmd_has(a, OPT_NAMES), rc;

	(void)self;
	if (names || kind != NULL)
		return print_saved(kind, names);
	/* the user's own (envs, uv caches, script envs), then the site's */
	if ((rc = print_saved_part(NULL, 0, 1, 0)) != 0 || (rc = print_script_envs()) != 0)
		return rc;
	return print_saved_part(NULL, 0, 0, 1);
}

int cmd_rm(const struct cmd *self, const struct cmd_args *a)
{
	struct kpy_err e = KPY_ERR_INIT;
	struct kpy_config cfg = { 0 };
	const char *kind = cmd_has(a, OPT_UV_CACHE) ? KPY_KIND_UV : KPY_KIND_VENV, *name = a->argv[0];
	const char *opt = cmd_has(a, OPT_UV_CACHE) ? "--uv-cache " : "";
	char *site = NULL;
	int rc = 1;

	if (cmd_has(a, OPT_SCRIPT) && cmd_has(a, OPT_UV_CACHE))
		return usage_error(self, "--script removes script environments, --uv-cache uv caches: give one of them");
	if (cmd_has(a, OPT_SCRIPT) && cmd_has(a, OPT_SITE))
		return usage_error(self, "--script removes your own script environments; the site store has none");
	if (cmd_has(a, OPT_SCRIPT))
		return rm_script_envs(a->argc, a->argv);
	if (kpy_store_bare(name) != name) {
		say("cannot remove '%s': the site store is read-only for users (its admins remove there with "
		    "'kpy rm --site %s%s'); 'kpy rm %s%s' removes your own", name, opt, kpy_store_bare(name), opt,
		    kpy_store_bare(name));
		return 1;
	}
	if (kpy_config_load(&cfg, &e) < 0)
		goto out;
	if (cmd_has(a, OPT_SITE)) {
		char **dirs = kpy_site_dirs(cfg.site_pipdir);
		if (dirs == NULL || (dirs[0] != NULL && (site = strdup(dirs[0])) == NULL))
			kpy_err_set(&e, KPY_EFAIL, "out of memory");
		else if (dirs[0] == NULL)
			kpy_err_set(&e, KPY_ESITE, "--site removes from the site store, but no site_pipdir is set in the site configuration");
		kpy_strv_free(dirs);
		if (site == NULL || kpy_site_check(site, KPY_STORE_WRITABLE, &e) < 0)
			goto out;
	}
	if (kpy_store_check(site ? site : cfg.pipdir, kind, KPY_STORE_WRITABLE, &e) < 0 ||
	    kpy_store_rm(site ? site : cfg.pipdir, kind, name, &e) < 0) {
		char *found = NULL, *there = NULL;
		struct kpy_err ignore = KPY_ERR_INIT;
		/* the name a load finds in the site store is not the user's to remove */
		if (site == NULL && e.code == KPY_ENOSAVED &&
		    (there = kpy_store_lookup(cfg.pipdir, cfg.site_pipdir, kind, name, &found, &ignore)) != NULL &&
		    strcmp(found, cfg.pipdir) != 0)
			snprintf(e.msg + strlen(e.msg), sizeof(e.msg) - strlen(e.msg),
				 " (the site store %s has '%s', which is read-only for you)", found, name);
		free(found);
		free(there);
		goto out;
	}
	say("removed %s%s%s%s", strcmp(kind, KPY_KIND_UV) == 0 ? "the uv cache " : "", name,
	    site ? " from the site store " : "", site ? site : "");
	rc = 0;
out:
	if (rc != 0)
		fail(&e);
	kpy_config_free(&cfg);
	free(site);
	return rc;
}
