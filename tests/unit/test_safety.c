/* test_safety.c: kpy/safety.c: which entry names a restore accepts, and how it
 * normalises them. */
#include <criterion/criterion.h>
#include <stddef.h>
#include <string.h>
#include "safety.h"

Test(safety, plain_names_pass_and_lose_leading_dot_slash)
{
	cr_assert_str_eq(kpy_safe_name("bin/python"), "bin/python");
	cr_assert_str_eq(kpy_safe_name("./bin/python"), "bin/python");
	cr_assert_str_eq(kpy_safe_name("././lib"), "lib");
	cr_assert_str_eq(kpy_safe_name("a..b/..c/d.."), "a..b/..c/d..", "dots inside names are fine");
	cr_assert_str_eq(kpy_safe_name("lib/./x"), "lib/./x");
	cr_assert_str_eq(kpy_safe_name(".hidden"), ".hidden");
	cr_assert_str_eq(kpy_safe_name("dir/"), "dir/");
}

Test(safety, hostile_names_are_refused)
{
	static const char *const bad[] = {
		"", "/", "/etc/passwd", "//etc/passwd", "..", "../x", "a/../../x", "a/..", "a/../b",
		"./", "./..", "././../x", "a//..//b", "./.", NULL,
	};
	cr_assert_null(kpy_safe_name(NULL));
	for (size_t i = 0; bad[i] != NULL; i++) {
		const char *r = kpy_safe_name(bad[i]);
		/* "./." normalises to "." : the root itself, allowed only if not empty */
		if (strcmp(bad[i], "./.") == 0) {
			cr_assert(r == NULL || strcmp(r, ".") == 0, "[%s]", bad[i]);
			continue;
		}
		cr_assert_null(r, "[%s] is refused, not [%s]", bad[i], r ? r : "");
	}
}
