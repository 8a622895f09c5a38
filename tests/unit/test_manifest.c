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
	const char *t = "format = 9\nkind = venv\nprefix = /x\nfiles = 1\n";
	struct kpy_manifest r;
	struct kpy_err e = KPY_ERR_INIT;

	cr_assert_eq(kpy_manifest_parse(t, strlen(t), &r, &e), -1);
	cr_assert_eq(e.code, KPY_ENEWER);
	cr_assert(strstr(e.msg, "newer than this kpy") != NULL, "%s", e.msg);
}

Test(manifest, newer_format_is_named)
{
	const char *t = "format = 2\nkind = venv\nprefix = /x\nfiles = 1\n";
	struct kpy_manifest r;
	struct kpy_err e = KPY_ERR_INIT;

	cr_assert_eq(kpy_manifest_parse(t, strlen(t), &r, &e), -1);
	cr_assert(strstr(e.msg, "format 2 is newer") != NULL, "%s", e.msg);
}

/* Hostile manifests: each is malformed (KPY_EDAMAGED), never read past its length. */
Test(manifest, hostile_text_is_damaged)
{
	static const struct { const char *text; size_t len; } bad[] = {
#define T(s) { s, sizeof(s) - 1 }
		T("format = 1\nkind = venv\nprefix = /x\nfiles = 99999999999999999999999\n"),
		T("format = 1\nkind = venv\nprefix = /x\nfiles = -5\n"),
		T("format = 1\nkind = venv\nprefix = /x\nfiles = 1\nbytes = -1\n"),
		T("format = 1\nkind = venv\nprefix = /x\nfiles = 12abc\n"),
		T("format = 1\nkind = venv\nprefix = /x\nfiles = \n"),
		T("format = 99999999999999999999\nkind = venv\nprefix = /x\nfiles = 1\n"),
		T("format = -1\nkind = venv\nprefix = /x\nfiles = 1\n"),
		T("format = 1\nkind = venv\nprefix = /x\0/y\nfiles = 1\n"),
		T("format = 1\nkind = venv\nprefix = /x\nprefix = /y\nfiles = 1\n"),
		T("format = 1\nformat = 1\nkind = venv\nprefix = /x\nfiles = 1\n"),
		T("format = 1\nkind = venv\nprefix = /x\n"),            /* no files */
		T("kind = venv\nprefix = /x\nfiles = 1\n"),               /* no format */
		T("format = 1\nprefix = /x\nfiles = 1\n"),                /* no kind */
		T("format = 1\nkind = venv\nfiles = 1\n"),                /* no prefix */
		/* found by fuzz_manifest: a '\r' left in a value changed on the next write */
		T("format = 1\nkind = venv\nname = eed\r\r\nprefix = /x\nfiles = 1\n"),
		T("format = 1\nkind = venv\nprefix = /x\x1b[31m\nfiles = 1\n"),
#undef T
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct kpy_manifest r;
		struct kpy_err e = KPY_ERR_INIT;
		/* an exact-size heap copy: ASan sees any read past LEN */
		char *copy = malloc(bad[i].len);
		memcpy(copy, bad[i].text, bad[i].len);
		cr_assert_eq(kpy_manifest_parse(copy, bad[i].len, &r, &e), -1, "case %zu accepted", i);
		cr_assert_eq(e.code, KPY_EDAMAGED, "case %zu: %s", i, e.msg);
		free(copy);
	}
}

Test(manifest, no_final_newline_and_crlf_are_fine)
{
	static const char *good[] = {
		"format = 1\nkind = venv\nprefix = /x\nfiles = 42",
		"format = 1\r\nkind = venv\r\n\r\n[kpy]\r\nprefix = /x\r\nfiles = 42\r\n",
		"format=1\nkind=venv\nprefix=/x\nfiles=42\nfuture_key = anything\n",
	};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct kpy_manifest r;
		struct kpy_err e = KPY_ERR_INIT;
		size_t len = strlen(good[i]);
		char *copy = malloc(len);
		memcpy(copy, good[i], len);
		cr_assert_eq(kpy_manifest_parse(copy, len, &r, &e), 0, "case %zu: %s", i, e.msg);
		cr_assert_eq(r.files, 42, "case %zu", i);
		cr_assert_str_eq(r.prefix, "/x", "case %zu", i);
		cr_assert_str_eq(r.kind, "venv", "case %zu", i);
		kpy_manifest_free(&r);
		free(copy);
	}
}

