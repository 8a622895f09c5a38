/* main.c: kpy's entry point: the command table, help, and dispatch. */
#include "autoconfig.h"
#include "cmd.h"
#include "text.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct cmd kpy_cmds[] = {
	{ "create", cmd_create, "create [3.x] [NAME]",
	  "Create a virtual environment with python3.x (default: python3 in PATH) at\n"
	  "$SLURM_TMPDIR/kpy/NAME in a job (in a job without it, a directory of that job\n"
	  "only), ${TMPDIR:-/tmp}/kpy-$USER/NAME elsewhere (a private one if another user\n"
	  "holds that name).\n"
	  "Without NAME a placeholder is used: venv, venv1, ... Through the shell\n"
	  "function (eval \"$(kpy bash)\") the new env is activated.\n" },
	{ "save", cmd_save, "save [-f] NAME | save [-f] --uv-cache NAME [DIR]",
	  "Archive the active environment ($VIRTUAL_ENV) to\n"
	  "<pipdir>/venv_archives/NAME.tar.zst. An existing NAME is replaced only with -f,\n"
	  "atomically. The env's prompt becomes NAME; a live env (made by create or load)\n"
	  "is also renamed to NAME when that name is free, and stays active.\n\n"
	  "  -f, --force   replace an existing archive\n"
	  "  --uv-cache    archive the uv cache DIR (default $UV_CACHE_DIR, else\n"
	  "                $XDG_CACHE_HOME/uv, else ~/.cache/uv) to\n"
	  "                <pipdir>/uv_caches/NAME.tar.zst, its hard links and symlinks kept\n" },
	{ "load", cmd_load, "load [-f] [--sh] [--uv-cache] [NAME] [--as NEW]",
	  "Restore the saved environment NAME as NEW (default NAME) where create would\n"
	  "put it, rewrite its paths for the new place, and (through the shell function)\n"
	  "activate it. If it is already loaded from the same save, it is just activated:\n"
	  "every task of a job may run kpy load at once; one restores, all use it. In a\n"
	  "job without $SLURM_TMPDIR it goes to a directory of that job only. Without\n"
	  "NAME, list the saved environments. In a job, kpy load that cannot activate\n"
	  "the shell (no shell function, no --sh) exits with status 3.\n\n"
	  "  --as NEW   load under another name (and prompt)\n"
	  "  -f         reload: replace the loaded copy (changes in it are lost)\n"
	  "  --sh       print shell code that activates it (and, on a compute node, makes\n"
	  "             pip and uv offline), for scripts: eval \"$(kpy load NAME --sh)\"\n"
	  "  --uv-cache restore the saved uv cache NAME instead, beside the live envs\n"
	  "             (<live dir>/.uv/NAME, once per job), and (through the shell\n"
	  "             function, or --sh) export UV_CACHE_DIR pointing at it\n" },
	{ "activate", cmd_activate, "activate [--sh] [NAME] | activate -l",
	  "Activate the loaded or created environment NAME (through the shell function;\n"
	  "otherwise print the 'source .../bin/activate' line to run, so that\n"
	  "eval \"$(kpy activate NAME)\" works). Without NAME, print the names of the\n"
	  "environments that can be activated, one a line.\n\n"
	  "  -l, --long  list the live environments: the save each holds, its date, and\n"
	  "              whether it is as saved, modified, or older than the saved one\n"
	  "  --sh        print shell code that activates NAME: eval \"$(kpy activate NAME --sh)\"\n" },
	{ "unload", cmd_unload, "unload NAME...",
	  "Remove the live (created or loaded) environment NAME from this machine's live\n"
	  "directory (the saved archive stays). Through the shell function, the shell is\n"
	  "deactivated if NAME was its active environment.\n" },
	{ "list", cmd_list, "list [--names] [--uv-cache]",
	  "List the saved environments: name, Python version, archive size, save date;\n"
	  "then the saved uv caches, if any: name, size, date, files; then, if there are\n"
	  "any, the script environments of kpy run: key, Python, size, date, the script\n"
	  "and the dependencies they were built for. Says so when the pipdir does not\n"
	  "exist.\n\n"
	  "  --names     print only the names, one a line (the environments')\n"
	  "  --uv-cache  the uv caches only\n" },
	{ "rm", cmd_rm, "rm [--uv-cache] NAME | rm --script KEY...",
	  "Delete the saved environment NAME (with --uv-cache: the saved uv cache NAME)\n"
	  "from the pipdir.\n\n"
	  "  --script KEY...   delete the script environments KEY of kpy run instead\n"
	  "                    ('kpy list' shows them); the next kpy run builds again\n" },
	{ "export", cmd_export, "export NAME PATH",
	  "Restore the saved environment NAME into the directory PATH, which must not\n"
	  "exist, with its paths rewritten for PATH. Missing parents of PATH are made.\n" },
	{ "config", cmd_config, "config [KEY [VALUE]] | config --unset KEY",
	  "Without KEY, print every setting as 'key = value'. With KEY, print its value.\n"
	  "With KEY VALUE, write it to the user file ($XDG_CONFIG_HOME/kpy/config.ini),\n"
	  "changing only that key's line: comments and other sections are kept.\n"
	  "Keys: pipdir (where archives are kept; default $XDG_DATA_HOME/kpy),\n"
	  "compute_hosts (space-separated host patterns where pip goes offline),\n"
	  "level (zstd level 1-19 for save; default 3).\n\n"
	  "  --unset KEY   remove KEY from the user file\n" },
	{ "run", cmd_run, "run [--prepare] SCRIPT [ARGS...]",
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
	  "              PIP_FIND_LINKS), then build and save the env, without running\n" },
	{ "bash", cmd_bash, "bash",
	  "Print shell code for eval \"$(kpy bash)\" or kpy bash >> ~/.bashrc: a kpy function\n"
	  "that activates environments in the current shell, a pip wrapper that adds\n"
	  "--no-index on compute nodes and --find-links <pipdir>/wheels everywhere, a\n"
	  "prompt marker *NAME when packages differ from the saved ones, and completion.\n" },
	{ NULL, NULL, NULL, NULL },
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

