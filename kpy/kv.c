/* kv.c: the one reader of "key = value" lines (pyvenv.cfg, the manifest). */
#include "autoconfig.h"
#include "kv.h"

#include <stdlib.h>
#include <string.h>

static int blank(char c)
{
	return c == ' ' || c == '\t';
}

int kpy_kv_next(const char *text, size_t len, size_t *pos, struct kpy_kv *kv)
{
	while (*pos < len) {
		const char *l = text + *pos, *end = text + len;
		const char *nl = memchr(l, '\n', (size_t)(end - l));
		const char *le = nl ? nl : end, *k = l, *eq, *ke, *v, *ve;

		kv->start = *pos;
		*pos = nl ? (size_t)(nl + 1 - text) : len;
		kv->end = *pos;
		if (le > k && le[-1] == '\r')
			le--;
		while (k < le && blank(*k))
			k++;
		if (k == le || *k == '#' || *k == ';' || *k == '[')
			continue;
		if ((eq = memchr(k, '=', (size_t)(le - k))) == NULL)
			return -1;
		ke = eq;
		while (ke > k && blank(ke[-1]))
			ke--;
		v = eq + 1;
		while (v < le && blank(*v))
			v++;
		ve = le;
		while (ve > v && blank(ve[-1]))
			ve--;
		kv->key = k;
		kv->keylen = (size_t)(ke - k);
		kv->val = v;
		kv->vallen = (size_t)(ve - v);
		return 1;
	}
	return 0;
}

int kpy_kv_is(const struct kpy_kv *kv, const char *key)
{
	return kv->keylen == strlen(key) && memcmp(kv->key, key, kv->keylen) == 0;
}

char *kpy_kv_get(const char *text, const char *key)
{
	size_t pos = 0, len = strlen(text);
	struct kpy_kv kv;
	int r;

	while ((r = kpy_kv_next(text, len, &pos, &kv)) != 0)
		if (r > 0 && kpy_kv_is(&kv, key))
			return strndup(kv.val, kv.vallen);
	return NULL;
}
