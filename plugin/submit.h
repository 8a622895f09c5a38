/* submit.h: what the submitting commands share, srun (srun.c) and sbatch and salloc
 * (alloc.c): the plugin's set-up there, and the names checked before the job is sent. */
#ifndef KPY_PLUGIN_SUBMIT_H
#define KPY_PLUGIN_SUBMIT_H

#include <stdint.h>
#include <slurm/spank.h>

#include "args.h"

/* Check the plugstack arguments and register --kpy-env and --kpy-uv-cache. */
int kpy_submit_init(spank_t sp, int ac, char **av);

/* Check the name for option OPT (kpy_args_name, over this process's environment):
 * 0 with *NAME the name (malloc'd), or NULL when none is given; -1 (with a message)
 * when it is bad or the option was given empty, so that a bad name fails before the
 * job is queued. *VAR is then the variable that stands in for the option (KPY_ENV). */
int kpy_submit_name(enum kpy_opt opt, char **name, const char **var);

int kpy_submit_exit(spank_t sp);

#endif
