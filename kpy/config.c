/* config.c: settings from the site file, the user file (INI via iniparser) and KPY_*. */
#include "autoconfig.h"
#include "config.h"
#include "tree.h"

#include <errno.h>
#include <iniparser.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif

const char *const kpy_config_keys[] = { "pipdir", "compute_hosts", "level", NULL };

int kpy_config_known(const char *key)
{
	for (int i = 0; kpy_config_keys[i] != NULL; i++)
		if (strcmp(key, kpy_config_keys[i]) == 0)
			return 1;
	return 0;
}

/* iniparser prints parse errors itself unless told not to; the core prints nothing. */
static int quiet(const char *fmt, ...)
{
	(void)fmt;
	return 0;
}

static char *home_dir(void)
{
	const char *h = getenv("HOME");
	struct passwd pw, *res = NULL;
	char buf[4096];

	if (h != NULL && h[0] == '/')
		return strdup(h);
	if (getpwuid_r(getuid(), &pw, buf, sizeof(buf), &res) == 0 && res != NULL)
		return strdup(pw.pw_dir);
	return NULL;
}

/* $VAR if set and absolute, else $HOME/FALLBACK; malloc'd. */
static char *xdg_dir(const char *var, const char *fallback)
{
	const char *v = getenv(var);
	char *home, *out = NULL;

	if (v != NULL && v[0] == '/')
		return strdup(v);
	home = home_dir();
	if (home != NULL && asprintf(&out, "%s/%s", home, fallback) < 0)
		out = NULL;
	free(home);
	return out;
}

char *kpy_config_user_path(struct kpy_err *e)
{
	char *dir = xdg_dir("XDG_CONFIG_HOME", ".config"), *out = NULL;

	if (dir == NULL || asprintf(&out, "%s/kpy/config.ini", dir) < 0) {
		out = NULL;
		kpy_err_set(e, KPY_EFAIL, "cannot find your home directory: set HOME");
	}
	free(dir);
	return out;
}

/* "~/x" becomes "$HOME/x"; malloc'd. */
static char *expand(const char *v)
{
	char *home, *out = NULL;

	if (v[0] != '~' || (v[1] != '/' && v[1] != '\0'))
		return strdup(v);
	home = home_dir();
	if (home != NULL && asprintf(&out, "%s%s", home, v + 1) < 0)
		out = NULL;
	free(home);
	return out;
}

static int apply(struct kpy_config *c, const char *key, const char *val, const char *from,
		 struct kpy_err *e)
{
	if (strcmp(key, "pipdir") == 0) {
		char *p = expand(val);
		if (p == NULL)
			return kpy_err_set(e, KPY_EFAIL, "out of memory");
		if (p[0] != '/') {
			free(p);
			return kpy_err_set(e, KPY_EINVAL, "pipdir '%s' (from %s) is not an absolute path: set it with 'kpy config pipdir /absolute/path'", val, from);
		}
		free(c->pipdir);
		c->pipdir = p;
	} else if (strcmp(key, "compute_hosts") == 0) {
		free(c->compute_hosts);
		c->compute_hosts = val[0] ? strdup(val) : NULL;
	} else if (strcmp(key, "level") == 0) {
		char *end;
		long l = strtol(val, &end, 10);
		if (*val == '\0' || *end != '\0' || l < 1 || l > 19)
			return kpy_err_set(e, KPY_EINVAL, "level '%s' (from %s) is not a number from 1 to 19", val, from);
		c->level = (int)l;
	}
	return 0;
}

static int load_file(struct kpy_config *c, const char *path, struct kpy_err *e)
{
	dictionary *d;
	int rv = -1;

	if (access(path, F_OK) < 0)
		return 0;
	iniparser_set_error_callback(quiet);
	d = iniparser_load(path);
	if (d == NULL)
		return kpy_err_set(e, KPY_EINVAL, "cannot read the configuration file %s: check that it is readable INI with a [kpy] section", path);
	for (int i = 0; kpy_config_keys[i] != NULL; i++) {
		char k[64];
		const char *v;

		snprintf(k, sizeof(k), "kpy:%s", kpy_config_keys[i]);
		v = iniparser_getstring(d, k, NULL);
		if (v == NULL) { /* a key above any section counts as [kpy] */
			snprintf(k, sizeof(k), ":%s", kpy_config_keys[i]);
			v = iniparser_getstring(d, k, NULL);
		}
		if (v != NULL && apply(c, kpy_config_keys[i], v, path, e) < 0)
			goto fail;
	}
	rv = 0;
fail:
	iniparser_freedict(d);
	return rv;
}

