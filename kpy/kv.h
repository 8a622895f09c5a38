/* kv.h: reading "key = value" lines, the format of venv's pyvenv.cfg and of kpy's
 * manifest. A value runs to the end of its line: no quoting, and '#' or ';' inside it
 * are part of it. Blank lines, lines starting with '#' or ';' (comments) and
 * "[section]" lines are skipped. Blanks around key and value are not part of them; a
 * '\r' before the '\n' is not part of the line. */
#ifndef KPY_KV_H
#define KPY_KV_H

#include <stddef.h>

struct kpy_kv {
	const char *key, *val;   /* point into the text; not NUL-terminated */
	size_t keylen, vallen;
	size_t start, end;       /* the line's offsets in the text, end past its '\n' */
};

/* The next entry of TEXT[0..LEN) at or after *POS, which moves past it: 1 with KV
 * filled; 0 at the end; -1 for a line without '=' (KV->start/end give it), which
 * callers that follow Python's reading of pyvenv.cfg simply skip. */
int kpy_kv_next(const char *text, size_t len, size_t *pos, struct kpy_kv *kv);

/* 1 if KV's key is KEY. */
int kpy_kv_is(const struct kpy_kv *kv, const char *key);

/* The value of the first KEY in TEXT (NUL-terminated), malloc'd; NULL if there is
 * none or out of memory. */
char *kpy_kv_get(const char *text, const char *key);

#endif
