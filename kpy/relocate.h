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
 * relocation rules say: shebangs of bin/ scripts (with the /bin/sh trampoline when
 * the new line would exceed 127 bytes or holds a space), activate scripts (quoting
 * the new path where it stood bare, and the prompt), other text (every whole-path
 * occurrence). Returns 1 and a malloc'd *OUT when something changed, 0 when nothing
 * did, -1 when out of memory. */
int kpy_relocate_buf(const char *rel, const char *in, size_t len, const struct kpy_reloc *r,
		     char **out, size_t *outlen);

/* Apply kpy_relocate_buf to ROOT/REL through a temporary file and rename(), keeping
 * its mode and mtime. ELF files and non-regular files are left alone. */
int kpy_relocate_file(const char *root, const char *rel, const struct kpy_reloc *r,
		      struct kpy_err *e);

/* 1 if REL is an activation script (bin/activate, bin/activate.csh, ...). */
int kpy_is_activate(const char *rel);

#endif
