/* error.c: setting and keeping the first error of an operation. */
#include "autoconfig.h"
#include "error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int vset(struct kpy_err *e, int code, const char *suffix, const char *fmt, va_list ap)
{
	if (e == NULL || e->code != KPY_OK)
		return -1;
	e->code = code;
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	if (suffix != NULL) {
		size_t n = strlen(e->msg);
		snprintf(e->msg + n, sizeof(e->msg) - n, ": %s", suffix);
	}
	return -1;
}

int kpy_err_set(struct kpy_err *e, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vset(e, code, NULL, fmt, ap);
	va_end(ap);
	return -1;
}

int kpy_err_sys(struct kpy_err *e, int errnum, const char *fmt, ...)
{
	va_list ap;
	int code = KPY_EFAIL;

	if (errnum == ENOSPC || errnum == EDQUOT)
		code = KPY_ENOSPC;
	else if (errnum == ENOENT)
		code = KPY_ENOENT;
	va_start(ap, fmt);
	vset(e, code, strerror(errnum), fmt, ap);
	va_end(ap);
	return -1;
}

void kpy_err_clear(struct kpy_err *e)
{
	e->code = KPY_OK;
	e->msg[0] = '\0';
}
