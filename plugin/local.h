/* local.h: the submitting side: srun (local context), sbatch and salloc (allocator). */
#ifndef KPY_PLUGIN_LOCAL_H
#define KPY_PLUGIN_LOCAL_H

#include <stdint.h>
#include <slurm/spank.h>

/* Check the plugstack arguments and register --kpy-env and --kpy-uv-cache. */
int kpy_local_init(spank_t sp, int ac, char **av);
/* Check the env and uv cache names early, so a bad name fails before the job is
 * queued; in sbatch and salloc also export KPY_ENV and KPY_UV_CACHE so sruns inside
 * the allocation inherit them. */
int kpy_local_post_opt(spank_t sp, int allocator);
int kpy_local_exit(spank_t sp);

#endif
