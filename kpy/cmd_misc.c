/* cmd_misc.c: kpy config and kpy bash. */
#include "autoconfig.h"
#include "cmd.h"
#include "config.h"
#include "offline.h"
#include "text.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void print_value(const struct kpy_config *c, const char *key, int with_key)
{
	if (with_key)
		printf("%s = ", key);
	if (strcmp(key, "pipdir") == 0 || strcmp(key, "compute_hosts") == 0) {
		/* from files another may have written (the site file): shown escaped */
		const char *v = key[0] == 'p' ? c->pipdir : c->compute_hosts;
		char *shown = kpy_escape(v ? v : "");
		printf("%s\n", shown ? shown : "");
		free(shown);
	}
	else if (strcmp(key, "level") == 0)
		printf("%d\n", c->level);
}

static int unknown_key(const char *key)
{
	const char *near = kpy_suggest(key, kpy_config_keys);

	if (near != NULL)
		return usage_error("config", "unknown setting '%s'; did you mean '%s'? the settings are pipdir, compute_hosts, level", key, near);
	return usage_error("config", "unknown setting '%s': the settings are pipdir, compute_hosts, level", key);
}

/* After 'kpy config pipdir VALUE': say when that directory is not there (yet), and
 * when KPY_PIPDIR hides the setting in this shell. */
static void check_pipdir(void)
{
	struct kpy_err e = KPY_ERR_INIT;
	struct kpy_config c = { 0 };
	const char *env = getenv("KPY_PIPDIR");
	struct stat st;

	if (env != NULL && env[0] != '\0')
		say("note: KPY_PIPDIR=%s is set and overrides this setting in this shell", env);
	unsetenv("KPY_PIPDIR");
	if (kpy_config_load(&c, &e) < 0)
		return;
	if (stat(c.pipdir, &st) < 0 && errno == ENOENT)
		say("warning: the pipdir %s does not exist (yet): 'kpy save' will create it, or create it now with 'mkdir -p %s'; until then 'kpy list' and 'kpy load' find nothing there",
		    c.pipdir, c.pipdir);
	else if (stat(c.pipdir, &st) == 0 && !S_ISDIR(st.st_mode))
		say("warning: the pipdir %s is not a directory: kpy cannot use it until it is one", c.pipdir);
	kpy_config_free(&c);
}

int cmd_config(int argc, char **argv)
{
	struct kpy_err e = KPY_ERR_INIT;
	struct kpy_config c = { 0 };
	int rc = 1;

	if (wants_help("config", argc, argv))
		return 0;
	if (argc >= 2 && strcmp(argv[1], "--unset") == 0) {
		if (argc != 3)
			return usage_error("config", "--unset needs exactly one KEY");
		if (!kpy_config_known(argv[2]))
			return unknown_key(argv[2]);
		return kpy_config_set(argv[2], NULL, &e) < 0 ? fail(&e) : 0;
	}
	for (int i = 1; i < argc; i++)
		if (argv[i][0] == '-' && argv[i][1] != '\0')
			return usage_error("config", "unknown option '%s'", argv[i]);
	if (argc > 3)
		return usage_error("config", "too many arguments");
	if (argc >= 2 && !kpy_config_known(argv[1]))
		return unknown_key(argv[1]);
	if (argc == 3) {
		if (kpy_config_set(argv[1], argv[2], &e) < 0)
			return fail(&e);
		if (strcmp(argv[1], "pipdir") == 0)
			check_pipdir();
		return 0;
	}
	if (kpy_config_load(&c, &e) < 0)
		return fail(&e);
	if (argc == 2) {
		print_value(&c, argv[1], 0);
	} else {
		for (int i = 0; kpy_config_keys[i]; i++)
			print_value(&c, kpy_config_keys[i], 1);
	}
	rc = 0;
	kpy_config_free(&c);
	return rc;
}

/* For the shell code itself, not for users: the offline variables as export lines
 * (--offline; the shell function runs it on compute nodes), or the wheelhouse path
 * (--wheelhouse; the pip wrapper's --find-links), so that kpy.bash holds no copy of
 * the offline table (kpy/offline.c). Exit status 1 when there is no wheelhouse. */
static int bash_internal(const char *what)
{
	struct kpy_err e = KPY_ERR_INIT;
	struct kpy_config cfg = { 0 };
	int ok = kpy_config_load(&cfg, &e) == 0, rc = 0;

	if (strcmp(what, "--offline") == 0) {
		print_offline_exports(ok ? &cfg : NULL);
	} else {
		char *wheels = ok ? kpy_wheelhouse(cfg.pipdir) : NULL;

		if (wheels != NULL)
			printf("%s\n", wheels);
		else
			rc = 1;
		free(wheels);
	}
	kpy_config_free(&cfg);
	return fflush(stdout) == 0 ? rc : 1;
}

int cmd_bash(int argc, char **argv)
{
	char self[PATH_MAX];
	ssize_t n;

	if (wants_help("bash", argc, argv))
		return 0;
	if (argc == 2 && (strcmp(argv[1], "--offline") == 0 || strcmp(argv[1], "--wheelhouse") == 0))
		return bash_internal(argv[1]);
	if (argc > 1)
		return usage_error("bash", "too many arguments");
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		snprintf(self, sizeof(self), "kpy");
	else
		self[n] = '\0';
	/* the code names this binary, so the function works before kpy is in PATH */
	for (const char *p = kpy_shell_code; *p; ) {
		const char *at = strstr(p, "@KPY@");
		if (at == NULL) {
			fputs(p, stdout);
			break;
		}
		fwrite(p, 1, (size_t)(at - p), stdout);
		/* @KPY@ stands inside double quotes: escape what is special there */
		for (const char *c = self; *c; c++) {
			if (strchr("$`\"\\", *c))
				putchar('\\');
			putchar(*c);
		}
		p = at + 5;
	}
	return fflush(stdout) == 0 ? 0 : 1;
}
