/* alloc.c: sbatch and salloc (allocator context): check the names before the job is
 * queued and hand them to every step of the job. */
#include "autoconfig.h"
#include "alloc.h"

#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "log.h"
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

static char *process_var(const char *var, void *arg)
{
	const char *v = getenv(var);

	(void)arg;
	return v != NULL ? strdup(v) : NULL;
}

/* --kpy-bcast: checked, and passed on as KPY_BCAST like the names */
static int pass_bcast(spank_t sp)
{
	static const char *const word[] = { "auto", "yes", "no" };
	enum kpy_bcast mode;
	char *bad = NULL;

	if (kpy_args_bcast(process_var, NULL, &mode, &bad) < 0) {
		kpy_log_error("kpy: %s: the value must be yes, no or auto", bad ? bad : "--kpy-bcast");
		free(bad);
		return -1;
	}
	if (mode == KPY_BCAST_AUTO)
		return 0;
	if (setenv("KPY_BCAST", word[mode], 1) < 0 ||
	    spank_job_control_setenv(sp, "KPY_BCAST", word[mode], 1) != ESPANK_SUCCESS) {
		slurm_error("kpy: cannot pass KPY_BCAST to the job");
		return -1;
	}
	return 0;
}

int kpy_alloc_post_opt(spank_t sp)
{
	if (pass_name(sp, KPY_OPT_ENV) < 0 || pass_name(sp, KPY_OPT_UV) < 0 || pass_bcast(sp) < 0)
		return -1;
	return 0;
}

int kpy_alloc_exit(spank_t sp)
{
	return kpy_submit_exit(sp);
}
