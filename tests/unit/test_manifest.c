/* test_manifest.c: kpy/manifest.c renders and parses .kpy/manifest.ini. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include "manifest.h"

Test(manifest, round_trip)
{
	struct kpy_manifest m = {
		.format = 1, .kind = "venv", .name = "demo", .prefix = "/tmp/a b/venv",
		.prompt = "demo", .python_version = "3.11.2", .base_python = "/usr/bin/python3.11",
		.saved = 1700000000, .kpy_version = "0.1.0", .files = 12, .bytes = 3456,
	}, r;
	struct kpy_err e = KPY_ERR_INIT;
	size_t len;
	char *text = kpy_manifest_format(&m, &len);

	cr_assert_not_null(text);
	cr_assert_eq(strlen(text), len);
	cr_assert_eq(kpy_manifest_parse(text, len, &r, &e), 0, "%s", e.msg);
	cr_assert_str_eq(r.kind, "venv");
	cr_assert_str_eq(r.prefix, "/tmp/a b/venv");
	cr_assert_str_eq(r.base_python, "/usr/bin/python3.11");
	cr_assert_eq(r.saved, 1700000000);
	cr_assert_eq(r.files, 12);
	cr_assert_eq(r.bytes, 3456);
	kpy_manifest_free(&r);
	free(text);
}

Test(manifest, malformed_is_damaged)
{
	struct kpy_manifest r;
	struct kpy_err e = KPY_ERR_INIT;
	const char *bad[] = {
		"", "garbage without equals\n", "format = 1\nkind = venv\n",
		"format = 1\nkind = venv\nprefix = relative\n",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		kpy_err_clear(&e);
		cr_assert_eq(kpy_manifest_parse(bad[i], strlen(bad[i]), &r, &e), -1, "case %zu", i);
		cr_assert_eq(e.code, KPY_EDAMAGED, "case %zu", i);
	}
}

Test(manifest, newer_format_asks_for_an_upgrade)
{
	const char *t = "format = 9\nkind = venv\nprefix = /x\n";
	struct kpy_manifest r;
	struct kpy_err e = KPY_ERR_INIT;

	cr_assert_eq(kpy_manifest_parse(t, strlen(t), &r, &e), -1);
	cr_assert_eq(e.code, KPY_EINVAL);
	cr_assert(strstr(e.msg, "upgrade kpy") != NULL);
}
