/* epilog.h: the job epilog, run by slurmd as root in the job script context. */
#ifndef KPY_PLUGIN_EPILOG_H
#define KPY_PLUGIN_EPILOG_H

#include <stdint.h>
#include <slurm/spank.h>

/* Job epilog (run by slurmd as root): remove the scratch directory the plugin made
 * for the job. Never fails: a failing epilog would drain the node. */
int kpy_job_epilog(spank_t sp, int ac, char **av);

#endif
