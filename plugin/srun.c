/* srun.c: srun (local context): check the names before the step is launched; the
 * step's slurmstepd (slurmstepd.c) gets them with the options. */
#include "autoconfig.h"
#include "srun.h"

#include <stdlib.h>

#include "args.h"
#include "submit.h"

int kpy_srun_init(spank_t sp, int ac, char **av)
{
	return kpy_submit_init(sp, ac, av);
}

int kpy_srun_post_opt(spank_t sp)
{
	for (int opt = 0; opt < KPY_OPT_N; opt++) {
		const char *var = NULL;
		char *name;

		if (kpy_submit_name((enum kpy_opt)opt, &name, &var) < 0)
			return -1;
		free(name);
	}
	return 0;
}

int kpy_srun_exit(spank_t sp)
{
	return kpy_submit_exit(sp);
}
