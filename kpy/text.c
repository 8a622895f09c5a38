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

/* Length of the valid UTF-8 sequence at S that is not a C1 control (U+0080..U+009F,
 * which some terminals obey like ESC sequences), or 0. */
static size_t utf8_ok(const unsigned char *s)
{
	size_t n;
	unsigned cp;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1fu;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0fu;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07u;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3fu);
	}
	if (cp <= 0x9f || (n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* Escaped form of the character at S in OUT (at most 8 bytes with the NUL); its length
 * in OUT, and in *USED the bytes of S it stands for. */
static size_t esc_next(const char *s, char out[8], size_t *used)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n;

	*used = 1;
	if (u[0] >= 0x80) {
		if ((n = utf8_ok(u)) == 0)
			return (size_t)snprintf(out, 8, "\\x%02x", u[0]);
		memcpy(out, s, n);
		out[n] = '\0';
		*used = n;
		return n;
	}
	return esc_char(u[0], out);
}

void kpy_escape_to(char *buf, size_t size, const char *s)
{
	size_t len = 0, used;
	char one[8];

	if (size == 0)
		return;
	while (s != NULL && *s) {
		size_t n = esc_next(s, one, &used);
		if (len + n >= size)
			break;
		memcpy(buf + len, one, n);
		len += n;
		s += used;
	}
	buf[len] = '\0';
}

char *kpy_escape(const char *s)
{
	size_t need = 1, used;
	char one[8], *out;

	for (const char *p = s; *p; p += used)
		need += esc_next(p, one, &used);
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

void kpy_human_size(char *buf, size_t size, double bytes)
{
	const char *units = "BKMGTP";
	int u = 0;

	while (bytes >= 1024 && u < 5)
		bytes /= 1024, u++;
	snprintf(buf, size, u == 0 ? "%.0f%c" : "%.1f%c", bytes, units[u]);
}