Test(manifest, script_keys_round_trip)
{
	struct kpy_manifest m = {
		.format = 1, .kind = "venv", .name = "py3.11-0123456789abcdef", .prefix = "/x",
		.files = 1, .script = "eval.py", .requires = "numpy>=1.0 requests[socks]",
	}, r;
	struct kpy_err e = KPY_ERR_INIT;
	size_t len;
	char *text = kpy_manifest_format(&m, &len);

	cr_assert_not_null(text);
	cr_assert(strstr(text, "\nscript = eval.py\n") != NULL, "%s", text);
	cr_assert(strstr(text, "\nrequires = numpy>=1.0 requests[socks]\n") != NULL, "%s", text);
	cr_assert_eq(kpy_manifest_parse(text, len, &r, &e), 0, "%s", e.msg);
	cr_assert_str_eq(r.script, "eval.py");
	cr_assert_str_eq(r.requires, "numpy>=1.0 requests[socks]");
	kpy_manifest_free(&r);
	free(text);
}

Test(manifest, script_keys_are_optional)
{
	const char *t = "format = 1\nkind = venv\nprefix = /x\nfiles = 1\n";
	struct kpy_manifest r;
	struct kpy_err e = KPY_ERR_INIT;

	cr_assert_eq(kpy_manifest_parse(t, strlen(t), &r, &e), 0, "%s", e.msg);
	cr_assert_null(r.script);
	cr_assert_null(r.requires);
	kpy_manifest_free(&r);
}

/* a script name with a newline cannot add a line (a forged key) to the manifest */
Test(manifest, script_control_bytes_are_escaped)
{
	struct kpy_manifest m = {
		.format = 1, .kind = "venv", .prefix = "/x", .files = 1,
		.script = "a\nprefix = /evil\x1b[2J.py", .requires = "x\ry",
	}, r;
	struct kpy_err e = KPY_ERR_INIT;
	size_t len;
	char *text = kpy_manifest_format(&m, &len);

	cr_assert_not_null(text);
	cr_assert_null(strstr(text, "\nprefix = /evil"));
	cr_assert_null(strchr(text, '\x1b'));
	cr_assert_null(strchr(text, '\r'));
	cr_assert_eq(kpy_manifest_parse(text, len, &r, &e), 0, "%s", e.msg);
	cr_assert_str_eq(r.prefix, "/x");
	cr_assert_str_eq(r.script, "a\\nprefix = /evil\\x1b[2J.py");
	cr_assert_str_eq(r.requires, "x\\ry");
	kpy_manifest_free(&r);
	free(text);
}

/* hostile script keys in a manifest someone else wrote */
Test(manifest, script_keys_hostile)
{
	const char *bad[] = {
		"format = 1\nkind = venv\nprefix = /x\nfiles = 1\nscript = a\x1b]0;x\x07\n",
		"format = 1\nkind = venv\nprefix = /x\nfiles = 1\nrequires = a\rb\n",
		"format = 1\nkind = venv\nprefix = /x\nfiles = 1\nscript = a\nscript = b\n",
		"format = 1\nkind = venv\nprefix = /x\nfiles = 1\nrequires = a\nrequires = b\n",
	};
	struct kpy_manifest r;
	struct kpy_err e = KPY_ERR_INIT;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		kpy_err_clear(&e);
		cr_assert_eq(kpy_manifest_parse(bad[i], strlen(bad[i]), &r, &e), -1, "case %zu", i);
		cr_assert_eq(e.code, KPY_EDAMAGED, "case %zu", i);
	}
}

/* Not INI: ';' and '#' inside a value are part of it (an INI reader would cut the
 * prefix there), and the text names itself as what it is. */
Test(manifest, semicolon_and_hash_in_a_prefix_survive)
{
	struct kpy_manifest m = {
		.format = 1, .kind = "venv", .name = "x", .prefix = "/scratch/a;b #c=d",
		.saved = 1, .files = 1,
	}, r;
	struct kpy_err e = KPY_ERR_INIT;
	size_t len;
	char *text = kpy_manifest_format(&m, &len);

	cr_assert_not_null(text);
	cr_assert(strstr(text, "[kpy]") == NULL && strstr(text, "key = value"), "%s", text);
	cr_assert_eq(kpy_manifest_parse(text, len, &r, &e), 0, "%s", e.msg);
	cr_assert_str_eq(r.prefix, "/scratch/a;b #c=d");
	kpy_manifest_free(&r);
	free(text);
}

/* Manifests of older kpy began "# kpy archive manifest\n[kpy]\n": still read. */
Test(manifest, old_ini_header_still_parses)
{
	const char *t = "# kpy archive manifest\n[kpy]\nformat = 1\nkind = venv\nprefix = /x\nfiles = 3\n";
	struct kpy_manifest r;
	struct kpy_err e = KPY_ERR_INIT;

	cr_assert_eq(kpy_manifest_parse(t, strlen(t), &r, &e), 0, "%s", e.msg);
	cr_assert_str_eq(r.prefix, "/x");
	cr_assert_eq(r.files, 3);
	kpy_manifest_free(&r);
}
