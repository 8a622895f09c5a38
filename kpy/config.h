/* config.h: kpy's settings from the site file, the user file and KPY_* variables. */
#ifndef KPY_CONFIG_H
#define KPY_CONFIG_H

#include "error.h"

/* All strings are malloc'd and owned by the struct; free with kpy_config_free. */
struct kpy_config {
	char *pipdir;        /* permanent store; default $XDG_DATA_HOME/kpy */
	char *compute_hosts; /* space-separated fnmatch patterns of compute nodes, or NULL */
	int level;           /* zstd level for save, 1..19, default 3 */
	char *site_pipdir;   /* read-only site stores, absolute paths joined by ':', or NULL;
			      * read from the site file only */
	int threads;         /* threads for save and restore, 1..64; 0 (default, "auto"):
			      * kpy_threads_pick decides */
};

/* Site file (KPY_SITE_CONFIG or SYSCONFDIR/kpy.conf), then the user file
 * ($XDG_CONFIG_HOME/kpy/config.ini), then KPY_PIPDIR / KPY_COMPUTE_HOSTS / KPY_LEVEL /
 * KPY_THREADS;
 * later wins. Reads HOME/XDG_* from the process environment. */
int kpy_config_load(struct kpy_config *c, struct kpy_err *e);

/* How kpy_config_load_from reads a variable: the value of NAME, or NULL when unset;
 * ARG is the caller's. The string must live until the load returns. */
typedef const char *kpy_getenv_fn(const char *name, const void *arg);
/* kpy_config_load over the variables GET gives (HOME, XDG_CONFIG_HOME, XDG_DATA_HOME,
 * KPY_SITE_CONFIG, KPY_PIPDIR, KPY_COMPUTE_HOSTS, KPY_LEVEL, KPY_THREADS) instead of the process
 * environment, which it never reads; without an absolute HOME the home directory of
 * getuid() in the user database stands in, as in kpy_config_load. */
int kpy_config_load_from(struct kpy_config *c, kpy_getenv_fn *get, const void *arg,
			 struct kpy_err *e);
/* A kpy_getenv_fn over an environment array: ENVP is a char ** of "NAME=VALUE"
 * strings ending with NULL (or NULL itself: nothing is set). */
const char *kpy_envp_get(const char *name, const void *envp);
void kpy_config_free(struct kpy_config *c);

/* Path of the user config file; malloc'd, caller frees. */
char *kpy_config_user_path(struct kpy_err *e);
/* Write KEY = VALUE into the user file; VALUE NULL removes the key. Only that key's
 * line changes (see kpy_config_edit); the file is replaced through a temporary file,
 * fsync and rename, keeping its mode; a symlinked file is written where it points. */
int kpy_config_set(const char *key, const char *value, struct kpy_err *e);
/* TEXT (LEN bytes of an INI file, maybe empty) with KEY set to VALUE in the [kpy]
 * section, or removed when VALUE is NULL. Every other line stays byte for byte. Keys
 * above any section count as [kpy]; keys and section names match in any case. The
 * first KEY line takes the value and later ones (which would override it) go; a new
 * key goes after the last line of the first [kpy] section (or of a file without
 * sections), else a [kpy] section is added at the end. New lines end like the file's
 * first line (CRLF or LF). Malloc'd, *OUTLEN bytes, NUL-terminated; NULL when out of
 * memory. */
char *kpy_config_edit(const char *text, size_t len, const char *key, const char *value,
		      size_t *outlen);
/* A setting: its key, what it is for and its default, in words (`kpy help config`). */
struct kpy_config_key {
	const char *name, *about, *dflt;
};
/* The settings, ended by a NULL name; kpy_config_keys holds the same keys, in the
 * same order, NULL-terminated (for kpy_suggest). */
extern const struct kpy_config_key kpy_config_table[];
extern const char *const kpy_config_keys[];
/* 1 if KEY is a known setting. */
int kpy_config_known(const char *key);
/* 0 if KEY is a known setting; else -1 with E (KPY_EINVAL) naming it, the closest
 * known key ("did you mean"), and all of them. */
int kpy_config_check_key(const char *key, struct kpy_err *e);
/* KEY's value in C as text, "" when unset; malloc'd, NULL when KEY is unknown or
 * out of memory. */
char *kpy_config_value(const struct kpy_config *c, const char *key);

#endif
