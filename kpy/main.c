/* main.c: kpy's entry point: the command table (options, operands, help), the one
 * argument parser, and dispatch. */
#include "autoconfig.h"
#include "cmd.h"
#include "config.h"
#include "progress.h"
#include "text.h"
#include "threads.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Each command's options; the parser, "did you mean" and the help all read these. */
#define JOBS_OPT { "--jobs", "-j", OPT_JOBS, "a number of threads", NULL }
static const struct cmd_opt save_opts[] = {
	{ "--force", "-f", OPT_FORCE, NULL, NULL },
	JOBS_OPT,
	{ "--uv-cache", NULL, OPT_UV_CACHE, NULL,
	  &(const struct cmd_operands){ 1, 2, "give the name to save the uv cache under" } },
	{ "--site", NULL, OPT_SITE, NULL, NULL },
	{ NULL, NULL, 0, NULL, NULL },
};
static const struct cmd_opt load_opts[] = {
	{ "--as", NULL, OPT_AS, "a name", NULL },
	{ "--force", "-f", OPT_FORCE, NULL, NULL },
	JOBS_OPT,
	{ "--sh", NULL, OPT_SH, NULL, NULL },
	{ "--uv-cache", NULL, OPT_UV_CACHE, NULL, NULL },
	{ NULL, NULL, 0, NULL, NULL },
};
static const struct cmd_opt activate_opts[] = {
	{ "--long", "-l", OPT_LONG, NULL, NULL },
	{ "--sh", NULL, OPT_SH, NULL, NULL },
	{ NULL, NULL, 0, NULL, NULL },
};
static const struct cmd_opt list_opts[] = {
	{ "--names", "-q", OPT_NAMES, NULL, NULL },
	{ "--uv-cache", NULL, OPT_UV_CACHE, NULL, NULL },
	{ NULL, NULL, 0, NULL, NULL },
};
static const struct cmd_opt rm_opts[] = {
	{ "--uv-cache", NULL, OPT_UV_CACHE, NULL,
	  &(const struct cmd_operands){ 1, 1, "give the NAME of the saved uv cache to delete" } },
	{ "--script", NULL, OPT_SCRIPT, NULL,
	  &(const struct cmd_operands){ 1, -1, "give the KEY of the script environment to delete ('kpy list' shows them)" } },
	{ "--site", NULL, OPT_SITE, NULL, NULL },
	{ NULL, NULL, 0, NULL, NULL },
};
static const struct cmd_opt config_opts[] = {
	{ "--unset", NULL, OPT_UNSET, NULL, &(const struct cmd_operands){ 1, 1, "--unset needs the KEY to remove" } },
	{ "--keys", NULL, OPT_KEYS, NULL, &(const struct cmd_operands){ 0, 0, NULL } },
	{ NULL, NULL, 0, NULL, NULL },
};
/* for the shell code itself: the offline export lines, the wheelhouse, whether this
 * is a compute node (cmd_misc.c) */
static const struct cmd_opt bash_opts[] = {
	{ "--offline", NULL, OPT_OFFLINE, NULL, NULL },
	{ "--wheelhouse", NULL, OPT_WHEELHOUSE, NULL, NULL },
	{ "--on-compute", NULL, OPT_ON_COMPUTE, NULL, NULL },
	{ NULL, NULL, 0, NULL, NULL },
};

static const struct cmd_opt run_opts[] = {
	{ "--prepare", NULL, OPT_PREPARE, NULL, NULL },
	JOBS_OPT,
	{ NULL, NULL, 0, NULL, NULL },
};

