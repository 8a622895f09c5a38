/* srun.c: srun (local context): check the names before the step is launched; the
 * step's slurmstepd (slurmstepd.c) gets them with the options. */
#include "autoconfig.h"
#include "srun.h"

#include "args.h"
#include "submit.h"

int kpy_srun_init(spank_t sp, int ac, char **av)
{
	return kpy_submit_init(sp, ac, av);
}

int kpy_srun_post_opt(spank_t sp)
{
	const char *name;

	if (kpy_submit_name(kpy_args_env(), "kpy-env", "KPY_ENV", "environment", &name) < 0 ||
	    kpy_submit_name(kpy_args_uv_cache(), "kpy-uv-cache", "KPY_UV_CACHE", "uv cache",
			    &name) < 0)
		return -1;
	return 0;
}

int kpy_srun_exit(spank_t sp)
{
	return kpy_submit_exit(sp);
}
