/* config.c: settings from the site file, the user file (INI via iniparser) and KPY_*. */
#include "autoconfig.h"
#include "config.h"
#include "buf.h"
#include "fdio.h"
#include "publish.h"
#include "passwd.h"
#include "text.h"
#include "threads.h"
#include "tree.h"

#define CONFIG_MAX (1 << 20) /* a configuration file larger than this is not one */

#include <errno.h>
#include <fcntl.h>
#include <iniparser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif

/* The settings: key, what it is for, its default. This is the one list: the loader,
 * `kpy config`, `kpy help config`, "did you mean" and the shell completion (through
 * `kpy config --keys`) read it; the man pages follow it by hand (tests/cmd/args.sh
 * checks that they name every key). */
#define CONFIG_KEYS(X)                                                        \
	X("pipdir", "where the archives are kept", "$XDG_DATA_HOME/kpy")      \
	X("compute_hosts", "host patterns (cn* gpu*) where pip goes offline", \
	  "none")                                                             \
	X("level", "zstd level 1-19 for save", "3")                           \
	X("site_pipdir", "admins' read-only stores (site file only)",         \
	  "none")                                                             \
	X("threads", "threads for save and load, 1-64", "auto")
#define KEY_ENTRY(key, about, dflt) { key, about, dflt },
#define KEY_NAME(key, about, dflt) key,
const struct kpy_config_key kpy_config_table[] = { CONFIG_KEYS(KEY_ENTRY){ NULL, NULL, NULL } };
const char *const kpy_config_keys[] = { CONFIG_KEYS(KEY_NAME) NULL };

int kpy_config_known(const char *key)
{
	for (int i = 0; kpy_config_keys[i] != NULL; i++)
		if (strcmp(key, kpy_config_keys[i]) == 0)
			return 1;
	return 0;
}

int kpy_config_check_key(const char *key, struct kpy_err *e)
{
	const char *near;
	char list[256] = "";
	size_t len = 0;

	if (kpy_config_known(key))
		return 0;
	for (int i = 0; kpy_config_keys[i] != NULL && len < sizeof(list); i++)
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s", i ? ", " : "", kpy_config_keys[i]);
	if ((near = kpy_suggest(key, kpy_config_keys)) != NULL)
		return kpy_err_set(e, KPY_EINVAL, "unknown setting '%s'; did you mean '%s'? the settings are %s", key, near, list);
	return kpy_err_set(e, KPY_EINVAL, "unknown setting '%s': the settings are %s", key, list);
}

char *kpy_config_value(const struct kpy_config *c, const char *key)
{
	char *out = NULL;

	if (strcmp(key, "pipdir") == 0)
		return strdup(c->pipdir ? c->pipdir : "");
	if (strcmp(key, "compute_hosts") == 0)
		return strdup(c->compute_hosts ? c->compute_hosts : "");
	if (strcmp(key, "level") == 0 && asprintf(&out, "%d", c->level) >= 0)
		return out;
	if (strcmp(key, "site_pipdir") == 0)
		return strdup(c->site_pipdir ? c->site_pipdir : "");
	if (strcmp(key, "threads") == 0)
		return c->threads > 0 && asprintf(&out, "%d", c->threads) >= 0 ? out : strdup("auto");
	return NULL;
}

/* iniparser prints parse errors itself unless told not to; the core prints nothing. */
static int quiet(const char *fmt, ...)
{
	(void)fmt;
	return 0;
}

/* The variables a configuration is read from. */
struct env {
	kpy_getenv_fn *get;
	const void *arg;
};

static const char *process_getenv(const char *name, const void *arg)
{
	(void)arg;
	return getenv(name);
}

static const struct env process_env = { process_getenv, NULL };

const char *kpy_envp_get(const char *name, const void *envp)
{
	size_t len = strlen(name);

	for (char *const *v = envp; v != NULL && *v != NULL; v++)
		if (strncmp(*v, name, len) == 0 && (*v)[len] == '=')
			return *v + len + 1;
	return NULL;
}

