/* alloc.c: sbatch and salloc (allocator context): check the names before the job is
 * queued and hand them to every step of the job. */
#include "autoconfig.h"
#include "alloc.h"

#include <stdlib.h>

#include "args.h"
#include "submit.h"

int kpy_alloc_init(spank_t sp, int ac, char **av)
{
	return kpy_submit_init(sp, ac, av);
}

/* Check the name for option OPT and pass it on as its variable (KPY_ENV). */
static int pass_name(spank_t sp, enum kpy_opt opt)
{
	const char *var = NULL;
	char *name;
	int rv = -1;

	if (kpy_submit_name(opt, &name, &var) < 0)
		return -1;
	if (name == NULL)
		return 0;
	/* salloc's shell and sbatch's exported environment carry the name to later sruns.
	 * sbatch --export=NONE (or =VARS) exports neither it nor the option to the batch
	 * step; the job control environment reaches every step whatever --export says. */
	if (setenv(var, name, 1) < 0) {
		slurm_error("kpy: cannot set %s", var);
		goto fail;
	}
	if (spank_job_control_setenv(sp, var, name, 1) != ESPANK_SUCCESS) {
		slurm_error("kpy: cannot pass %s to the job", var);
		goto fail;
	}
	rv = 0;
fail:
	free(name);
	return rv;
}

int kpy_alloc_post_opt(spank_t sp)
{
	if (pass_name(sp, KPY_OPT_ENV) < 0 || pass_name(sp, KPY_OPT_UV) < 0)
		return -1;
	return 0;
}

int kpy_alloc_exit(spank_t sp)
{
	return kpy_submit_exit(sp);
}
