/* store.h: the pipdir: names, where saved archives live, listing and removing them. */
#ifndef KPY_STORE_H
#define KPY_STORE_H

#include <sys/types.h>
#include "error.h"
#include "manifest.h"

#define KPY_NAME_MAX 64
#define KPY_KIND_VENV "venv"
#define KPY_KIND_UV "uv-cache"
/* Store kind of the envs kpy run keeps per script dependency set (<pipdir>/script_envs);
 * the archives themselves are ordinary venv archives (manifest kind "venv"). */
#define KPY_KIND_SCRIPT "script"

/* Letters, digits, '.', '_', '-'; not starting with '-' or '.'; 1..64 bytes.
 * WHAT names the thing in the message ("environment name"). 0 if valid. */
int kpy_name_check(const char *name, const char *what, struct kpy_err *e);

/* <pipdir>/venv_archives (KIND venv), <pipdir>/uv_caches (KIND uv-cache) or
 * <pipdir>/script_envs (KIND script); malloc'd. */
char *kpy_store_dir(const char *pipdir, const char *kind);
/* <store dir>/<name>.tar.zst; malloc'd. The name must have passed kpy_name_check. */
char *kpy_store_path(const char *pipdir, const char *kind, const char *name);

/* The pipdir must exist, be a directory and (if WRITABLE) be writable; with CREATE,
 * a missing pipdir and its store directory are made (mode 0755). */
int kpy_store_check(const char *pipdir, const char *kind, int writable, int create,
		    struct kpy_err *e);

struct kpy_saved {
	char *name;                 /* owned */
	off_t size;                 /* archive bytes */
	int damaged;                /* manifest unreadable */
	struct kpy_manifest m;      /* owned; zeroed when damaged */
};
/* Saved archives of KIND sorted by name; free with kpy_saved_free. On failure (an
 * unreadable directory, out of memory) nothing is returned, never a partial list. An
 * empty list is *OUT NULL and *N 0. A missing store
 * directory is an empty list. */
int kpy_store_list(const char *pipdir, const char *kind, struct kpy_saved **out,
		   size_t *n, struct kpy_err *e);
void kpy_saved_free(struct kpy_saved *v, size_t n);

/* "environment" for KPY_KIND_VENV, "uv cache" for KPY_KIND_UV: for messages. */
const char *kpy_store_noun(const char *kind);

/* Set a KPY_ENOENT error for NAME that lists the saved names of KIND (and says so
 * when the other kind has NAME); returns -1. */
int kpy_store_missing(const char *pipdir, const char *kind, const char *name,
		      struct kpy_err *e);

/* Remove a saved archive; an unknown name is KPY_ENOENT naming those that exist. */
int kpy_store_rm(const char *pipdir, const char *kind, const char *name, struct kpy_err *e);

#endif
