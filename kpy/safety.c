/* safety.c: what an archive entry may name when it is restored. */
#include "autoconfig.h"
#include "safety.h"

#include <string.h>

/* A safe relative entry name, normalised (no leading "./"); NULL if hostile. */
const char *kpy_safe_name(const char *name)
{
	if (name == NULL)
		return NULL;
	while (name[0] == '.' && name[1] == '/')
		name += 2;
	if (name[0] == '\0' || name[0] == '/')
		return NULL;
	for (const char *p = name; *p; ) {
		size_t n = strcspn(p, "/");
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return NULL;
		p += n;
		while (*p == '/')
			p++;
	}
	return name;
}
