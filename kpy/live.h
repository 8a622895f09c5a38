/* live.h: environments in use on this machine: where they live, making and finding them. */
#ifndef KPY_LIVE_H
#define KPY_LIVE_H

#include "error.h"

/* $SLURM_TMPDIR/kpy when SLURM_TMPDIR is set, else ${TMPDIR:-/tmp}/kpy-<user>; malloc'd. */
char *kpy_live_root(struct kpy_err *e);
/* Make the live root (mode 0700 for the per-user one) if missing. */
int kpy_live_root_make(const char *root, struct kpy_err *e);

/* Names of the live envs under ROOT (directories holding bin/activate), sorted;
 * NULL-terminated malloc'd array of malloc'd strings; free with kpy_strv_free. */
int kpy_live_list(const char *root, char ***names, struct kpy_err *e);
void kpy_strv_free(char **v);

/* First free placeholder name under ROOT: venv, venv1, venv2, ...; malloc'd. */
char *kpy_live_placeholder(const char *root, struct kpy_err *e);

/* Run "PYTHON -m venv --prompt PROMPT DEST"; PYTHON is looked up in PATH. venv
 * writes DEST into its scripts, so it is made in place; on failure DEST is removed. */
int kpy_venv_create(const char *python, const char *dest, const char *prompt,
		    struct kpy_err *e);

#endif
