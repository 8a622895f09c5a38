/* buf.h: a growing byte buffer, and growing arrays, for text built in memory. */
#ifndef KPY_BUF_H
#define KPY_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/* Zero it (KPY_BUF_INIT) before use. p is NUL-terminated once anything was added; a
 * failed allocation sticks (oom set, later adds do nothing) so callers check once at
 * the end. Free p when done (kpy_buf_free). */
struct kpy_buf {
	char *p;
	size_t len, cap;
	int oom;
};
#define KPY_BUF_INIT { NULL, 0, 0, 0 }

void kpy_buf_add(struct kpy_buf *b, const void *data, size_t n);
void kpy_buf_adds(struct kpy_buf *b, const char *s);
void kpy_buf_addf(struct kpy_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void kpy_buf_free(struct kpy_buf *b);

/* The array V (elements of SIZE bytes, *CAP of them) with room for index N: V itself
 * when it has it, else V grown by doubling (from MIN elements) and *CAP updated. NULL
 * when out of memory, V and *CAP then unchanged (V still the caller's to free).
 * Inline, so that static analyzers follow the realloc into the callers. */
static inline void *kpy_grow(void *v, size_t *cap, size_t n, size_t size, size_t min)
{
	size_t ncap;
	void *nv;

	if (n < *cap)
		return v;
	ncap = *cap ? *cap : (min ? min : 1);
	while (ncap <= n) {
		if (ncap > SIZE_MAX / 2)
			return NULL;
		ncap *= 2;
	}
	if (ncap > SIZE_MAX / size || (nv = realloc(v, ncap * size)) == NULL)
		return NULL;
	*cap = ncap;
	return nv;
}

#endif
