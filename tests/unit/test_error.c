/* test_error.c: kpy/error.c keeps the first error and maps errno to codes. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include "error.h"

Test(error, keeps_the_first)
{
	struct kpy_err e = KPY_ERR_INIT;

	cr_assert_eq(kpy_err_set(&e, KPY_EINVAL, "first %d", 1), -1);
	kpy_err_set(&e, KPY_EFAIL, "second");
	cr_assert_eq(e.code, KPY_EINVAL);
	cr_assert_str_eq(e.msg, "first 1");
	kpy_err_clear(&e);
	cr_assert_eq(e.code, KPY_OK);
	kpy_err_set(&e, KPY_EFAIL, "again");
	cr_assert_str_eq(e.msg, "again");
}

Test(error, errno_maps_to_codes)
{
	struct kpy_err e = KPY_ERR_INIT;

	kpy_err_sys(&e, ENOSPC, "cannot write %s", "x");
	cr_assert_eq(e.code, KPY_ENOSPC);
	cr_assert(strstr(e.msg, "cannot write x: ") == e.msg);
	cr_assert(strstr(e.msg, strerror(ENOSPC)) != NULL);
	kpy_err_clear(&e);
	kpy_err_sys(&e, EDQUOT, "q");
	cr_assert_eq(e.code, KPY_ENOSPC);
	kpy_err_clear(&e);
	kpy_err_sys(&e, ENOENT, "n");
	cr_assert_eq(e.code, KPY_ENOENT);
	kpy_err_clear(&e);
	kpy_err_sys(&e, EACCES, "a");
	cr_assert_eq(e.code, KPY_EFAIL);
}

Test(error, long_messages_are_cut_not_overflowed)
{
	struct kpy_err e = KPY_ERR_INIT;
	char big[4000];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	kpy_err_sys(&e, EIO, "%s", big);
	cr_assert_eq(strlen(e.msg), sizeof(e.msg) - 1);
}
