/* threads.h: how many threads save and restore use. */
#ifndef KPY_THREADS_H
#define KPY_THREADS_H

#include "config.h"

/* The most threads kpy starts for one save or restore: memory is a few frames per
 * thread, and file creation stops scaling long before this. */
#define KPY_THREADS_MAX 64

/* CPUs this process may run on (its affinity mask: a Slurm step's cgroup cpuset shows
 * there), at least 1. */
int kpy_cpus_usable(void);

/* Threads for a save or restore: REQ when > 0 (-j N), else CFG_THREADS when > 0 (the
 * threads setting), else inside a Slurm job (SLURM_JOB_ID set in GET's variables; GET
 * NULL reads the process environment) the job's CPUs on this node
 * (SLURM_CPUS_ON_NODE), else every CPU this process may use; never more than
 * kpy_cpus_usable() unless asked for by REQ or CFG_THREADS, between 1 and
 * KPY_THREADS_MAX. */
int kpy_threads_pick(int req, int cfg_threads, kpy_getenv_fn *get, const void *arg);

#endif
