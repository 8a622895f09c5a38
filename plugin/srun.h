/* srun.h: srun (local context), on the submitting host. */
#ifndef KPY_PLUGIN_SRUN_H
#define KPY_PLUGIN_SRUN_H

#include <stdint.h>
#include <slurm/spank.h>

/* Check the plugstack arguments and register --kpy-env and --kpy-uv-cache. */
int kpy_srun_init(spank_t sp, int ac, char **av);
/* Check the env and uv cache names early, so a bad name fails before the step is
 * launched. */
int kpy_srun_post_opt(spank_t sp);
/* After the allocation and before the tasks: the fan-out (sbcast of the archive). */
int kpy_srun_local_user_init(spank_t sp, int ac, char **av);
int kpy_srun_exit(spank_t sp);

#endif
