/* text.c: escaping untrusted strings for terminals and logs; typo suggestions. */
#include "autoconfig.h"
#include "text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Escaped form of C in OUT (at most 5 bytes with the NUL); its length. */
static size_t esc_char(unsigned char c, char out[5])
{
	switch (c) {
	case '\n': memcpy(out, "\\n", 3); return 2;
	case '\t': memcpy(out, "\\t", 3); return 2;
	case '\r': memcpy(out, "\\r", 3); return 2;
	case '\\': memcpy(out, "\\\\", 3); return 2;
	default:
		if (c < 0x20 || c == 0x7f) {
			snprintf(out, 5, "\\x%02x", c);
			return 4;
		}
		out[0] = (char)c;
		out[1] = '\0';
		return 1;
	}
}

void kpy_escape_to(char *buf, size_t size, const char *s)
{
	size_t len = 0;
	char one[5];

	if (size == 0)
		return;
	for (; s != NULL && *s; s++) {
		size_t n = esc_char((unsigned char)*s, one);
		if (len + n >= size)
			break;
		memcpy(buf + len, one, n);
		len += n;
	}
	buf[len] = '\0';
}

char *kpy_escape(const char *s)
{
	size_t need = 1;
	char one[5], *out;

	for (const char *p = s; *p; p++)
		need += esc_char((unsigned char)*p, one);
	if ((out = malloc(need)) == NULL)
		return NULL;
	kpy_escape_to(out, need, s);
	return out;
}

/* Optimal string alignment distance between A and B, stopping early above MAX. */
static size_t distance(const char *a, const char *b, size_t max)
{
	size_t la = strlen(a), lb = strlen(b), *d, rv;

	if (la > 64 || lb > 64)
		return max + 1;
	if ((la > lb ? la - lb : lb - la) > max)
		return max + 1;
	if ((d = malloc((la + 1) * (lb + 1) * sizeof(*d))) == NULL)
		return max + 1;
#define D(i, j) d[(i) * (lb + 1) + (j)]
	for (size_t i = 0; i <= la; i++)
		D(i, 0) = i;
	for (size_t j = 0; j <= lb; j++)
		D(0, j) = j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] != b[j - 1], v = D(i - 1, j - 1) + cost;
			if (D(i - 1, j) + 1 < v)
				v = D(i - 1, j) + 1;
			if (D(i, j - 1) + 1 < v)
				v = D(i, j - 1) + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    D(i - 2, j - 2) + 1 < v)
				v = D(i - 2, j - 2) + 1;
			D(i, j) = v;
		}
	}
	rv = D(la, lb);
#undef D
	free(d);
	return rv;
}

const char *kpy_suggest(const char *word, const char *const *cands)
{
	size_t len = strlen(word), max = len <= 4 ? 1 : len <= 8 ? 2 : 3, best = max + 1;
	const char *out = NULL;

	for (size_t i = 0; cands != NULL && cands[i] != NULL; i++) {
		size_t d = distance(word, cands[i], max);
		if (d < best && d > 0) {
			best = d;
			out = cands[i];
		}
	}
	return out;
}
