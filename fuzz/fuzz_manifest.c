/* fuzz_manifest.c: libFuzzer target for kpy_manifest_parse on raw bytes, and the
 * format/parse round trip of whatever it accepts. */
#include "autoconfig.h"
#include "manifest.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int same(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kpy_manifest m = { 0 }, m2 = { 0 };
	struct kpy_err e = KPY_ERR_INIT;
	char *text, *again;
	size_t len;

	/* an exact-size copy, so ASan sees any read past LEN */
	if ((text = malloc(size ? size : 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	if (kpy_manifest_parse(text, size, &m, &e) < 0) {
		if (e.code == KPY_OK || e.msg[0] == '\0') {
			fprintf(stderr, "fuzz_manifest: failed without a message\n");
			abort();
		}
		kpy_manifest_free(&m);
		free(text);
		return 0;
	}
	/* what parses must format and parse back to the same fields (values are C
	 * strings: a NUL byte ends one, so only text without NULs must round-trip) */
	if (memchr(data, '\0', size) == NULL && (again = kpy_manifest_format(&m, &len)) != NULL) {
		struct kpy_err e2 = KPY_ERR_INIT;
		if (kpy_manifest_parse(again, len, &m2, &e2) == 0 &&
		    !(same(m.kind, m2.kind) && same(m.prefix, m2.prefix) && same(m.name, m2.name) &&
		      same(m.base_python, m2.base_python) &&
		      same(m.script, m2.script) && same(m.requires, m2.requires) && m.files == m2.files && m.bytes == m2.bytes)) {
			fprintf(stderr, "fuzz_manifest: format/parse round trip changed a field\n");
			abort();
		}
		kpy_manifest_free(&m2);
		free(again);
	}
	kpy_manifest_free(&m);
	free(text);
	return 0;
}
