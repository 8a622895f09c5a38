/* test_text.c: kpy/text.c escapes control bytes and suggests near names. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include "text.h"

Test(text, escapes_control_bytes)
{
	char *s = kpy_escape("a\nb\tc\x1b[31md\x7f\\e");

	cr_assert_not_null(s);
	cr_assert_str_eq(s, "a\\nb\\tc\\x1b[31md\\x7f\\\\e");
	free(s);
	s = kpy_escape("caf\xc3\xa9 plain");
	cr_assert_str_eq(s, "caf\xc3\xa9 plain");
	free(s);
}

/* C1 controls (raw 0x9b, or UTF-8 U+009B) act as CSI on some terminals */
Test(text, escapes_c1_and_invalid_utf8)
{
	char *s = kpy_escape("a\x9b" "31m b\xc2\x9b" "31m c\xc3\x9f d\xe2\x82\xac e\xc3");

	cr_assert_not_null(s);
	cr_assert_str_eq(s, "a\\x9b" "31m b\\xc2\\x9b" "31m c\xc3\x9f d\xe2\x82\xac e\\xc3");
	free(s);
	s = kpy_escape("\xed\xa0\x80\xf8\x88\x80\x80\x80");
	cr_assert_str_eq(s, "\\xed\\xa0\\x80\\xf8\\x88\\x80\\x80\\x80");
	free(s);
}

Test(text, escape_to_cuts_whole_escapes)
{
	char buf[6];

	kpy_escape_to(buf, sizeof(buf), "ab\ncd");
	cr_assert_str_eq(buf, "ab\\nc");
	kpy_escape_to(buf, 4, "ab\ncd");
	cr_assert_str_eq(buf, "ab");
	kpy_escape_to(buf, 1, "x");
	cr_assert_str_eq(buf, "");
}

Test(text, suggests_typos_only)
{
	const char *const cmds[] = { "create", "save", "load", "activate", "list", NULL };
	const char *const envs[] = { "science", "sci", "torch", NULL };

	cr_assert_str_eq(kpy_suggest("creat", cmds), "create");
	cr_assert_str_eq(kpy_suggest("laod", cmds), "load");
	cr_assert_str_eq(kpy_suggest("scince", envs), "science");
	cr_assert_null(kpy_suggest("zzzzzz", envs));
	cr_assert_null(kpy_suggest("torch", envs)); /* an exact match is no typo */
	cr_assert_null(kpy_suggest("x", NULL));
}

Test(text, human_sizes)
{
	char b[32];

	kpy_human_size(b, sizeof(b), 512);
	cr_assert_str_eq(b, "512B");
	kpy_human_size(b, sizeof(b), 1536);
	cr_assert_str_eq(b, "1.5K");
	kpy_human_size(b, sizeof(b), 2.5 * 1024 * 1024 * 1024);
	cr_assert_str_eq(b, "2.5G");
	kpy_human_size(b, sizeof(b), 3.0 * 1024 * 1024 * 1024 * 1024 * 1024);
	cr_assert_str_eq(b, "3.0P");
}
