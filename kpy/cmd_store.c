/* cmd_store.c: the commands that look at and prune the saved environments. */
#include "autoconfig.h"
#include "cmd.h"
#include "config.h"
#include "store.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

int print_saved(int names_only)
{
	struct kpy_err e = KPY_ERR_INIT;
	struct kpy_config cfg = { 0 };
	struct kpy_saved *v = NULL;
	size_t n = 0;
	int rc = 1;

	if (kpy_config_load(&cfg, &e) < 0 || kpy_store_list(cfg.pipdir, KPY_KIND_VENV, &v, &n, &e) < 0)
		goto out;
	if (!names_only)
		printf("%-24s %-10s %8s  %s\n", "NAME", "PYTHON", "SIZE", "SAVED");
	for (size_t i = 0; i < n; i++) {
		char size[16], date[32] = "?";
		double b = (double)v[i].size;
		const char *u = "BKMGT";
		int k = 0;

		if (names_only) {
			printf("%s\n", v[i].name);
			continue;
		}
		while (b >= 1024 && k < 4)
			b /= 1024, k++;
		snprintf(size, sizeof(size), k ? "%.1f%c" : "%.0f%c", b, u[k]);
		if (!v[i].damaged) {
			time_t t = (time_t)v[i].m.saved;
			struct tm tm;
			if (localtime_r(&t, &tm) != NULL)
				strftime(date, sizeof(date), "%Y-%m-%d %H:%M", &tm);
		}
		printf("%-24s %-10s %8s  %s\n", v[i].name,
		       v[i].damaged ? "DAMAGED" : (v[i].m.python_version ? v[i].m.python_version : "-"),
		       size, v[i].damaged ? "(unreadable manifest: see kpy(1), ARCHIVES)" : date);
	}
	if (n == 0 && !names_only)
		say("no saved environments in %s: save the active one with 'kpy save NAME'", cfg.pipdir);
	rc = 0;
out:
	if (rc != 0)
		fail(&e);
	kpy_saved_free(v, n);
	kpy_config_free(&cfg);
	return rc;
}

int cmd_list(int argc, char **argv)
{
	int names = 0;

	if (wants_help("list", argc, argv))
		return 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--names") == 0 || strcmp(argv[i], "-q") == 0)
			names = 1;
		else if (argv[i][0] == '-')
			return usage_error("list", "unknown option '%s'", argv[i]);
		else
			return usage_error("list", "too many arguments");
	}
	return print_saved(names);
}

int cmd_rm(int argc, char **argv)
{
	struct kpy_err e = KPY_ERR_INIT;
	struct kpy_config cfg = { 0 };
	int rc = 1;

	if (wants_help("rm", argc, argv))
		return 0;
	if (argc != 2)
		return usage_error("rm", argc < 2 ? "give the NAME of the saved environment to delete" : "too many arguments");
	if (argv[1][0] == '-' && argv[1][1] != '\0')
		return usage_error("rm", "unknown option '%s'", argv[1]);
	if (kpy_config_load(&cfg, &e) < 0 || kpy_store_check(cfg.pipdir, KPY_KIND_VENV, 1, 0, &e) < 0 ||
	    kpy_store_rm(cfg.pipdir, KPY_KIND_VENV, argv[1], &e) < 0)
		goto out;
	say("removed %s", argv[1]);
	rc = 0;
out:
	if (rc != 0)
		fail(&e);
	kpy_config_free(&cfg);
	return rc;
}