/* Each command's options, for "did you mean" (keep in step with the parsers). */
static const struct {
	const char *cmd;
	const char *opts[4];
} cmd_opts[] = {
	{ "save", { "--force", "-f", "--uv-cache" } },
	{ "load", { "--as", "--sh", "--force", "--uv-cache" } },
	{ "list", { "--names", "-q", "--uv-cache" } },
	{ "run", { "--prepare" } },
	{ "rm", { "--uv-cache", "--script" } },
	{ "config", { "--unset" } },
	{ NULL, { NULL } },
};

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

/* The option of CMD closest to OPT ("--as=x" counts as "--as"), or NULL. */
static const char *suggest_option(const char *cmd, const char *opt)
{
	const char *cands[8] = { "--help", "-h" }, *eq = strchr(opt, '=');
	char word[64];
	size_t n = 2;

	for (int i = 0; cmd_opts[i].cmd; i++)
		if (strcmp(cmd_opts[i].cmd, cmd) == 0)
			for (int k = 0; k < 4 && cmd_opts[i].opts[k]; k++)
				cands[n++] = cmd_opts[i].opts[k];
	cands[n] = NULL;
	snprintf(word, sizeof(word), "%.*s", eq ? (int)(eq - opt) : (int)strlen(opt), opt);
	return kpy_suggest(word, cands);
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
}

static void on_signal(int sig)
{
	(void)sig;
	kpy_interrupted = 1;
}

int main(int argc, char **argv)
{
	const struct cmd *c;
	struct sigaction sa;

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
	/* Ctrl-C during save, load or export: stop at the next file and clean up */
	if (c->fn == cmd_save || c->fn == cmd_load || c->fn == cmd_export || c->fn == cmd_run) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_signal;
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGHUP, &sa, NULL);
	}
	return c->fn(argc - 1, argv + 1);
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

int usage_error(const char *cmd, const char *fmt, ...)
{
	const struct cmd *c = find(cmd);
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* every command reports an unknown option with this very format (the parsers
	 * of cmd_*.c need no change): add the closest option of that command */
	if (strcmp(fmt, "unknown option '%s'") == 0) {
		const char *opt, *s;
		va_start(ap, fmt);
		opt = va_arg(ap, const char *);
		va_end(ap);
		if ((s = suggest_option(cmd, opt)) != NULL) {
			size_t len = strlen(msg);
			snprintf(msg + len, sizeof(msg) - len, "; did you mean '%s'?", s);
		}
	}
	put_msg(msg);
	fprintf(stderr, "usage: kpy %s\n", c ? c->usage : cmd);
	return EXIT_USAGE;
}

int wants_help(const char *cmd, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			print_help(find(cmd));
			return 1;
		}
	}
	return 0;
}