const struct cmd kpy_cmds[] = {
	{ "create", cmd_create, "create [3.x] [NAME]",
	  "Create a virtual environment with python3.x (default: python3 in PATH) at\n"
	  "$SLURM_TMPDIR/kpy/NAME in a job (in a job without it, a directory of that job\n"
	  "only), ${TMPDIR:-/tmp}/kpy-$USER/NAME elsewhere (a private one if another user\n"
	  "holds that name).\n"
	  "Without NAME a placeholder is used: venv, venv1, ... Through the shell\n"
	  "function (eval \"$(kpy bash)\") the new env is activated.\n",
	  NULL, { 0, 2, NULL }, 0, NULL },
	{ "save", cmd_save, "save [-f] [-j N] [--site] NAME | save [-f] [-j N] [--site] --uv-cache NAME [DIR]",
	  "Archive the active environment ($VIRTUAL_ENV) to\n"
	  "<pipdir>/venv_archives/NAME.tar.zst. An existing NAME is replaced only with -f,\n"
	  "atomically. The env's prompt becomes NAME; a live env (made by create or load)\n"
	  "is also renamed to NAME when that name is free, and stays active. On a\n"
	  "terminal a save that takes more than a second shows its progress on stderr\n"
	  "(KPY_PROGRESS=always|never changes that).\n\n"
	  "  -f, --force   replace an existing archive\n"
	  "  -j, --jobs N  compress on N threads (default: the threads setting, else the\n"
	  "                job's CPUs on this node in Slurm, else all CPUs)\n"
	  "  --uv-cache    archive the uv cache DIR (default $UV_CACHE_DIR, else\n"
	  "                $XDG_CACHE_HOME/uv, else ~/.cache/uv) to\n"
	  "                <pipdir>/uv_caches/NAME.tar.zst, its hard links and symlinks kept\n"
	  "  --site        publish to the site store instead (the first site_pipdir of the\n"
	  "                site file), for every user: for its admins, who can write there\n",
	  save_opts, { 1, 1, "give the name to save the active environment under" }, CMD_SIGNALS, NULL },
	{ "load", cmd_load, "load [-f] [-j N] [--sh] [--uv-cache] [NAME] [--as NEW]",
	  "Restore the saved environment NAME as NEW (default NAME) where create would\n"
	  "put it, rewrite its paths for the new place, and (through the shell function)\n"
	  "activate it. If it is already loaded from the same save, it is just activated:\n"
	  "every task of a job may run kpy load at once; one restores, all use it. In a\n"
	  "job without $SLURM_TMPDIR it goes to a directory of that job only. Without\n"
	  "NAME, list the saved environments. In a job, kpy load that cannot activate\n"
	  "the shell (no shell function, no --sh) exits with status 3. On a terminal a\n"
	  "load that takes more than a second shows its progress on stderr.\n"
	  "NAME is looked up in your pipdir, then in each site pipdir (site_pipdir, the\n"
	  "admins' read-only store); site:NAME takes the site's even if you have a NAME.\n\n"
	  "  --as NEW     load under another name (and prompt)\n"
	  "  -f, --force  reload: replace the loaded copy (changes in it are lost)\n"
	  "  -j, --jobs N restore with N threads (default as for save)\n"
	  "  --sh         print shell code that activates it (and, on a compute node,\n"
	  "               makes pip and uv offline), for scripts:\n"
	  "               eval \"$(kpy load NAME --sh)\"\n"
	  "  --uv-cache   restore the saved uv cache NAME instead, beside the live envs\n"
	  "               (<live dir>/.uv/NAME, once per job), and (through the shell\n"
	  "               function, or --sh) export UV_CACHE_DIR pointing at it\n",
	  load_opts, { 0, 1, NULL }, CMD_SIGNALS, NULL },
	{ "activate", cmd_activate, "activate [--sh] [NAME] | activate -l",
	  "Activate the loaded or created environment NAME (through the shell function;\n"
	  "otherwise print the 'source .../bin/activate' line to run, so that\n"
	  "eval \"$(kpy activate NAME)\" works). Without NAME, print the names of the\n"
	  "environments that can be activated, one a line.\n\n"
	  "  -l, --long  list the live environments: the save each holds, its date, and\n"
	  "              whether it is as saved, modified, or older than the saved one\n"
	  "  --sh        print shell code that activates NAME: eval \"$(kpy activate NAME --sh)\"\n",
	  activate_opts, { 0, 1, NULL }, 0, NULL },
	{ "unload", cmd_unload, "unload NAME...",
	  "Remove the live (created or loaded) environment NAME from this machine's live\n"
	  "directory (the saved archive stays). Through the shell function, the shell is\n"
	  "deactivated if NAME was its active environment.\n",
	  NULL, { 1, -1, "give the NAME of the live environment to remove (see 'kpy activate -l')" }, 0, NULL },
	{ "list", cmd_list, "list [--names] [--uv-cache]",
	  "List the saved environments: name, Python version, archive size, save date;\n"
	  "then the saved uv caches, if any: name, size, date, files; then, if there are\n"
	  "any, the script environments of kpy run: key, Python, size, date, the script\n"
	  "and the dependencies they were built for. Says so when the pipdir does not\n"
	  "exist. Then, for each site pipdir (site_pipdir), its envs and uv caches under\n"
	  "'site envs (PATH):' and 'site uv caches (PATH):'; a site name you also have\n"
	  "yourself shows as site:NAME, the way to load it (your own wins).\n\n"
	  "  --names, -q  print only the names, one a line (the environments': yours,\n"
	  "               then the site's as load takes them: NAME, or site:NAME)\n"
	  "  --uv-cache   the uv caches only\n",
	  list_opts, { 0, 0, NULL }, 0, NULL },
	{ "rm", cmd_rm, "rm [--site] [--uv-cache] NAME | rm --script KEY...",
	  "Delete the saved environment NAME (with --uv-cache: the saved uv cache NAME)\n"
	  "from the pipdir. The site store's (site:NAME) is read-only for users.\n\n"
	  "  --site            delete it from the first site pipdir instead (for its\n"
	  "                    admins, who can write there)\n"
	  "  --script KEY...   delete the script environments KEY of kpy run instead\n"
	  "                    ('kpy list' shows them); the next kpy run builds again\n",
	  rm_opts, { 1, 1, "give the NAME of the saved environment to delete" }, 0, NULL },
	{ "export", cmd_export, "export NAME PATH",
	  "Restore the saved environment NAME into the directory PATH, which must not\n"
	  "exist, with its paths rewritten for PATH. Missing parents of PATH are made.\n"
	  "NAME is found as kpy load finds it (site:NAME: the site store's).\n",
	  NULL, { 2, 2, "give the saved NAME and the PATH to restore it to" }, CMD_SIGNALS, NULL },
	{ "config", cmd_config, "config [KEY [VALUE]] | config --unset KEY",
	  "Without KEY, print every setting as 'key = value'. With KEY, print its value.\n"
	  "With KEY VALUE, write it to the user file ($XDG_CONFIG_HOME/kpy/config.ini),\n"
	  "changing only that key's line: comments and other sections are kept.\n\n"
	  "  --unset KEY   remove KEY from the user file\n"
	  "  --keys        print the keys, one a line\n\n"
	  "Keys:\n",
	  config_opts, { 0, 2, NULL }, 0, config_help_keys },
	{ "run", cmd_run, "run [--prepare] [-j N] SCRIPT [ARGS...]",
	  "Run the Python script SCRIPT with ARGS in an environment made for the\n"
	  "dependencies of its inline metadata (PEP 723), a block such as\n\n"
	  "  # /// script\n"
	  "  # requires-python = \">=3.11\"\n"
	  "  # dependencies = [\"numpy>=1.26\", \"matplotlib\"]\n"
	  "  # ///\n\n"
	  "(read with the interpreter's own tomllib). The Python is the first of python3,\n"
	  "python3.N in PATH that satisfies requires-python. The env is kept in\n"
	  "<pipdir>/script_envs/KEY.tar.zst, KEY = py3.X-<hash of the dependency set>, so\n"
	  "scripts with the same dependencies share it. The first run builds and saves it\n"
	  "(pip install --no-index --find-links <pipdir>/wheels); later runs restore it,\n"
	  "once per job and node ($SLURM_TMPDIR/kpy/.run/KEY), however many tasks run at\n"
	  "once. The script then replaces kpy (exec): it gets ARGS, stdin and signals, and\n"
	  "its exit status is kpy's. In a job pip and uv are offline for it. 'kpy list'\n"
	  "shows the script envs; 'kpy rm --script KEY' removes one.\n\n"
	  "  --prepare   on a login node with internet: fetch the dependencies into\n"
	  "              <pipdir>/wheels (pip wheel, from pip's configured index or\n"
	  "              PIP_FIND_LINKS), then build and save the env, without running\n"
	  "  -j, --jobs N  threads to save or restore the env with (default as for save)\n",
	  run_opts, { 1, -1, "give the SCRIPT to run" }, CMD_OPTS_FIRST | CMD_SIGNALS, NULL },
	{ "bash", cmd_bash, "bash",
	  "Print shell code for eval \"$(kpy bash)\" or kpy bash >> ~/.bashrc: a kpy function\n"
	  "that activates environments in the current shell, a pip wrapper that adds\n"
	  "--no-index on compute nodes and --find-links <pipdir>/wheels everywhere, a\n"
	  "prompt marker *NAME when packages differ from the saved ones, and completion.\n",
	  bash_opts, { 0, 0, NULL }, 0, NULL },
	{ NULL, NULL, NULL, NULL, NULL, { 0, 0, NULL }, 0, NULL },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: kpy COMMAND [ARGS]\n\n"
		   "Save Python virtual environments (and uv caches) as compressed archives and\n"
		   "restore them quickly on Slurm compute nodes.\n\ncommands:\n");
	for (const struct cmd *c = kpy_cmds; c->name; c++)
		fprintf(f, "  kpy %s\n", c->usage);
	fprintf(f, "\n  kpy help COMMAND, kpy COMMAND --help   help on one command\n"
		   "  kpy --version                          print the version\n\n"
		   "Exit status: 0 success, 1 failure, 2 usage error. See kpy(1).\n");
}

