/* cmd.h: the kpy command's subcommands and the helpers they share. */
#ifndef KPY_CMD_H
#define KPY_CMD_H

#include "error.h"

#define EXIT_USAGE 2

struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *usage;  /* one line, after "kpy " */
	const char *help;   /* the rest of `kpy help NAME` */
};

extern const struct cmd kpy_cmds[];
extern const char kpy_shell_code[];

int cmd_create(int argc, char **argv);
int cmd_save(int argc, char **argv);
int cmd_load(int argc, char **argv);
int cmd_activate(int argc, char **argv);
int cmd_unload(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_rm(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_bash(int argc, char **argv);
int cmd_run(int argc, char **argv);

/* Print "kpy: MSG: REMEDY" for the error, the remedy from kpy_remedy_cli (none for
 * some codes); return 1. fail_about fills the remedy's %s with ARG. */
int fail(const struct kpy_err *e);
int fail_about(const struct kpy_err *e, const char *arg);
/* The command's remedy for an error of CODE (cmd_remedy.c), a printf format with at
 * most one %s for ARG; NULL when the message says all there is to say. */
const char *kpy_remedy_cli(int code, const char *arg);
/* Print "kpy: ..." to stderr. */
void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print a usage error for CMD and return EXIT_USAGE. */
int usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* 1 if ARG is -h or --help (then the command's help has been printed). */
int wants_help(const char *cmd, int argc, char **argv);
/* Print `kpy help CMD`. */
void print_help(const struct cmd *c);
/* Print the saved archives of KIND (NULL: venvs, then uv caches if any) as a table
 * or as names (kpy list, kpy load with no name); returns an exit code. */
int print_saved(const char *kind, int names_only);
/* kpy list's second section, the envs of kpy run (cmd_run.c); an exit code. */
int print_script_envs(void);
/* kpy rm --script KEY...: ARGV holds the keys (cmd_run.c); an exit code. */
int rm_script_envs(int argc, char **argv);
struct kpy_config;
/* In a job, or on a host matching a compute_hosts pattern: pip and uv go offline. */
int on_compute(const struct kpy_config *cfg);
/* POSIX shell code on stdout exporting the offline variables (kpy_offline_vars) with
 * CFG's wheelhouse; CFG NULL (no configuration): only those with fixed values. */
void print_offline_exports(const struct kpy_config *cfg);

#endif
