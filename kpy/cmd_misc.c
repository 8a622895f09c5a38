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

/* KEY's value, from files another may have written (the site file): shown escaped. */
static void print_value(const struct kpy_config *c, const char *key, int with_key)
{
	char *v = kpy_config_value(c, key), *shown = kpy_escape(v ? v : "");

	if (with_key)
		printf("%s = ", key);
	printf("%s\n", shown ? shown : "");
	free(shown);
	free(v);
}

static int unknown_key(const struct cmd *self, const char *key)
{
	struct kpy_err e = KPY_ERR_INIT;

	kpy_config_check_key(key, &e);
	return usage_error(self, "%s", e.msg);
}

void config_help_keys(void)
{
	for (const struct kpy_config_key *k = kpy_config_table; k->name; k++)
		printf("  %-14s %s (default: %s)\n", k->name, k->about, k->dflt);
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

int cmd_config(const struct cmd *self, const struct cmd_args *a)
{
	struct kpy_err e = KPY_ERR_INIT;
	struct kpy_config c = { 0 };
	const char *key = a->argv[0], *value = key != NULL ? a->argv[1] : NULL;

	if (cmd_has(a, OPT_KEYS)) {
		if (cmd_has(a, OPT_UNSET))
			return usage_error(self, "--keys lists the keys: give it alone");
		for (int i = 0; kpy_config_keys[i]; i++)
			printf("%s\n", kpy_config_keys[i]);
		return fflush(stdout) == 0 ? 0 : 1;
	}
	if (key != NULL && !kpy_config_known(key))
		return unknown_key(self, key);
	if (key != NULL && cmd_has(a, OPT_UNSET)) /* the table gives --unset one KEY */
		return kpy_config_set(key, NULL, &e) < 0 ? fail(&e) : 0;
	if (key != NULL && value != NULL) {
		if (kpy_config_set(key, value, &e) < 0)
			return fail(&e);
		if (strcmp(key, "pipdir") == 0)
			check_pipdir();
		return 0;
	}
	if (kpy_config_load(&c, &e) < 0)
		return fail(&e);
	if (key != NULL) {
		print_value(&c, key, 0);
	} else {
		for (int i = 0; kpy_config_keys[i]; i++)
			print_value(&c, kpy_config_keys[i], 1);
	}
	kpy_config_free(&c);
	return 0;
}

/* For the shell code itself, not for users, so that kpy.bash holds no copy of the
 * offline table (kpy/offline.c) or of the compute-node rule (on_compute):
 * --offline: on a compute node, the offline variables as export lines (nothing
 * elsewhere); --on-compute: exit status 0 on a compute node, 1 elsewhere (the pip
 * wrapper's --no-index); --wheelhouse: the path (the pip wrapper's --find-links),
 * exit status 1 when there is none. */
static int bash_internal(enum cmd_opt_id what)
{
	struct kpy_err e = KPY_ERR_INIT;
	struct kpy_config cfg = { 0 };
	int ok = kpy_config_load(&cfg, &e) == 0, rc = 0;

	if (what == OPT_ON_COMPUTE) {
		rc = on_compute(ok ? &cfg : NULL) ? 0 : 1;
	} else if (what == OPT_OFFLINE) {
		print_offline();
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

/* __kpy_options for the completion: each command's options from its table entry,
 * short ones first, then --help; kpy bash's own (for the shell code) left out. */
static void print_completion_options(void)
{
	fputs("function __kpy_options {\n\tcase $1 in\n", stdout);
	for (const struct cmd *c = kpy_cmds; c->name; c++) {
		if (c->opts == NULL)
			continue;
		printf("\t%s) echo \"", c->name);
		for (int pass = 0; pass < 2; pass++)
			for (const struct cmd_opt *o = c->opts; o->lng != NULL || o->shrt != NULL; o++) {
				const char *w = pass == 0 ? o->shrt : o->lng;
				if (w != NULL && o->id < OPT_OFFLINE)
					printf("%s ", w);
			}
		puts("--help\" ;;");
	}
	fputs("\t*) echo \"--help\" ;;\n\tesac\n}\n", stdout);
}

int cmd_bash(const struct cmd *cmd, const struct cmd_args *a)
{
	char self[PATH_MAX];
	ssize_t n;

	(void)cmd;
	for (enum cmd_opt_id o = OPT_OFFLINE; o <= OPT_ON_COMPUTE; o++)
		if (cmd_has(a, o))
			return bash_internal(o);
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		snprintf(self, sizeof(self), "kpy");
	else
		self[n] = '\0';
	/* the code names this binary, so the function works before kpy is in PATH, and
	 * takes the commands and their options from the command table */
	for (const char *p = kpy_shell_code; *p; ) {
		const char *at = strchr(p, '@');
		if (at == NULL) {
			fputs(p, stdout);
			break;
		}
		fwrite(p, 1, (size_t)(at - p), stdout);
		if (strncmp(at, "@KPY@", 5) == 0) {
			/* @KPY@ stands inside double quotes: escape what is special there */
			for (const char *c = self; *c; c++) {
				if (strchr("$`\"\\", *c))
					putchar('\\');
				putchar(*c);
			}
			p = at + 5;
		} else if (strncmp(at, "@KPY_COMMANDS@", 14) == 0) {
			for (const struct cmd *c = kpy_cmds; c->name; c++)
				printf("%s%s", c == kpy_cmds ? "" : " ", c->name);
			p = at + 14;
		} else if (strncmp(at, "@KPY_OPTIONS@", 13) == 0) {
			print_completion_options();
			p = at + 13;
		} else {
			putchar('@');
			p = at + 1;
		}
	}
	return fflush(stdout) == 0 ? 0 : 1;
}
