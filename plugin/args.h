/* args.h: the plugin's user options (--kpy-env, --kpy-uv-cache) and its plugstack.conf arguments. */
#ifndef KPY_PLUGIN_ARGS_H
#define KPY_PLUGIN_ARGS_H

#include <stdint.h>
#include <slurm/spank.h>

#include "error.h"

#define KPY_DEFAULT_TMPDIR "/tmp"
#define KPY_DEFAULT_RESTORE_TIMEOUT 600                         /* seconds */
#define KPY_DEFAULT_RESTORE_MEMORY (4ULL * 1024 * 1024 * 1024)  /* bytes */

/* plugstack.conf arguments; strings point into the plugin's argv (not owned). */
struct kpy_plugin_config {
	const char *pipdir; /* pipdir=PATH, or NULL: the job user's own configuration */
	const char *site_pipdir; /* site_pipdir=PATH[:PATH...], or NULL: the job user's
				  * configuration's (the site file's) */
	const char *tmpdir; /* tmpdir=PATH: base of per-job scratch when no SLURM_TMPDIR */
	int offline;        /* offline=yes|no */
	unsigned restore_timeout;        /* restore_timeout=SECONDS: kill a slower restore */
	unsigned long long restore_memory; /* restore_memory=SIZE: its address space; 0: no limit */
	unsigned bcast_min_nodes; /* bcast_min_nodes=N: fan out for jobs of N nodes or more; 0 never */
};

#define KPY_DEFAULT_BCAST_MIN_NODES 4

/* Parse AC/AV (key=value words) into C; an unknown or malformed argument is an
 * error naming it, logged with slurm_error. */
int kpy_args_parse(int ac, char **av, struct kpy_plugin_config *c);

/* Register --kpy-env and --kpy-uv-cache with srun, sbatch and salloc. */
int kpy_args_register(spank_t sp);

/* The user options, and the variables that stand in for them. */
enum kpy_opt { KPY_OPT_ENV, KPY_OPT_UV, KPY_OPT_N };
/* --kpy-bcast=yes|no|auto: not a name, so after KPY_OPT_N */
#define KPY_OPT_BCAST KPY_OPT_N

/* What --kpy-bcast (else $KPY_BCAST, else $SLURM_SPANK_KPY_BCAST) asks for. */
enum kpy_bcast { KPY_BCAST_AUTO, KPY_BCAST_YES, KPY_BCAST_NO };

/* The fan-out mode, read with GET as kpy_args_name does: 0 with *MODE (AUTO when
 * nothing is given), or -1 with *BAD a malloc'd "--kpy-bcast=VALUE" or "VAR=VALUE"
 * naming the bad setting (logged by the caller). */
int kpy_args_bcast(char *(*get)(const char *var, void *arg), void *arg, enum kpy_bcast *mode,
		   char **bad);

/* The name an option asks for, and where it was found. */
struct kpy_name {
	const char *option; /* "kpy-env", "kpy-uv-cache" */
	const char *var;    /* the variable standing in for it: "KPY_ENV", "KPY_UV_CACHE" */
	const char *what;   /* what it names: "environment", "uv cache" */
	const char *from;   /* where NAME came from: NULL (the option, or nothing was
			     * given), VAR or "SLURM_SPANK_<VAR>" (points into this struct) */
	int given;          /* 1 when the option was given (maybe empty) */
	char *name;         /* malloc'd; NULL when none is given, or it is empty */
	struct kpy_err err; /* KPY_OK, or why NAME is bad (kpy_name_check) */
	char spank_var[64];
};

/* The name for option OPT, the same in every context: the option's value when it
 * was given, else $VAR, else $SLURM_SPANK_VAR (the job control environment, where
 * sbatch and salloc put it for steps that --export drops it from), each read with
 * GET (a malloc'd copy, or NULL when unset; ARG is the caller's). The first that is
 * set counts; empty is none. The name is checked with kpy_name_check: 0 when it is
 * fine or none is given, -1 when bad (OUT->err says why). Free OUT->name. */
int kpy_args_name(enum kpy_opt opt, char *(*get)(const char *var, void *arg), void *arg,
		  struct kpy_name *out);

void kpy_args_free(void);

#endif