static char *home_dir(const struct env *env)
{
	const char *h = env->get("HOME", env->arg);
	char *home;

	if (h != NULL && h[0] == '/')
		return strdup(h);
	if (kpy_passwd(getuid(), &home, NULL) == 0)
		return home;
	return NULL;
}

/* $VAR if set and absolute, else $HOME/FALLBACK; malloc'd. */
static char *xdg_dir(const struct env *env, const char *var, const char *fallback)
{
	const char *v = env->get(var, env->arg);
	char *home, *out = NULL;

	if (v != NULL && v[0] == '/')
		return strdup(v);
	home = home_dir(env);
	if (home != NULL && asprintf(&out, "%s/%s", home, fallback) < 0)
		out = NULL;
	free(home);
	return out;
}

static char *user_path(const struct env *env, struct kpy_err *e)
{
	char *dir = xdg_dir(env, "XDG_CONFIG_HOME", ".config"), *out = NULL;

	if (dir == NULL || asprintf(&out, "%s/kpy/config.ini", dir) < 0) {
		out = NULL;
		kpy_err_set(e, KPY_EFAIL, "cannot find your home directory: set HOME");
	}
	free(dir);
	return out;
}

char *kpy_config_user_path(struct kpy_err *e)
{
	return user_path(&process_env, e);
}

/* "~/x" becomes "$HOME/x"; malloc'd. */
static char *expand(const struct env *env, const char *v)
{
	char *home, *out = NULL;

	if (v[0] != '~' || (v[1] != '/' && v[1] != '\0'))
		return strdup(v);
	home = home_dir(env);
	if (home != NULL && asprintf(&out, "%s%s", home, v + 1) < 0)
		out = NULL;
	free(home);
	return out;
}

/* site_pipdir: absolute paths separated by ':' or blanks, kept joined by ':'. */
static int apply_site(struct kpy_config *c, const char *val, const char *from, struct kpy_err *e)
{
	struct kpy_buf b = KPY_BUF_INIT;
	const char *p = val;

	while (*p != '\0') {
		size_t n = strcspn(p, ": \t");
		if (n > 0 && p[0] != '/') {
			free(b.p);
			return kpy_err_set(e, KPY_ECONFIG, "site_pipdir '%.*s' (from %s) is not an absolute path", (int)n, p, from);
		}
		if (n > 0) {
			if (b.len > 0)
				kpy_buf_add(&b, ":", 1);
			kpy_buf_add(&b, p, n);
		}
		p += n;
		p += strspn(p, ": \t");
	}
	kpy_buf_add(&b, "", 1);
	if (b.oom) {
		free(b.p);
		return kpy_err_set(e, KPY_EFAIL, "out of memory");
	}
	free(c->site_pipdir);
	c->site_pipdir = b.p[0] != '\0' ? b.p : NULL;
	if (c->site_pipdir == NULL)
		free(b.p);
	return 0;
}

