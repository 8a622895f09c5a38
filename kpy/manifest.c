/* manifest.c: writing the manifest and reading it back (through kv.c). */
#include "autoconfig.h"
#include "manifest.h"
#include "buf.h"
#include "kv.h"
#include "text.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *kpy_manifest_format(const struct kpy_manifest *m, size_t *len)
{
	struct kpy_buf b = KPY_BUF_INIT;

	kpy_buf_adds(&b, "# kpy archive manifest: key = value lines; a value runs to the end of its line\n");
	kpy_buf_addf(&b, "format = %d\n", m->format > 0 ? m->format : 1);
	const char *const strs[][2] = {
		{ "kind", m->kind }, { "name", m->name }, { "prefix", m->prefix },
		{ "prompt", m->prompt }, { "python_version", m->python_version },
		{ "base_python", m->base_python },
	};
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		if (strs[i][1] != NULL)
			kpy_buf_addf(&b, "%s = %s\n", strs[i][0], strs[i][1]);
	kpy_buf_addf(&b, "saved = %lld\n", m->saved);
	if (m->kpy_version != NULL)
		kpy_buf_addf(&b, "kpy_version = %s\n", m->kpy_version);
	kpy_buf_addf(&b, "files = %lld\nbytes = %lld\n", m->files, m->bytes);
	for (int i = 0; i < 2; i++) {
		const char *val = i == 0 ? m->script : m->requires;
		char *esc = NULL;
		if (val == NULL)
			continue;
		/* only a value with control bytes is escaped: what parses writes back the same */
		for (const char *c = val; *c && esc == NULL; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7f)
				if ((esc = kpy_escape(val)) == NULL)
					b.oom = 1;
		kpy_buf_addf(&b, "%s = %s\n", i == 0 ? "script" : "requires", esc ? esc : val);
		free(esc);
	}
	if (b.oom) {
		kpy_buf_free(&b);
		return NULL;
	}
	*len = b.len;
	return b.p;
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
	struct kpy_kv kv;
	size_t pos = 0;
	unsigned seen = 0;
	int rc;
	long long format = 0;

	memset(m, 0, sizeof(*m));
	if (memchr(text, '\0', len) != NULL)
		goto bad;
	while ((rc = kpy_kv_next(text, len, &pos, &kv)) != 0) {
		const char *v = kv.val, *ve = kv.val + kv.vallen;
		size_t kl = kv.keylen, vl = kv.vallen;
		const char *k = kv.key;

		if (rc < 0)
			goto bad;
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