int kpy_config_load(struct kpy_config *c, struct kpy_err *e)
{
	static const char *const envs[][2] = {
		{ "KPY_PIPDIR", "pipdir" }, { "KPY_COMPUTE_HOSTS", "compute_hosts" },
		{ "KPY_LEVEL", "level" },
	};
	const char *site = getenv("KPY_SITE_CONFIG");
	char *user = NULL;

	memset(c, 0, sizeof(*c));
	c->level = 3;
	c->pipdir = xdg_dir("XDG_DATA_HOME", ".local/share");
	if (c->pipdir != NULL) {
		char *p = NULL;
		if (asprintf(&p, "%s/kpy", c->pipdir) < 0)
			p = NULL;
		free(c->pipdir);
		c->pipdir = p;
	}
	if (load_file(c, site != NULL && site[0] ? site : SYSCONFDIR "/kpy.conf", e) < 0)
		goto fail;
	user = kpy_config_user_path(e);
	if (user == NULL || load_file(c, user, e) < 0)
		goto fail;
	for (size_t i = 0; i < sizeof(envs) / sizeof(envs[0]); i++) {
		const char *v = getenv(envs[i][0]);
		if (v != NULL && v[0] != '\0' && apply(c, envs[i][1], v, envs[i][0], e) < 0)
			goto fail;
	}
	if (c->pipdir == NULL) {
		kpy_err_set(e, KPY_EINVAL, "no pipdir: set HOME, or KPY_PIPDIR, or 'kpy config pipdir PATH'");
		goto fail;
	}
	free(user);
	return 0;
fail:
	free(user);
	kpy_config_free(c);
	return -1;
}

void kpy_config_free(struct kpy_config *c)
{
	free(c->pipdir);
	free(c->compute_hosts);
	memset(c, 0, sizeof(*c));
}

int kpy_config_set(const char *key, const char *value, struct kpy_err *e)
{
	struct kpy_config check = { 0 };
	char *path = NULL, *dir = NULL, *tmp = NULL, *slash;
	dictionary *d = NULL;
	FILE *f = NULL;
	int rv = -1, fd;
	char k[64];

	if (!kpy_config_known(key))
		return kpy_err_set(e, KPY_EINVAL, "unknown setting '%s': the settings are pipdir, compute_hosts, level", key);
	if (value != NULL && strpbrk(value, "\n#;") != NULL)
		return kpy_err_set(e, KPY_EINVAL, "the value for %s cannot hold a newline, '#' or ';' (INI comments): choose another", key);
	if (value != NULL && apply(&check, key, value, "the command line", e) < 0) {
		kpy_config_free(&check);
		return -1;
	}
	kpy_config_free(&check);
	if ((path = kpy_config_user_path(e)) == NULL)
		goto fail;
	if ((dir = strdup(path)) == NULL || (slash = strrchr(dir, '/')) == NULL)
		goto fail;
	*slash = '\0';
	if (kpy_mkdirs(dir, 0755, e) < 0)
		goto fail;
	iniparser_set_error_callback(quiet);
	d = access(path, F_OK) == 0 ? iniparser_load(path) : dictionary_new(0);
	if (d == NULL) {
		kpy_err_set(e, KPY_EINVAL, "cannot read %s: fix or remove it", path);
		goto fail;
	}
	iniparser_set(d, "kpy", NULL);
	snprintf(k, sizeof(k), "kpy:%s", key);
	if (value != NULL)
		iniparser_set(d, k, value);
	else
		iniparser_unset(d, k);
	if (asprintf(&tmp, "%s.tmpXXXXXX", path) < 0) {
		tmp = NULL;
		goto fail;
	}
	if ((fd = mkstemp(tmp)) < 0 || (f = fdopen(fd, "w")) == NULL) {
		kpy_err_sys(e, errno, "cannot write %s", path);
		goto fail;
	}
	fchmod(fd, 0644);
	iniparser_dump_ini(d, f);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
		kpy_err_sys(e, errno, "cannot write %s", path);
		goto fail;
	}
	if (fclose(f) != 0) {
		f = NULL;
		kpy_err_sys(e, errno, "cannot write %s", path);
		goto fail;
	}
	f = NULL;
	if (rename(tmp, path) < 0) {
		kpy_err_sys(e, errno, "cannot replace %s", path);
		goto fail;
	}
	free(tmp);
	tmp = NULL;
	rv = 0;
fail:
	if (rv < 0 && e->code == KPY_OK)
		kpy_err_set(e, KPY_EFAIL, "cannot update the configuration file");
	if (f != NULL)
		fclose(f);
	if (tmp != NULL)
		unlink(tmp);
	if (d != NULL)
		iniparser_freedict(d);
	free(tmp);
	free(dir);
	free(path);
	return rv;
}