static const struct cmd *find(const char *name)
{
	for (const struct cmd *c = kpy_cmds; c->name; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

static const char *suggest_command(const char *word)
{
	const char *names[sizeof(kpy_cmds) / sizeof(kpy_cmds[0]) + 1];
	size_t n = 0;

	for (const struct cmd *c = kpy_cmds; c->name; c++)
		names[n++] = c->name;
	names[n++] = "help";
	names[n] = NULL;
	return kpy_suggest(word, names);
}

/* "kpy: unknown command 'X'", with the closest command, and where to look. */
static int unknown_command(const char *name)
{
	const char *s = suggest_command(name);
	char *shown = kpy_escape(name);

	if (name[0] == '-') {
		const char *opts[] = { "--help", "--version", NULL };
		const char *o = kpy_suggest(name, opts);
		fprintf(stderr, "kpy: unknown option '%s'; %s%s%ssee 'kpy --help'\n", shown ? shown : "?",
			o ? "did you mean '" : "", o ? o : "", o ? "'? " : "");
	} else {
		fprintf(stderr, "kpy: unknown command '%s'; %s%s%ssee 'kpy --help'\n", shown ? shown : "?",
			s ? "did you mean '" : "", s ? s : "", s ? "'? " : "");
	}
	free(shown);
	return EXIT_USAGE;
}

void print_help(const struct cmd *c)
{
	printf("usage: kpy %s\n\n%s", c->usage, c->help);
	if (c->more_help != NULL)
		c->more_help();
}

/* The option of C that ARG's first LEN bytes name, or NULL. */
static const struct cmd_opt *find_opt(const struct cmd *c, const char *arg, size_t len)
{
	for (const struct cmd_opt *o = c->opts; o != NULL && (o->lng || o->shrt); o++)
		if ((o->lng && strlen(o->lng) == len && strncmp(o->lng, arg, len) == 0) ||
		    (o->shrt && strlen(o->shrt) == len && strncmp(o->shrt, arg, len) == 0))
			return o;
	return NULL;
}

/* The option of C closest to the first LEN bytes of ARG, or NULL. */
static const char *suggest_option(const struct cmd *c, const char *arg, size_t len)
{
	const char *cands[2 * OPT_COUNT + 3] = { "--help", "-h" };
	char word[64];
	size_t n = 2;

	for (const struct cmd_opt *o = c->opts; o != NULL && (o->lng || o->shrt); o++) {
		if (o->lng && n < sizeof(cands) / sizeof(cands[0]) - 1)
			cands[n++] = o->lng;
		if (o->shrt && n < sizeof(cands) / sizeof(cands[0]) - 1)
			cands[n++] = o->shrt;
	}
	cands[n] = NULL;
	snprintf(word, sizeof(word), "%.*s", (int)len, arg);
	return kpy_suggest(word, cands);
}

/* kpy C ARGV (ARGC words after the command's name), parsed by C's table into *A;
 * the operands are moved, in order, to the front of ARGV. Options may stand anywhere
 * before "--" (with CMD_OPTS_FIRST: before the first operand); a lone "-" is an
 * operand; --help wins over any error. Returns -1 when the command is to run, else
 * the exit status: 0 after the help, EXIT_USAGE after a usage error. */
static int parse(const struct cmd *c, int argc, char **argv, struct cmd_args *a)
{
	const struct cmd_operands *ops = &c->operands;
	char err[512] = "";
	int help = 0, opts = 1, n = 0, rc;

	memset(a, 0, sizeof(*a));
	for (int i = 0; i < argc; i++) {
		const char *arg = argv[i], *eq;
		const struct cmd_opt *o;
		size_t len;

		if (!opts || arg[0] != '-' || arg[1] == '\0') {
			argv[n++] = argv[i]; /* n <= i: nothing unread is overwritten */
			if (c->flags & CMD_OPTS_FIRST)
				opts = 0;
			continue;
		}
		if (strcmp(arg, "--") == 0) {
			opts = 0;
			continue;
		}
		if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
			help = 1;
			continue;
		}
		eq = arg[1] == '-' ? strchr(arg, '=') : NULL;
		len = eq ? (size_t)(eq - arg) : strlen(arg);
		if ((o = find_opt(c, arg, len)) == NULL) {
			const char *s = suggest_option(c, arg, len);
			if (err[0] == '\0')
				snprintf(err, sizeof(err), "unknown option '%s'%s%s%s", arg, s ? "; did you mean '" : "",
					 s ? s : "", s ? "'?" : "");
			continue;
		}
		if (o->value == NULL && eq != NULL) {
			if (err[0] == '\0')
				snprintf(err, sizeof(err), "%.*s takes no value", (int)len, arg);
			continue;
		}
		if (o->value != NULL) {
			if (eq != NULL) {
				a->val[o->id] = eq + 1;
			} else if (i + 1 < argc) {
				a->val[o->id] = argv[++i];
			} else {
				if (err[0] == '\0')
					snprintf(err, sizeof(err), "%s needs %s", arg, o->value);
				continue;
			}
		}
		a->set |= 1u << o->id;
		if (o->operands != NULL)
			ops = o->operands;
	}
	argv[n] = NULL;
	a->argc = n;
	a->argv = argv;
	if (help) {
		print_help(c);
		return 0;
	}
	if (err[0] != '\0')
		rc = usage_error(c, "%s", err);
	else if (n < ops->min)
		rc = usage_error(c, "%s", ops->need ? ops->need : "missing arguments");
	else if (ops->max == 0 && n > 0)
		rc = usage_error(c, "unexpected argument '%s'", argv[0]);
	else if (ops->max >= 0 && n > ops->max)
		rc = usage_error(c, "too many arguments: unexpected '%s'", argv[ops->max]);
	else
		return -1;
	/* eval "$(kpy load NAME --sh)" must fail too */
	if (cmd_has(a, OPT_SH))
		printf("false\n");
	return rc;
}

static void on_signal(int sig)
{
	(void)sig;
	kpy_interrupted = 1;
}

int main(int argc, char **argv)
{
	const struct cmd *c;
	struct cmd_args a;
	struct sigaction sa;
	int rc;

	if (argc < 2) {
		fputs("kpy: no command given\n", stderr);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
		printf("kpy %s\n", PACKAGE_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "help") == 0) {
		if (argc == 2 || strcmp(argv[2], "help") == 0) {
			usage(stdout);
			return 0;
		}
		if ((c = find(argv[2])) == NULL)
			return unknown_command(argv[2]);
		print_help(c);
		return 0;
	}
	if ((c = find(argv[1])) == NULL)
		return unknown_command(argv[1]);
	if ((rc = parse(c, argc - 2, argv + 2, &a)) >= 0)
		return rc;
	/* Ctrl-C during save, load, export or run: stop at the next file and clean up */
	if (c->flags & CMD_SIGNALS) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_signal;
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGHUP, &sa, NULL);
	}
	return c->fn(c, &a);
}

