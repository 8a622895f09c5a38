/* log.c: every message the plugin logs or shows goes through kpy_escape here. */
#include "autoconfig.h"
#include "log.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <slurm/spank.h>

#include "text.h"

static char *vformat(const char *fmt, va_list ap)
{
	char *raw = NULL, *s = NULL;

	if (vasprintf(&raw, fmt, ap) >= 0)
		s = kpy_escape(raw);
	free(raw);
	return s != NULL ? s : strdup("kpy: out of memory");
}

char *kpy_log_format(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = vformat(fmt, ap);
	va_end(ap);
	return s;
}

void kpy_log_error(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = vformat(fmt, ap);
	va_end(ap);
	slurm_error("%s", s != NULL ? s : "kpy: out of memory");
	free(s);
}

void kpy_log_info(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = vformat(fmt, ap);
	va_end(ap);
	slurm_info("%s", s != NULL ? s : "kpy: out of memory");
	free(s);
}
