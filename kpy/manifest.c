/* manifest.c: reading and writing .kpy/manifest.ini ("key = value" lines). */
#include "autoconfig.h"
#include "manifest.h"
#include "text.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Append "KEY = VAL\n"; on allocation failure *buf is freed and set to NULL. */
static void put(char **buf, size_t *len, size_t *cap, const char *key, const char *val)
{
	size_t need;

	if (val == NULL || *buf == NULL)
		return;
	need = strlen(key) + strlen(val) + 5;
	if (*len + need >= *cap) {
		size_t ncap = (*cap + need) * 2;
		char *n = realloc(*buf, ncap);
		if (n == NULL) {
			free(*buf);
			*buf = NULL;
			return;
		}
		*buf = n;
		*cap = ncap;
	}
	*len += (size_t)snprintf(*buf + *len, *cap - *len, "%s = %s\n", key, val);
}

char *kpy_manifest_format(const struct kpy_manifest *m, size_t *len)
{
	char *buf = NULL, num[32];
	size_t cap = 0;

	buf = malloc(cap = 1024);
	if (buf == NULL)
		return NULL;
	*len = (size_t)snprintf(buf, cap, "# kpy archive manifest\n[kpy]\n");
	snprintf(num, sizeof(num), "%d", m->format > 0 ? m->format : 1);
	put(&buf, len, &cap, "format", num);
	put(&buf, len, &cap, "kind", m->kind);
	put(&buf, len, &cap, "name", m->name);
	put(&buf, len, &cap, "prefix", m->prefix);
	put(&buf, len, &cap, "prompt", m->prompt);
	put(&buf, len, &cap, "python_version", m->python_version);
	put(&buf, len, &cap, "base_python", m->base_python);
	snprintf(num, sizeof(num), "%lld", m->saved);
	put(&buf, len, &cap, "saved", num);
	put(&buf, len, &cap, "kpy_version", m->kpy_version);
	snprintf(num, sizeof(num), "%lld", m->files);
	put(&buf, len, &cap, "files", num);
	snprintf(num, sizeof(num), "%lld", m->bytes);
	put(&buf, len, &cap, "bytes", num);
	for (int i = 0; i < 2 && buf != NULL; i++) {
		const char *val = i == 0 ? m->script : m->requires;
		char *esc = NULL;
		if (val == NULL)
			continue;
		/* only a value with control bytes is escaped: what parses writes back the same */
		for (const char *c = val; *c && esc == NULL; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7f)
				esc = kpy_escape(val);
		if (esc == NULL && (esc = strdup(val)) == NULL) {
			free(buf);
			return NULL;
		}
		put(&buf, len, &cap, i == 0 ? "script" : "requires", esc);
		free(esc);
	}
	return buf;
}

static int set_str(char **dst, const char *v, size_t n)
{
	free(*dst);
	*dst = strndup(v, n);
	return *dst == NULL ? -1 : 0;
}

/* A decimal number of N bytes at V (not NUL-terminated): digits only, 0..LLONG_MAX. */
static int set_num(long long *dst, const char *v, size_t n)
{
	long long x = 0;

	if (n == 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		if (x > (LLONG_MAX - (v[i] - '0')) / 10)
			return -1;
		x = x * 10 + (v[i] - '0');
	}
	*dst = x;
	return 0;
}

/* The keys kpy_manifest_parse knows; each may appear once. */
static const char *const keys[] = {
	"format", "kind", "name", "prefix", "prompt", "python_version", "base_python",
	"saved", "kpy_version", "files", "bytes", "script", "requires", NULL
};

int kpy_manifest_parse(const char *text, size_t len, struct kpy_manifest *m,
		       struct kpy_err *e)
{
	const char *p = text, *end = text + len;
	unsigned seen = 0;
	long long format = 0;

	memset(m, 0, sizeof(*m));
	if (memchr(text, '\0', len) != NULL)
		goto bad;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end, *eq, *k, *ke, *v, *ve;

		k = p;
		p = nl ? nl + 1 : end;
		if (le > k && le[-1] == '\r')
			le--;
		while (k < le && (*k == ' ' || *k == '\t'))
			k++;
		if (k == le || *k == '#' || *k == ';' || *k == '[')
			continue;
		eq = memchr(k, '=', (size_t)(le - k));
		if (eq == NULL)
			goto bad;
		ke = eq;
		while (ke > k && (ke[-1] == ' ' || ke[-1] == '\t'))
			ke--;
		v = eq + 1;
		while (v < le && (*v == ' ' || *v == '\t'))
			v++;
		ve = le;
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
		size_t kl = (size_t)(ke - k), vl = (size_t)(ve - v);
		/* kpy writes no control bytes in values; a '\r' left inside one would not
		 * survive the next write */
		for (const char *c = v; c < ve; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7f)
				goto bad;
		int i, r = 0;
		for (i = 0; keys[i] != NULL; i++)
			if (kl == strlen(keys[i]) && memcmp(k, keys[i], kl) == 0)
				break;
		if (keys[i] == NULL)
			continue; /* a key of a later kpy */
		if (seen & (1u << i))
			goto bad;
		seen |= 1u << i;
#define KEY(s) (strcmp(keys[i], s) == 0)
		if (KEY("format"))
			r = set_num(&format, v, vl) < 0 ? 1 : 0;
		else if (KEY("kind"))
			r = set_str(&m->kind, v, vl);
		else if (KEY("name"))
			r = set_str(&m->name, v, vl);
		else if (KEY("prefix"))
			r = set_str(&m->prefix, v, vl);
		else if (KEY("prompt"))
			r = set_str(&m->prompt, v, vl);
		else if (KEY("python_version"))
			r = set_str(&m->python_version, v, vl);
		else if (KEY("base_python"))
			r = set_str(&m->base_python, v, vl);
		else if (KEY("saved"))
			r = set_num(&m->saved, v, vl) < 0 ? 1 : 0;
		else if (KEY("kpy_version"))
			r = set_str(&m->kpy_version, v, vl);
		else if (KEY("files"))
			r = set_num(&m->files, v, vl) < 0 ? 1 : 0;
		else if (KEY("bytes"))
			r = set_num(&m->bytes, v, vl) < 0 ? 1 : 0;
		else if (KEY("script"))
			r = set_str(&m->script, v, vl);
		else if (KEY("requires"))
			r = set_str(&m->requires, v, vl);
#undef KEY
		if (r > 0)
			goto bad;
		if (r < 0) {
			kpy_manifest_free(m);
			return kpy_err_set(e, KPY_EFAIL, "out of memory reading the manifest");
		}
	}
	if (format < 1 || m->kind == NULL || m->prefix == NULL || m->prefix[0] != '/' ||
	    !(seen & (1u << 9)) /* files */)
		goto bad;
	if (format > 1) {
		kpy_manifest_free(m);
		return kpy_err_set(e, KPY_ENEWER, "its manifest format %lld is newer than this kpy understands", format);
	}
	m->format = (int)format;
	return 0;
bad:
	kpy_manifest_free(m);
	return kpy_err_set(e, KPY_EDAMAGED, "its manifest (%s) is malformed", KPY_MANIFEST_PATH);
}

void kpy_manifest_free(struct kpy_manifest *m)
{
	free(m->kind);
	free(m->name);
	free(m->prefix);
	free(m->prompt);
	free(m->python_version);
	free(m->base_python);
	free(m->kpy_version);
	free(m->script);
	free(m->requires);
	memset(m, 0, sizeof(*m));
}
