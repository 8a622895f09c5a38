/* slurmstepd.h: the compute node's step daemon (remote context): restore the env and
 * the uv cache of the job once per node, export them to the tasks. */
#ifndef KPY_PLUGIN_SLURMSTEPD_H
#define KPY_PLUGIN_SLURMSTEPD_H

#include <stdint.h>
#include <slurm/spank.h>

/* Check the plugstack arguments and register the options (their values arrive here). */
int kpy_slurmstepd_init(spank_t sp, int ac, char **av);
/* Pick the env and uv cache names: the option, else KPY_ENV / KPY_UV_CACHE of the
 * job, else SLURM_SPANK_KPY_ENV / ...; a bad name is remembered for task_init. */
int kpy_slurmstepd_post_opt(spank_t sp);
/* Restore them (restore.c) and export them to the tasks; never fails here (Slurm
 * would ignore it, or drain the node), task_init reports instead. */
int kpy_slurmstepd_user_init(spank_t sp);
/* Fail every task of a step whose restore failed, with the message once per node. */
int kpy_slurmstepd_task_init(spank_t sp);
int kpy_slurmstepd_exit(spank_t sp);

#endif
