/* manifest.h: .kpy/manifest.ini, the small description that leads every archive. */
#ifndef KPY_MANIFEST_H
#define KPY_MANIFEST_H

#include "error.h"

/* The first entry of an archive, and in a live env the save it holds: "key = value"
 * lines as in venv's pyvenv.cfg (kv.h), not INI: a value runs to the end of its line,
 * so a prefix may hold ';' or '#' (the file says so in its first line). Its name is
 * to become .kpy/manifest.cfg, which matches what it is; this kpy reads both names
 * but still writes the old one, so that the kpy and plugin of a cluster upgraded
 * node by node (older readers take any other first entry for damage) keep reading
 * what this one saves. The next release can write the new name. */
#define KPY_MANIFEST_PATH ".kpy/manifest.ini"
#define KPY_MANIFEST_NEXT_PATH ".kpy/manifest.cfg"
#define KPY_PACKAGES_PATH ".kpy/packages"      /* *.dist-info names, one a line */
#define KPY_RELOCATE_PATH ".kpy/relocate"      /* last entry: files mentioning prefix */

/* The manifest's kind: what an archive holds. */
#define KPY_KIND_VENV "venv"
#define KPY_KIND_UV "uv-cache"

/* Strings malloc'd and owned; free with kpy_manifest_free. */
struct kpy_manifest {
	int format;            /* 1 */
	char *kind;            /* "venv" or "uv-cache" */
	char *name;            /* name saved under */
	char *prefix;          /* absolute path of the env at save time */
	char *prompt;          /* prompt name in the activate scripts */
	char *python_version;  /* "3.11.2" */
	char *base_python;     /* what bin/python resolved to at save time */
	long long saved;       /* unix time */
	char *kpy_version;
	long long files;       /* entries in the archive, manifest excluded */
	long long bytes;       /* bytes of regular-file data */
	/* optional, for the envs of kpy run (NULL otherwise); a value holding control
	 * bytes is written escaped (kpy_escape), so they never reach the file */
	char *script;          /* the script the env was first built for */
	char *requires;        /* its normalised dependencies, space-separated */
};

/* Render to a malloc'd NUL-terminated text; *len gets its length. NULL when out of
 * memory. */
char *kpy_manifest_format(const struct kpy_manifest *m, size_t *len);
/* Parse LEN bytes of text (not NUL-terminated; a NUL byte in it is malformed).
 * Unknown keys are ignored; format, kind, an absolute prefix and files are required;
 * a known key twice, or a number that is not plain decimal digits within range, is
 * malformed (KPY_EDAMAGED); a format above 1 is KPY_EINVAL (upgrade kpy). */
int kpy_manifest_parse(const char *text, size_t len, struct kpy_manifest *m,
		       struct kpy_err *e);
void kpy_manifest_free(struct kpy_manifest *m);

#endif
