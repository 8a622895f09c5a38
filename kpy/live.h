/* live.h: environments in use on this machine: where they live, making and finding them. */
#ifndef KPY_LIVE_H
#define KPY_LIVE_H

#include "error.h"
#include "manifest.h"

/* The live root, made if missing; malloc'd.
 * - $SLURM_TMPDIR/kpy when SLURM_TMPDIR is set (the job's own scratch);
 * - else the user root (kpy_user_root), plus /.job-<SLURM_JOB_ID>@<host> inside a
 *   job, so jobs never share envs. Making a job's directory first removes the user's
 *   other .job-N@<host> directories whose job N has no process left on this host
 *   (/proc); those of other hosts (a TMPDIR shared between nodes) are left alone.
 * Fails (with a message naming the path) when the root cannot be made or used. */
char *kpy_live_root(struct kpy_err *e);

/* The user's live root outside $SLURM_TMPDIR, made if missing, mode 0700; malloc'd.
 * ${TMPDIR:-/tmp}/kpy-<user> when that is ours (or free); when another user holds that
 * name, a fresh ${TMPDIR:-/tmp}/kpy-<user>.XXXXXX (mkdtemp), remembered in STATEDIR
 * (default $XDG_STATE_HOME/kpy, ~/.local/state/kpy) as live-root.<host> and reused
 * while it stays a directory of ours. A symlink or file of ours there is an error. */
char *kpy_user_root(struct kpy_err *e);

/* The live root in the scratch directory SCRATCH (a job's $SLURM_TMPDIR):
 * SCRATCH/kpy. Malloc'd; NULL when out of memory. Not made here. */
char *kpy_live_scratch_root(const char *scratch);

/* Where NAME of KIND lives under the live root ROOT:
 * - an env (KPY_KIND_VENV): ROOT/NAME;
 * - a uv cache (KPY_KIND_UV): ROOT/.uv/NAME, hidden (never an env's name) and on the
 *   envs' file system, so that uv can hard-link from it into them;
 * - the env of kpy run (KPY_KIND_SCRIPT, NAME its key): ROOT/.run/NAME.
 * NAME NULL gives the directory they go in (ROOT, ROOT/.uv, ROOT/.run). Malloc'd;
 * NULL when out of memory. Nothing is made here. */
char *kpy_live_path(const char *root, const char *kind, const char *name);

/* Remove ROOT/.job-N@<this host> directories whose job N has no process of this user
 * left on this host, except KEEP (a job id or NULL). Returns how many were removed. */
int kpy_live_prune(const char *root, const char *keep);

/* Names of the live envs under ROOT (directories holding bin/activate), sorted;
 * NULL-terminated malloc'd array of malloc'd strings; free with kpy_strv_free. */
int kpy_live_list(const char *root, char ***names, struct kpy_err *e);
void kpy_strv_free(char **v);

/* The manifest ENV/.kpy/manifest.ini (written by load and save): 0, or -1 with
 * KPY_ENOENT when the env was never saved or loaded. Free M with kpy_manifest_free. */
int kpy_live_manifest(const char *env, struct kpy_manifest *m, struct kpy_err *e);
/* 1 if the *.dist-info names in ENV's site-packages differ from ENV/.kpy/packages
 * (packages installed or removed since the save or load), 0 if not, -1 if unknown. */
int kpy_live_modified(const char *env);

/* First free placeholder name under ROOT: venv, venv1, venv2, ...; malloc'd. */
char *kpy_live_placeholder(const char *root, struct kpy_err *e);

/* Run "PYTHON -m venv --prompt PROMPT DEST"; PYTHON is looked up in PATH. venv
 * writes DEST into its scripts, so it is made in place; on failure DEST is removed. */
int kpy_venv_create(const char *python, const char *dest, const char *prompt,
		    struct kpy_err *e);

/* Rename the live env OLD to NEW (same directory; NEW must not exist) and rewrite
 * every mention of OLD's path in its files and symlinks (not .kpy/, not *.pyc).
 * On a failure after the rename, the env is moved back where possible. */
int kpy_live_rename(const char *old, const char *new, struct kpy_err *e);

#endif
