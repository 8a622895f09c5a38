/* args.h: the plugin's user options (--kpy-env, --kpy-uv-cache) and its plugstack.conf arguments. */
#ifndef KPY_PLUGIN_ARGS_H
#define KPY_PLUGIN_ARGS_H

#include <stdint.h>
#include <slurm/spank.h>

#define KPY_DEFAULT_TMPDIR "/tmp"
#define KPY_DEFAULT_RESTORE_TIMEOUT 600                         /* seconds */
#define KPY_DEFAULT_RESTORE_MEMORY (4ULL * 1024 * 1024 * 1024)  /* bytes */

/* plugstack.conf arguments; strings point into the plugin's argv (not owned). */
struct kpy_plugin_config {
	const char *pipdir; /* pipdir=PATH, or NULL: the job user's own configuration */
	const char *tmpdir; /* tmpdir=PATH: base of per-job scratch when no SLURM_TMPDIR */
	int offline;        /* offline=yes|no */
	unsigned restore_timeout;        /* restore_timeout=SECONDS: kill a slower restore */
	unsigned long long restore_memory; /* restore_memory=SIZE: its address space; 0: no limit */
};

/* Parse AC/AV (key=value words) into C; an unknown or malformed argument is an
 * error naming it, logged with slurm_error. */
int kpy_args_parse(int ac, char **av, struct kpy_plugin_config *c);

/* Register --kpy-env and --kpy-uv-cache with srun, sbatch and salloc. */
int kpy_args_register(spank_t sp);

/* The value given with --kpy-env, or NULL when the option was not used. */
const char *kpy_args_env(void);
/* The value given with --kpy-uv-cache, or NULL when the option was not used. */
const char *kpy_args_uv_cache(void);

void kpy_args_free(void);

#endif
