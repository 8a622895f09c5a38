/* test_kv.c: kpy/kv.c, the key = value reader of pyvenv.cfg and the manifest, on
 * ordinary and hostile text. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include "kv.h"

static int next(const char *t, size_t *pos, struct kpy_kv *kv)
{
	return kpy_kv_next(t, strlen(t), pos, kv);
}

Test(kv, reads_lines_like_pyvenv_cfg)
{
	const char *t = "home = /usr/bin\r\ninclude-system-site-packages = false\n"
			"  version =3.11.2  \n\n# comment = no\n; also = no\n[section]\nprompt = 'a = b; #c'";
	struct kpy_kv kv;
	size_t pos = 0;

	cr_assert_eq(next(t, &pos, &kv), 1);
	cr_assert(kpy_kv_is(&kv, "home"));
	cr_assert_eq(kv.vallen, strlen("/usr/bin"), "the \\r is not part of the value");
	cr_assert_eq(memcmp(kv.val, "/usr/bin", kv.vallen), 0);
	cr_assert_eq(next(t, &pos, &kv), 1);
	cr_assert(kpy_kv_is(&kv, "include-system-site-packages"));
	cr_assert_eq(next(t, &pos, &kv), 1);
	cr_assert(kpy_kv_is(&kv, "version"));
	cr_assert_eq(kv.vallen, 6, "blanks around the value are not part of it");
	cr_assert_eq(next(t, &pos, &kv), 1, "comments, blank and section lines are skipped");
	cr_assert(kpy_kv_is(&kv, "prompt"));
	cr_assert_eq(kv.vallen, strlen("'a = b; #c'"), "a value runs to the end of its line");
	cr_assert_eq(kv.end, strlen(t));
	cr_assert_eq(next(t, &pos, &kv), 0);
	cr_assert_eq(next(t, &pos, &kv), 0, "the end stays the end");
}

Test(kv, a_line_without_equals_is_reported_and_skipped)
{
	const char *t = "a = 1\ngarbage\nb = 2\n";
	struct kpy_kv kv;
	size_t pos = 0;

	cr_assert_eq(next(t, &pos, &kv), 1);
	cr_assert_eq(next(t, &pos, &kv), -1);
	cr_assert_eq(kv.start, 6);
	cr_assert_eq(kv.end, 14);
	cr_assert_eq(next(t, &pos, &kv), 1);
	cr_assert(kpy_kv_is(&kv, "b"));
}

Test(kv, hostile_text)
{
	struct kpy_kv kv;
	size_t pos;
	/* empty, only separators, '=' first, no newline at the end, a key prefix */
	const char *cases[] = { "", "\n\n\r\n", "= v", "=", "k=", "  \t  ", "[", "#" };
	int want[] = { 0, 0, 1, 1, 1, 0, 0, 0 };

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pos = 0;
		cr_assert_eq(next(cases[i], &pos, &kv), want[i], "case %zu", i);
		cr_assert(pos <= strlen(cases[i]));
	}
	pos = 0;
	cr_assert_eq(next("= v", &pos, &kv), 1);
	cr_assert_eq(kv.keylen, 0);
	cr_assert(!kpy_kv_is(&kv, ""  "x"));
	/* a key is matched whole, not as a prefix */
	char *v = kpy_kv_get("versionx = 1\nversion = 2\n", "version");
	cr_assert_str_eq(v, "2");
	free(v);
	cr_assert_null(kpy_kv_get("no equals here", "no"));
	/* a long line: found without a line-length limit */
	size_t n = 1 << 20;
	char *big = malloc(n + 16);
	memcpy(big, "k = ", 4);
	memset(big + 4, 'x', n);
	strcpy(big + 4 + n, "\n");
	v = kpy_kv_get(big, "k");
	cr_assert_eq(strlen(v), n);
	free(v);
	free(big);
}
