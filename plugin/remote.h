/* remote.h: the compute node: slurmstepd (remote context) and the job epilog. */
#ifndef KPY_PLUGIN_REMOTE_H
#define KPY_PLUGIN_REMOTE_H

#include <stdint.h>
#include <slurm/spank.h>

int kpy_remote_init(spank_t sp, int ac, char **av);
int kpy_remote_post_opt(spank_t sp);
int kpy_remote_user_init(spank_t sp);
int kpy_remote_task_init(spank_t sp);
int kpy_remote_exit(spank_t sp);

/* slurmd: check the plugstack arguments when the daemon starts. */
int kpy_slurmd_init(spank_t sp, int ac, char **av);
/* Job epilog (run by slurmd as root): remove the scratch directory the plugin made
 * for the job. Never fails: a failing epilog would drain the node. */
int kpy_job_epilog(spank_t sp, int ac, char **av);

#endif
