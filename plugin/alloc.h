/* alloc.h: sbatch and salloc (allocator context), on the submitting host. */
#ifndef KPY_PLUGIN_ALLOC_H
#define KPY_PLUGIN_ALLOC_H

#include <stdint.h>
#include <slurm/spank.h>

/* Check the plugstack arguments and register --kpy-env and --kpy-uv-cache. */
int kpy_alloc_init(spank_t sp, int ac, char **av);
/* Check the env and uv cache names early, so a bad name fails before the job is
 * queued, and export them as KPY_ENV and KPY_UV_CACHE so that the sruns inside the
 * allocation inherit them. */
int kpy_alloc_post_opt(spank_t sp);
int kpy_alloc_exit(spank_t sp);

#endif
