/* relocate.h: rewriting a restored env's files from the old absolute path to the new. */
#ifndef KPY_RELOCATE_H
#define KPY_RELOCATE_H

#include <stddef.h>
#include "error.h"

struct kpy_reloc {
	const char *old_prefix;  /* absolute env path at save time */
	const char *new_prefix;  /* absolute env path now */
	const char *old_prompt;  /* prompt name in the activate scripts, or NULL */
	const char *new_prompt;  /* replacement, or NULL to keep */
};

/* Offset of the first occurrence of PREFIX in BUF that stands as a whole path (not
 * part of a longer name or path), or -1. */
long kpy_find_prefix(const char *buf, size_t len, const char *prefix);

/* Transform the contents IN of the file REL (path relative to the env root) as the
 * relocation rules say: the interpreter lines of bin/ scripts, looked for in the first
 * 16 KiB ("#!OLD/bin/python3 [args]", where OLD may hold spaces, or pip's /bin/sh
 * trampoline; the trampoline is written when the new line would exceed 127 bytes or
 * holds a blank), activate scripts (quoting the new path where it stood bare, and the
 * prompt), other text (every whole-path occurrence). An empty OLD changes nothing.
 * Returns 1 and a malloc'd *OUT (caller frees) when something changed, 0 when nothing
 * did, -1 when out of memory. This is the reference for kpy_relocate_file. */
int kpy_relocate_buf(const char *rel, const char *in, size_t len, const struct kpy_reloc *r,
		     char **out, size_t *outlen);

/* Apply kpy_relocate_buf to ROOT/REL through a temporary file and rename(), keeping
 * its mode and mtime; no component of REL may be a symlink, and a symlink or other
 * non-regular file as REL, or an ELF file, is left alone. Files are streamed in
 * bounded memory (a few MiB whatever their size); activate scripts are read whole and
 * refused above 1 MiB. On failure (-1, E set: a read or write error, out of memory)
 * ROOT/REL is untouched and no temporary file is left. */
int kpy_relocate_file(const char *root, const char *rel, const struct kpy_reloc *r,
		      struct kpy_err *e);

/* Bytes read per step when kpy_relocate_file streams a file (default 1 MiB); tests
 * and the fuzz target make it small to reach chunk boundaries. */
extern size_t kpy_relocate_chunk;

/* 1 if REL is one of the activation scripts venv and virtualenv write: bin/activate,
 * activate.csh, activate.fish, activate.nu, activate.ps1, Activate.ps1, activate.bat
 * (not activate_this.py, which is Python, nor other bin/activate-* scripts). */
int kpy_is_activate(const char *rel);

#endif
