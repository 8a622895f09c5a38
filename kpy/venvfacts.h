/* venvfacts.h: what a venv says about itself, read when it is saved and checked when it
 * is restored. */
#ifndef KPY_VENVFACTS_H
#define KPY_VENVFACTS_H

#include <stddef.h>
#include <sys/types.h>

#include "error.h"
#include "manifest.h"

/* The first MAX bytes of PATH, NUL-terminated and malloc'd, or NULL. */
char *kpy_slurp(const char *path, size_t max);
/* The prompt name in SRC/bin/activate ("(NAME) " or NAME), else pyvenv.cfg's (CFG, its
 * text, may be NULL), else the directory's name; malloc'd. */
char *kpy_venv_prompt(const char *src, const char *cfg);
/* What SRC/bin/python finally runs, outside the env, else pyvenv.cfg's executable. */
char *kpy_venv_base_python(const char *src, const char *cfg);
/* Why PATH cannot be an env's prefix, or NULL (control bytes, a blank at the end, and
 * unless QUOTE_OK a single quote). */
const char *kpy_bad_prefix(const char *path, int quote_ok);
/* Write DIR/NAME atomically with DATA (keeping an existing file's mode). */
int kpy_put_file_at(const char *dir, const char *name, const char *data, size_t len,
		    struct kpy_err *e);
/* Make ROOT/pyvenv.cfg's prompt line (if it has one) name PROMPT. */
int kpy_venv_set_cfg_prompt(const char *root, const char *prompt, struct kpy_err *e);
mode_t kpy_current_umask(void);
/* KPY_ENOPYTHON: the env in ARCHIVE needs PYTHON (manifest M's version), missing here. */
int kpy_venv_missing_python(const char *archive, const char *python,
			    const struct kpy_manifest *m, struct kpy_err *e);
/* The restored venv at ROOT (to be renamed to DEST): its bin/python leads to a file;
 * links into DEST are followed inside ROOT. */
int kpy_venv_check_python(const char *root, const char *dest, const struct kpy_manifest *m,
			  const char *archive, struct kpy_err *e);

#endif