/* Every message goes out escaped: it may carry names and strings from archives. */
static void put_msg(const char *msg)
{
	char *shown = kpy_escape(msg);

	fprintf(stderr, "kpy: %s\n", shown ? shown : msg);
	free(shown);
}

int fail_about(const struct kpy_err *e, const char *arg)
{
	const char *remedy = kpy_remedy_cli(e->code, arg);
	char msg[sizeof(e->msg) + 512], how[512];

	if (remedy == NULL) {
		put_msg(e->msg[0] ? e->msg : "failed");
		return 1;
	}
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	snprintf(how, sizeof(how), remedy, arg ? arg : "");
#pragma GCC diagnostic pop
	snprintf(msg, sizeof(msg), "%s: %s", e->msg[0] ? e->msg : "failed", how);
	put_msg(msg);
	return 1;
}

int fail(const struct kpy_err *e)
{
	return fail_about(e, NULL);
}

void say(const char *fmt, ...)
{
	char msg[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	put_msg(msg);
}

int usage_error(const struct cmd *c, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	put_msg(msg);
	fprintf(stderr, "usage: kpy %s\n", c->usage);
	return EXIT_USAGE;
}

int cmd_threads(const struct cmd *c, const struct cmd_args *a, const struct kpy_config *cfg, int *rc)
{
	const char *v = a->val[OPT_JOBS];
	int req = 0;

	if (cmd_has(a, OPT_JOBS)) {
		char *end;
		long n = strtol(v, &end, 10);
		if (v[0] < '0' || v[0] > '9' || *end != '\0' || n < 1 || n > KPY_THREADS_MAX) {
			*rc = usage_error(c, "-j needs a number of threads from 1 to %d, not '%s'", KPY_THREADS_MAX, v);
			if (cmd_has(a, OPT_SH)) /* eval "$(kpy load NAME --sh -j x)" must fail too */
				printf("false\n");
			return -1;
		}
		req = (int)n;
	}
	return kpy_threads_pick(req, cfg != NULL ? cfg->threads : 0, NULL, NULL);
}

struct kpy_progress *cmd_progress(const char *verb, const char *what, unsigned long long bytes,
				  unsigned long long files)
{
	return kpy_progress_new(2, kpy_progress_mode_of(getenv("KPY_PROGRESS")), verb, what, bytes, files);
}
