/* offline.h: the offline policy, one table for the plugin, kpy load --sh, kpy run and
 * the shell code: on compute nodes pip and uv install from the pipdir's wheelhouse. */
#ifndef KPY_OFFLINE_H
#define KPY_OFFLINE_H

/* The wheelhouse of PIPDIR: <pipdir>/wheels, trailing slashes of PIPDIR dropped.
 * Malloc'd; NULL when out of memory. */
char *kpy_wheelhouse(const char *pipdir);

struct kpy_offline_var {
	const char *name;  /* PIP_NO_INDEX, ... */
	const char *value; /* a fixed value (a word safe to print in shell code), or
			    * NULL: the wheelhouse */
};
/* The variables that make pip and uv offline, fixed values first, then those set to
 * the wheelhouse; the last entry is { NULL, NULL }. */
extern const struct kpy_offline_var kpy_offline_vars[];

/* Call SET(NAME, VALUE, ARG) for each variable of kpy_offline_vars, VALUE the
 * wheelhouse WHEELS where the table says so (with WHEELS NULL those are skipped).
 * Stops at the first SET that returns < 0 and returns -1; else 0. */
int kpy_offline_apply(const char *wheels,
		      int (*set)(const char *name, const char *value, void *arg), void *arg);

#endif
