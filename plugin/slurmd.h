/* slurmd.h: slurmd itself. */
#ifndef KPY_PLUGIN_SLURMD_H
#define KPY_PLUGIN_SLURMD_H

#include <stdint.h>
#include <slurm/spank.h>

/* slurmd: check the plugstack arguments when the daemon starts. */
int kpy_slurmd_init(spank_t sp, int ac, char **av);

#endif
