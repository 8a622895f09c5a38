/* offline.c: the wheelhouse path and the variables that keep pip and uv to it. */
#include "autoconfig.h"
#include "offline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct kpy_offline_var kpy_offline_vars[] = {
	{ "PIP_NO_INDEX", "1" },
	{ "UV_OFFLINE", "1" },
	{ "UV_PYTHON_DOWNLOADS", "never" },
	{ "PIP_FIND_LINKS", NULL },
	{ "UV_FIND_LINKS", NULL },
	{ NULL, NULL },
};

char *kpy_wheelhouse(const char *pipdir)
{
	size_t len = strlen(pipdir);
	char *p;

	while (len > 0 && pipdir[len - 1] == '/')
		len--;
	return asprintf(&p, "%.*s/wheels", (int)len, pipdir) < 0 ? NULL : p;
}

int kpy_offline_apply(const char *wheels,
		      int (*set)(const char *name, const char *value, void *arg), void *arg)
{
	for (const struct kpy_offline_var *v = kpy_offline_vars; v->name != NULL; v++) {
		const char *value = v->value != NULL ? v->value : wheels;

		if (value != NULL && set(v->name, value, arg) < 0)
			return -1;
	}
	return 0;
}
