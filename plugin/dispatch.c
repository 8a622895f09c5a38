/* dispatch.c: the SPANK entry points; each only picks the code for the current context. */
#include "autoconfig.h"

#include <stdint.h>
#include <slurm/spank.h>

#include "alloc.h"
#include "epilog.h"
#include "slurmd.h"
#include "slurmstepd.h"
#include "srun.h"

SPANK_PLUGIN(kpy, 1)

int slurm_spank_init(spank_t sp, int ac, char **av)
{
	switch (spank_context()) {
	case S_CTX_LOCAL:
		return kpy_srun_init(sp, ac, av);
	case S_CTX_ALLOCATOR:
		return kpy_alloc_init(sp, ac, av);
	case S_CTX_REMOTE:
		return kpy_slurmstepd_init(sp, ac, av);
	case S_CTX_SLURMD:
		return kpy_slurmd_init(sp, ac, av);
	default:
		return 0;
	}
}

int slurm_spank_init_post_opt(spank_t sp, int ac, char **av)
{
	switch (spank_context()) {
	case S_CTX_LOCAL:
		return kpy_srun_post_opt(sp);
	case S_CTX_ALLOCATOR:
		return kpy_alloc_post_opt(sp);
	case S_CTX_REMOTE:
		return kpy_slurmstepd_post_opt(sp);
	default:
		return 0;
	}
}

int slurm_spank_local_user_init(spank_t sp, int ac, char **av)
{
	switch (spank_context()) {
	case S_CTX_LOCAL:
		return kpy_srun_local_user_init(sp, ac, av);
	default:
		return 0;
	}
}

int slurm_spank_user_init(spank_t sp, int ac, char **av)
{
	switch (spank_context()) {
	case S_CTX_REMOTE:
		return kpy_slurmstepd_user_init(sp);
	default:
		return 0;
	}
}

int slurm_spank_task_init(spank_t sp, int ac, char **av)
{
	switch (spank_context()) {
	case S_CTX_REMOTE:
		return kpy_slurmstepd_task_init(sp);
	default:
		return 0;
	}
}

int slurm_spank_job_epilog(spank_t sp, int ac, char **av)
{
	switch (spank_context()) {
	case S_CTX_JOB_SCRIPT:
		return kpy_job_epilog(sp, ac, av);
	default:
		return 0;
	}
}

int slurm_spank_exit(spank_t sp, int ac, char **av)
{
	switch (spank_context()) {
	case S_CTX_LOCAL:
		return kpy_srun_exit(sp);
	case S_CTX_ALLOCATOR:
		return kpy_alloc_exit(sp);
	case S_CTX_REMOTE:
		return kpy_slurmstepd_exit(sp);
	default:
		return 0;
	}
}
