/* local.c: srun, sbatch and salloc: name checks before the job is sent off, and the
 * name handed to the job. */
#include "autoconfig.h"
#include "local.h"

#include <stdlib.h>

#include "args.h"
#include "error.h"
#include "log.h"
#include "store.h"

int kpy_local_init(spank_t sp, int ac, char **av)
{
	struct kpy_plugin_config c;

	if (kpy_args_parse(ac, av, &c) < 0)
		return -1;
	return kpy_args_register(sp);
}

int kpy_local_post_opt(spank_t sp, int allocator)
{
	struct kpy_err e = KPY_ERR_INIT;
	const char *name = kpy_args_env();
	int rv = -1;

	if (name != NULL) {
		if (name[0] == '\0') {
			slurm_error("kpy: --kpy-env needs the name of a saved environment");
			goto fail;
		}
		if (kpy_name_check(name, "environment name", &e) < 0) {
			kpy_log_error("kpy: --kpy-env=%s: %s", name, e.msg);
			goto fail;
		}
	} else {
		name = getenv("KPY_ENV");
		if (name == NULL || name[0] == '\0')
			return 0;
		if (kpy_name_check(name, "environment name", &e) < 0) {
			kpy_log_error("kpy: KPY_ENV=%s: %s", name, e.msg);
			goto fail;
		}
	}
	/* salloc's shell and sbatch's exported environment carry the name to later sruns.
	 * sbatch --export=NONE (or =VARS) exports neither it nor the option to the batch
	 * step; the job control environment reaches every step whatever --export says. */
	if (allocator && setenv("KPY_ENV", name, 1) < 0) {
		slurm_error("kpy: cannot set KPY_ENV");
		goto fail;
	}
	if (allocator && spank_job_control_setenv(sp, "KPY_ENV", name, 1) != ESPANK_SUCCESS) {
		slurm_error("kpy: cannot pass KPY_ENV to the job");
		goto fail;
	}
	rv = 0;
fail:
	return rv;
}

int kpy_local_exit(spank_t sp)
{
	kpy_args_free();
	return 0;
}
