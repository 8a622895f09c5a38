/* cmd.h: the kpy command's subcommands and the helpers they share. */
#ifndef KPY_CMD_H
#define KPY_CMD_H

#include "error.h"

#define EXIT_USAGE 2

/* The options of all commands; each command's table lists those it takes. */
enum cmd_opt_id {
	OPT_FORCE, OPT_UV_CACHE, OPT_SH, OPT_AS, OPT_LONG, OPT_NAMES, OPT_SCRIPT,
	OPT_UNSET, OPT_KEYS, OPT_PREPARE, OPT_SITE, OPT_JOBS,
	/* kpy bash's, for the shell code only: keep them last (the completion skips them) */
	OPT_OFFLINE, OPT_WHEELHOUSE, OPT_ON_COMPUTE,
	OPT_COUNT
};

/* How many operands (the arguments that are not options) a command takes. */
struct cmd_operands {
	int min, max;     /* max -1: any number */
	const char *need; /* the usage error when there are fewer than min */
};

/* One option: --LONG, -S or both. It sets bit ID of cmd_args.set; one that takes a
 * value (--as NEW, --as=NEW) keeps it in cmd_args.val[ID]. */
struct cmd_opt {
	const char *lng;   /* "--as", or NULL */
	const char *shrt;  /* "-f", or NULL */
	enum cmd_opt_id id;
	const char *value; /* NULL: takes none; else what it takes, for "--as needs a name" */
	const struct cmd_operands *operands; /* when given: the operands instead of the command's */
};

/* What main parsed from the command line, handed to the command: options anywhere
 * before "--" (or, with CMD_OPTS_FIRST, before the first operand), -h/--help
 * handled, operand counts checked. The strings are main's argv. */
struct cmd_args {
	unsigned set;               /* 1u << ID for each option given */
	const char *val[OPT_COUNT]; /* each given option's value (the last one given) */
	int argc;                   /* the operands, in order, argv[argc] NULL */
	char **argv;
};

/* struct cmd flags */
#define CMD_OPTS_FIRST 0x1 /* options stop at the first operand (kpy run: the rest is the script's) */
#define CMD_SIGNALS    0x2 /* Ctrl-C and SIGTERM set kpy_interrupted: the command stops and cleans up */

struct cmd {
	const char *name;
	int (*fn)(const struct cmd *self, const struct cmd_args *a);
	const char *usage;  /* one line, after "kpy " */
	const char *help;   /* the rest of `kpy help NAME` */
	const struct cmd_opt *opts; /* ended by an entry with neither name; NULL: none */
	struct cmd_operands operands;
	unsigned flags;
	void (*more_help)(void); /* prints what follows help, made from a table (config's keys) */
};

static inline int cmd_has(const struct cmd_args *a, enum cmd_opt_id id)
{
	return (a->set >> id) & 1u;
}

extern const struct cmd kpy_cmds[];
extern const char kpy_shell_code[];

int cmd_create(const struct cmd *self, const struct cmd_args *a);
int cmd_save(const struct cmd *self, const struct cmd_args *a);
int cmd_load(const struct cmd *self, const struct cmd_args *a);
int cmd_activate(const struct cmd *self, const struct cmd_args *a);
int cmd_unload(const struct cmd *self, const struct cmd_args *a);
int cmd_export(const struct cmd *self, const struct cmd_args *a);
int cmd_list(const struct cmd *self, const struct cmd_args *a);
int cmd_rm(const struct cmd *self, const struct cmd_args *a);
int cmd_config(const struct cmd *self, const struct cmd_args *a);
int cmd_bash(const struct cmd *self, const struct cmd_args *a);
int cmd_run(const struct cmd *self, const struct cmd_args *a);
/* kpy help config: the settings, from kpy_config_table (cmd_misc.c). */
void config_help_keys(void);

/* Print "kpy: MSG: REMEDY" for the error, the remedy from kpy_remedy_cli (none for
 * some codes); return 1. fail_about fills the remedy's %s with ARG. */
int fail(const struct kpy_err *e);
int fail_about(const struct kpy_err *e, const char *arg);
/* The command's remedy for an error of CODE (cmd_remedy.c), a printf format with at
 * most one %s for ARG; NULL when the message says all there is to say. */
const char *kpy_remedy_cli(int code, const char *arg);
/* Print "kpy: ..." to stderr. */
void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print "kpy: MSG" and the usage line of C; return EXIT_USAGE. */
int usage_error(const struct cmd *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print `kpy help CMD`. */
void print_help(const struct cmd *c);
/* Print the saved archives of KIND (NULL: venvs, then uv caches if any) as a table
 * or as names (kpy list, kpy load with no name); returns an exit code. */
int print_saved(const char *kind, int names_only);
/* kpy list's second section, the envs of kpy run (cmd_run.c); an exit code. */
int print_script_envs(void);
/* kpy rm --script KEY...: ARGV holds the ARGC (at least one) keys (cmd_run.c); an
 * exit code. */
int rm_script_envs(int argc, char **argv);
struct kpy_config;
/* The threads for a save or restore: -j N / --jobs N when given (checked: a usage
 * error names the bad value; then -1 and *RC gets the exit status), else CFG's
 * threads setting, else the job's CPUs on this node in Slurm, else every usable CPU
 * (kpy_threads_pick). */
int cmd_threads(const struct cmd *c, const struct cmd_args *a, const struct kpy_config *cfg, int *rc);
/* The progress line on stderr for VERB WHAT (KPY_PROGRESS: auto, always, never), or
 * NULL when none is shown. */
struct kpy_progress *cmd_progress(const char *verb, const char *what, unsigned long long bytes,
				  unsigned long long files);
/* In a job, or on a host matching a compute_hosts pattern: pip and uv go offline. */
int on_compute(const struct kpy_config *cfg); /* CFG NULL (unreadable): in a job only */
/* On a compute node, the export lines of the offline variables (none elsewhere). */
void print_offline(void);
/* POSIX shell code on stdout exporting the offline variables (kpy_offline_vars) with
 * CFG's wheelhouse; CFG NULL (no configuration): only those with fixed values. */
void print_offline_exports(const struct kpy_config *cfg);

#endif
