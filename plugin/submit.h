/* submit.h: what the submitting commands share, srun (srun.c) and sbatch and salloc
 * (alloc.c): the plugin's set-up there, and the names checked before the job is sent. */
#ifndef KPY_PLUGIN_SUBMIT_H
#define KPY_PLUGIN_SUBMIT_H

#include <stdint.h>
#include <slurm/spank.h>

/* Check the plugstack arguments and register --kpy-env and --kpy-uv-cache. */
int kpy_submit_init(spank_t sp, int ac, char **av);

/* Check the name given with --OPTION (GIVEN, or NULL when the option was not used),
 * else in this process's $VAR; WHAT names the thing ("environment"). 0 with *NAME
 * the name (not owned), or NULL when none is given; -1 (with a message) when bad,
 * so that a bad name fails before the job is queued. */
int kpy_submit_name(const char *given, const char *option, const char *var,
		    const char *what, const char **name);

int kpy_submit_exit(spank_t sp);

#endif
