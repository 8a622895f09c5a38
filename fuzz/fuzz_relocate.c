/* fuzz_relocate.c: libFuzzer target for kpy/relocate.c. The input is split into the
 * old and new prefixes, the file's name and its contents (with tokens for the
 * prefixes and pip's trampoline pieces), then relocated both in memory and through a
 * file streamed in tiny chunks; the two must agree. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "relocate.h"

/* Input: byte 0 chooses the chunk size, byte 1 the file and prompts; then
 * OLD 0xFF NEW 0xFF CONTENTS. Bytes 0xF0.. in CONTENTS stand for the tokens below,
 * 0xE0 in a prefix for a space and 0xE1 for a quote. */
static const char *const tokens[] = {
	"\x01OLD", "\x01NEW", "#!/bin/sh\n'''exec' \"", "\" \"$0\" \"$@\"\n' '''\n",
	"/bin/python3", "#!", "\x01OLD/bin/python3", "\"$0\"", "file://", "\n",
	"VIRTUAL_ENV_PROMPT=", "(env) ", "'''exec' '", " -E ", "\\", NULL,
};
static const char *const rels[] = { "bin/x", "bin/activate", "bin/activate.fish", "lib/a.pth",
	"bin/activate-global-python-argcomplete", "bin/Activate.ps1", "pyvenv.cfg", "bin/python3" };

static char dir[64];

static void cleanup(void)
{
	char path[256];

	for (size_t i = 0; i < sizeof(rels) / sizeof(rels[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, rels[i]);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/bin", dir);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/lib", dir);
	rmdir(path);
	rmdir(dir);
}

static size_t field(const uint8_t **p, const uint8_t *end, char *out, size_t max, int prefix)
{
	size_t n = 0;

	if (prefix && max > 1)
		out[n++] = '/';
	while (*p < end && **p != 0xFF) {
		uint8_t c = *(*p)++;
		if (n + 1 >= max || c == 0)
			continue;
		out[n++] = c == 0xE0 ? ' ' : c == 0xE1 ? '"' : (char)c;
	}
	if (*p < end)
		(*p)++;
	out[n] = '\0';
	return n;
}

static void put_file(const char *path, const char *buf, size_t n)
{
	FILE *f = fopen(path, "wb");
	if (f == NULL || fwrite(buf, 1, n, f) != n)
		abort();
	fclose(f);
}

static char *get_file(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, len = 0, k;

	if (f == NULL)
		abort();
	do {
		if (len + 4096 > cap) {
			char *nb = realloc(buf, cap = cap * 2 + 4096);
			if (nb == NULL)
				abort();
			buf = nb;
		}
		k = fread(buf + len, 1, 4096, f);
		len += k;
	} while (k > 0);
	fclose(f);
	*n = len;
	return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char old[300], new[300], path[256];
	const uint8_t *p = data + 2, *end = data + size;

	if (size < 2)
		return 0;
	if (dir[0] == '\0') {
		snprintf(dir, sizeof(dir), "%s/fuzz-relocate.XXXXXX",
			 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
		if (mkdtemp(dir) == NULL)
			abort();
		atexit(cleanup);
		snprintf(path, sizeof(path), "%s/bin", dir);
		mkdir(path, 0755);
		snprintf(path, sizeof(path), "%s/lib", dir);
		mkdir(path, 0755);
	}
	kpy_relocate_chunk = (data[0] & 0xC0) == 0xC0 ? (size_t)1 << 20 : (size_t)(data[0] & 0x3F) + 1;
	const char *rel = rels[data[1] & 7];
	struct kpy_reloc r = { old, new, NULL, NULL };
	if (data[1] & 0x08) {
		r.old_prompt = "env";
		r.new_prompt = (data[1] & 0x10) ? "e v" : "other";
	}
	field(&p, end, old, sizeof(old), !(data[1] & 0x20));
	field(&p, end, new, sizeof(new), !(data[1] & 0x40));

	/* the contents, tokens expanded */
	size_t cap = (size_t)(end - p) * 330 + 1, len = 0;
	char *in = malloc(cap);
	for (; p < end; p++) {
		const char *t = *p >= 0xF0 ? tokens[*p - 0xF0] : NULL;
		if (t == NULL) {
			in[len++] = (char)*p;
			continue;
		}
		const char *s = t[0] == '\x01' ? (t[1] == 'O' ? old : new) : t;
		size_t sl = strlen(s);
		memcpy(in + len, s, sl);
		len += sl;
		if (t[0] == '\x01' && strlen(t) > 4) {
			memcpy(in + len, t + 4, strlen(t + 4));
			len += strlen(t + 4);
		}
	}

	char *out = NULL;
	size_t outlen = 0;
	int rc = kpy_relocate_buf(rel, in, len, &r, &out, &outlen);
	if (rc < 0)
		abort();
	if (rc == 0) {
		out = malloc(len + 1);
		memcpy(out, in, len);
		outlen = len;
	}
	(void)kpy_find_prefix(in, len, old);

	/* the same through the file, streamed */
	struct kpy_err e = KPY_ERR_INIT;
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	put_file(path, in, len);
	int frc = kpy_relocate_file(dir, rel, &r, &e);
	size_t glen;
	char *got = get_file(path, &glen);
	int elf = len >= 4 && memcmp(in, "\177ELF", 4) == 0;
	if (frc == 0 && !elf && (glen != outlen || memcmp(got, out, glen) != 0)) {
		fprintf(stderr, "file and buffer disagree (chunk %zu, %s)\nbuf:  [%.*s]\nfile: [%.*s]\n",
			kpy_relocate_chunk, rel, (int)outlen, out, (int)glen, got);
		abort();
	}
	if (frc == 0 && elf && (glen != len || memcmp(got, in, len) != 0))
		abort();
	if (frc != 0 && (glen != len || memcmp(got, in, len) != 0)) /* a failure leaves the file */
		abort();
	free(got);
	free(out);
	free(in);
	return 0;
}