static int apply(struct kpy_config *c, const struct env *env, const char *key,
		 const char *val, const char *from, struct kpy_err *e)
{
	if (strcmp(key, "pipdir") == 0) {
		char *p = expand(env, val);
		if (p == NULL)
			return kpy_err_set(e, KPY_EFAIL, "out of memory");
		if (p[0] != '/') {
			free(p);
			return kpy_err_set(e, KPY_ECONFIG, "pipdir '%s' (from %s) is not an absolute path", val, from);
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
			return kpy_err_set(e, KPY_ECONFIG, "level '%s' (from %s) is not a number from 1 to 19", val, from);
		c->level = (int)l;
	} else if (strcmp(key, "site_pipdir") == 0) {
		return apply_site(c, val, from, e);
	} else if (strcmp(key, "threads") == 0) {
		char *end;
		long l = strtol(val, &end, 10);
		if (strcmp(val, "auto") == 0)
			l = 0;
		else if (*val < '0' || *val > '9' || *end != '\0' || l > KPY_THREADS_MAX)
			return kpy_err_set(e, KPY_ECONFIG, "threads '%s' (from %s) is not a number from 1 to %d, or auto (0)",
					   val, from, KPY_THREADS_MAX);
		c->threads = (int)l;
	}
	return 0;
}

/* SITE: PATH is the site file, the only place site_pipdir is read from. */
static int load_file(struct kpy_config *c, const struct env *env, const char *path, int site,
		     struct kpy_err *e)
{
	dictionary *d;
	int rv = -1;

	if (access(path, F_OK) < 0)
		return 0;
	iniparser_set_error_callback(quiet);
	d = iniparser_load(path);
	if (d == NULL)
		return kpy_err_set(e, KPY_ECONFIG, "cannot read the configuration file %s as INI with a [kpy] section", path);
	for (int i = 0; kpy_config_keys[i] != NULL; i++) {
		char k[64];
		const char *v;

		snprintf(k, sizeof(k), "kpy:%s", kpy_config_keys[i]);
		v = iniparser_getstring(d, k, NULL);
		if (v == NULL) { /* a key above any section counts as [kpy] */
			snprintf(k, sizeof(k), ":%s", kpy_config_keys[i]);
			v = iniparser_getstring(d, k, NULL);
		}
		if (v != NULL && !site && strcmp(kpy_config_keys[i], "site_pipdir") == 0) {
			kpy_err_set(e, KPY_ECONFIG, "site_pipdir is set in %s, but it is read from the site file only "
				    "(KPY_SITE_CONFIG, or %s/kpy.conf); remove it with 'kpy config --unset site_pipdir'",
				    path, SYSCONFDIR);
			goto fail;
		}
		if (v != NULL && apply(c, env, kpy_config_keys[i], v, path, e) < 0)
			goto fail;
	}
	rv = 0;
fail:
	iniparser_freedict(d);
	return rv;
}

int kpy_config_load(struct kpy_config *c, struct kpy_err *e)
{
	return kpy_config_load_from(c, process_getenv, NULL, e);
}

int kpy_config_load_from(struct kpy_config *c, kpy_getenv_fn *get, const void *arg,
			 struct kpy_err *e)
{
	static const char *const envs[][2] = {
		{ "KPY_PIPDIR", "pipdir" }, { "KPY_COMPUTE_HOSTS", "compute_hosts" },
		{ "KPY_LEVEL", "level" }, { "KPY_THREADS", "threads" },
	};
	const struct env env = { get, arg };
	const char *site = get("KPY_SITE_CONFIG", arg);
	char *user = NULL;

	memset(c, 0, sizeof(*c));
	c->level = 3;
	c->pipdir = xdg_dir(&env, "XDG_DATA_HOME", ".local/share");
	if (c->pipdir != NULL) {
		char *p = NULL;
		if (asprintf(&p, "%s/kpy", c->pipdir) < 0)
			p = NULL;
		free(c->pipdir);
		c->pipdir = p;
	}
	if (load_file(c, &env, site != NULL && site[0] ? site : SYSCONFDIR "/kpy.conf", 1, e) < 0)
		goto fail;
	user = user_path(&env, e);
	if (user == NULL || load_file(c, &env, user, 0, e) < 0)
		goto fail;
	for (size_t i = 0; i < sizeof(envs) / sizeof(envs[0]); i++) {
		const char *v = get(envs[i][0], arg);
		if (v != NULL && v[0] != '\0' && apply(c, &env, envs[i][1], v, envs[i][0], e) < 0)
			goto fail;
	}
	if (c->pipdir == NULL) {
		kpy_err_set(e, KPY_EPIPDIR, "no pipdir: HOME is not set, nor KPY_PIPDIR or a pipdir setting");
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
	free(c->site_pipdir);
	memset(c, 0, sizeof(*c));
}

static void add_key(struct kpy_buf *b, const char *key, const char *value, const char *eol)
{
	kpy_buf_add(b, key, strlen(key));
	kpy_buf_add(b, " = ", 3);
	kpy_buf_add(b, value, strlen(value));
	kpy_buf_add(b, eol, strlen(eol));
}

static int blank(const char *s, const char *end)
{
	for (; s < end; s++)
		if (*s != ' ' && *s != '\t' && *s != '\r' && *s != '\n')
			return 0;
	return 1;
}

/* What the line [S, END) (without its terminator) is: 1 a section header (*SEC and
 * *SECLEN its trimmed name), 2 "KEY = ..." for KEY (any case), 0 anything else. */
static int line_kind(const char *s, const char *end, const char *key, const char **sec,
		     size_t *seclen)
{
	size_t kl = strlen(key);

	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	if (s < end && *s == '[') {
		const char *close = memchr(s, ']', (size_t)(end - s));
		if (close == NULL)
			return 0;
		for (s++; s < close && (*s == ' ' || *s == '\t'); s++)
			;
		while (close > s && (close[-1] == ' ' || close[-1] == '\t'))
			close--;
		*sec = s;
		*seclen = (size_t)(close - s);
		return 1;
	}
	if ((size_t)(end - s) < kl || strncasecmp(s, key, kl) != 0)
		return 0;
	for (s += kl; s < end && (*s == ' ' || *s == '\t'); s++)
		;
	return s < end && *s == '=' ? 2 : 0;
}

char *kpy_config_edit(const char *text, size_t len, const char *key, const char *value,
		      size_t *outlen)
{
	const char *end, *eol = "\n", *nl, *sec;
	size_t seclen, ins = (size_t)-1; /* where to add the key: after this output offset */
	struct kpy_buf b = KPY_BUF_INIT;
	int in_kpy = 1, any_section = 0, seen_kpy = 0, done = value == NULL, kind;

	if (text == NULL)
		text = "", len = 0;
	end = text + len;
	if (len > 0 && (nl = memchr(text, '\n', len)) != NULL && nl > text && nl[-1] == '\r')
		eol = "\r\n";
	kpy_buf_add(&b, "", 0);
	for (const char *p = text; p < end; ) {
		const char *le, *next;

		nl = memchr(p, '\n', (size_t)(end - p));
		next = nl ? nl + 1 : end;
		le = nl ? nl : end;
		if (le > p && le[-1] == '\r')
			le--;
		kind = line_kind(p, le, key, &sec, &seclen);
		if (kind == 1) {
			if (in_kpy && seen_kpy)
				seen_kpy = 2; /* the first [kpy] section ended */
			any_section = 1;
			in_kpy = seclen == 3 && strncasecmp(sec, "kpy", 3) == 0;
			if (in_kpy && !seen_kpy)
				seen_kpy = 1;
		}
		if (kind == 2 && in_kpy) {
			if (!done) { /* the first one takes the value, later ones would override it */
				kpy_buf_add(&b, key, strlen(key));
				kpy_buf_add(&b, " = ", 3);
				kpy_buf_add(&b, value, strlen(value));
				kpy_buf_add(&b, le, (size_t)(next - le));
				done = 1;
			}
		} else {
			kpy_buf_add(&b, p, (size_t)(next - p));
		}
		/* a new key goes after the last non-blank line of the first [kpy] section, or
		 * of the top when the file has no sections */
		if ((seen_kpy == 1 && in_kpy) || !any_section)
			if (!blank(p, next))
				ins = b.len;
		p = next;
	}
	if (!done && ins != (size_t)-1 && (seen_kpy || !any_section)) {
		struct kpy_buf o = KPY_BUF_INIT;
		kpy_buf_add(&o, b.p, ins);
		if (ins > 0 && b.p[ins - 1] != '\n')
			kpy_buf_add(&o, eol, strlen(eol));
		add_key(&o, key, value, eol);
		kpy_buf_add(&o, b.p + ins, b.len - ins);
		o.oom |= b.oom;
		free(b.p);
		b = o;
	} else if (!done) {
		if (b.len > 0 && b.p[b.len - 1] != '\n')
			kpy_buf_add(&b, eol, strlen(eol));
		if (b.len > 0 && !blank(b.p, b.p + b.len))
			kpy_buf_add(&b, eol, strlen(eol));
		kpy_buf_add(&b, "[kpy]", 5);
		kpy_buf_add(&b, eol, strlen(eol));
		add_key(&b, key, value, eol);
	}
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	*outlen = b.len;
	return b.p;
}

/* The whole of PATH in *TEXT (malloc'd) and *LEN; a missing file is empty. */
static int read_all(const char *path, char **text, size_t *len, struct kpy_err *e)
{
	int truncated = 0;

	if (kpy_read_file(path, CONFIG_MAX, 0, text, len, &truncated, NULL) < 0) {
		if (errno != ENOENT)
			return kpy_err_sys(e, errno, "cannot read %s", path);
		if ((*text = strdup("")) == NULL)
			return kpy_err_set(e, KPY_EFAIL, "out of memory reading %s", path);
		*len = 0;
		return 0;
	}
	if (*text == NULL)
		return kpy_err_set(e, KPY_EFAIL, "cannot read %s", path);
	if (truncated) {
		free(*text);
		*text = NULL;
		return kpy_err_set(e, KPY_ECONFIG, "the configuration file %s is larger than %d bytes", path, CONFIG_MAX);
	}
	return 0;
}

int kpy_config_set(const char *key, const char *value, struct kpy_err *e)
{
	struct kpy_config check = { 0 };
	char *path = NULL, *real = NULL, *dir = NULL, *text = NULL, *out = NULL, *slash;
	size_t len = 0, outlen = 0;
	mode_t mode = 0644;
	struct stat st;
	int rv = -1;

	if (kpy_config_check_key(key, e) < 0)
		return -1;
	if (value != NULL && strcmp(key, "site_pipdir") == 0)
		return kpy_err_set(e, KPY_EINVAL, "site_pipdir is read from the site file only (KPY_SITE_CONFIG, or %s/kpy.conf), "
				   "where an admin sets it; your own envs go to your pipdir ('kpy config pipdir PATH')", SYSCONFDIR);
	if (value != NULL && strpbrk(value, "\n\r#;") != NULL)
		return kpy_err_set(e, KPY_EINVAL, "the value for %s cannot hold a newline, '#' or ';' (INI comments): choose another", key);
	/* iniparser strips blanks and quotes around a value and joins a line ending in '\' with the next */
	if (value != NULL && value[0] != '\0') {
		size_t n = strlen(value);
		if (value[n - 1] == '\\' || value[0] == ' ' || value[0] == '\t' || value[n - 1] == ' ' ||
		    value[n - 1] == '\t' || value[0] == '"' || value[0] == '\'')
			return kpy_err_set(e, KPY_EINVAL, "the value for %s cannot start or end with a blank or a quote, or end with a backslash (the INI reader would change it): choose another", key);
	}
	if (value != NULL && apply(&check, &process_env, key, value, "the command line", e) < 0) {
		kpy_config_free(&check);
		if (e != NULL && e->code == KPY_ECONFIG)
			e->code = KPY_EINVAL; /* a bad argument, not a bad setting to fix */
		return -1;
	}
	kpy_config_free(&check);
	if ((path = kpy_config_user_path(e)) == NULL)
		goto fail;
	/* a config.ini that is a symlink (dotfiles kept elsewhere) stays one */
	if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode) && (real = realpath(path, NULL)) != NULL) {
		free(path);
		path = real;
	}
	if (value == NULL && access(path, F_OK) < 0) {
		rv = 0; /* nothing to remove */
		goto fail;
	}
	if ((dir = strdup(path)) == NULL || (slash = strrchr(dir, '/')) == NULL)
		goto fail;
	*slash = '\0';
	if (kpy_mkdirs(dir, 0755, e) < 0)
		goto fail;
	if (stat(path, &st) == 0)
		mode = st.st_mode & 07777;
	if (read_all(path, &text, &len, e) < 0)
		goto fail;
	if ((out = kpy_config_edit(text, len, key, value, &outlen)) == NULL) {
		kpy_err_set(e, KPY_EFAIL, "out of memory");
		goto fail;
	}
	if (value == NULL && text != NULL && outlen == len && memcmp(out, text, len) == 0)
		rv = 0; /* nothing to remove */
	else
		rv = kpy_write_file(AT_FDCWD, path, out, outlen, mode, KPY_PUBLISH_SYNC | KPY_PUBLISH_KEEPMODE, e);
fail:
	if (rv < 0 && e->code == KPY_OK)
		kpy_err_set(e, KPY_EFAIL, "cannot update the configuration file");
	free(out);
	free(text);
	free(dir);
	free(path);
	return rv;
}
