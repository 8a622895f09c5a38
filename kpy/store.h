/* store.h: the pipdir: names, where saved archives live, listing and removing them. */
#ifndef KPY_STORE_H
#define KPY_STORE_H

#include <sys/types.h>
#include "error.h"
#include "manifest.h"

#define KPY_NAME_MAX 64
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

/* Flags of kpy_store_check. */
#define KPY_STORE_WRITABLE 1u  /* the pipdir must be writable */
#define KPY_STORE_CREATE 2u    /* make a missing pipdir and store directory (0755) */
/* The pipdir must exist, be a directory and readable (with the flags above: writable;
 * made when missing). */
int kpy_store_check(const char *pipdir, const char *kind, unsigned flags, struct kpy_err *e);

/* The archive of the saved NAME of KIND, after checking the name and that the pipdir
 * can be read; malloc'd. NULL with KPY_ENOSAVED (naming those saved) when there is no
 * such archive. */
char *kpy_store_find(const char *pipdir, const char *kind, const char *name, struct kpy_err *e);

struct kpy_saved {
	char *name;                 /* owned */
	off_t size;                 /* archive bytes */
	int damaged;                /* manifest unreadable */
	struct kpy_manifest m;      /* owned; zeroed when damaged */
};
/* Saved archives of KIND sorted by name; free with kpy_saved_free. With MANIFESTS,
 * each archive's manifest is read (damaged set when it cannot be); without, only the
 * names and sizes (nothing is decompressed). On failure (an unreadable directory, out
 * of memory) nothing is returned, never a partial list. An empty list is *OUT NULL
 * and *N 0. A missing store directory is an empty list. */
int kpy_store_list(const char *pipdir, const char *kind, int manifests,
		   struct kpy_saved **out, size_t *n, struct kpy_err *e);
void kpy_saved_free(struct kpy_saved *v, size_t n);

/* "environment" for KPY_KIND_VENV, "uv cache" for KPY_KIND_UV: for messages. */
const char *kpy_store_noun(const char *kind);

/* Set a KPY_ENOSAVED error for NAME that lists the saved names of KIND (and says so
 * when the other kind has NAME); returns -1. */
int kpy_store_missing(const char *pipdir, const char *kind, const char *name,
		      struct kpy_err *e);

/* ---- the site store: read-only pipdirs an admin publishes to (site_pipdir) ---- */
#define KPY_SITE_PREFIX "site:"
/* NAME past a leading "site:" (NAME itself when it has none). */
const char *kpy_store_bare(const char *name);
/* The directories of a site_pipdir LIST (':'-joined, as kpy_config keeps it; NULL is
 * none), NULL-terminated; malloc'd, free with kpy_strv_free. NULL when out of memory. */
char **kpy_site_dirs(const char *list);
/* The site pipdir DIR must exist, be a directory and readable (with
 * KPY_STORE_WRITABLE: writable too); else -1, KPY_ESITE. */
int kpy_site_check(const char *dir, unsigned flags, struct kpy_err *e);
/* The archive a user means by NAME of KIND; malloc'd. A plain NAME is looked up in
 * the user's PIPDIR first, then in each site pipdir of SITES (a site_pipdir list, or
 * NULL) in turn: the first that has it wins. "site:NAME" looks only in the site
 * pipdirs. Nothing is written anywhere. *FOUND_IN (when not NULL) gets the pipdir it
 * was found in (malloc'd). On failure NULL: KPY_ENOSAVED naming what each store
 * holds, KPY_ESITE when "site:" is given and no site pipdir can be read (or none is
 * set), or the user's pipdir's error (KPY_EPIPDIR, ...) when no site has NAME. */
char *kpy_store_lookup(const char *pipdir, const char *sites, const char *kind,
		       const char *name, char **found_in, struct kpy_err *e);

/* Remove a saved archive; an unknown name is KPY_ENOSAVED naming those that exist. */
int kpy_store_rm(const char *pipdir, const char *kind, const char *name, struct kpy_err *e);

#endif
