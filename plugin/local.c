/* local.c: srun, sbatch and salloc: name checks before the job is sent off, and the
 * name handed to the job. */
#include "autoconfig.h"
#include "local.h"

#include <stdio.h>
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

/* Check the name given with OPTION (or in VAR) and, in sbatch and salloc, pass it on
 * as VAR. 0 when fine or unused, -1 (with a message) when bad. */
static int check_name(spank_t sp, int allocator, const char *given, const char *option,
		      const char *var, const char *what)
{
	struct kpy_err e = KPY_ERR_INIT;
	const char *name = given;
	char label[32];

	snprintf(label, sizeof(label), "%s name", what);
	if (name != NULL) {
		if (name[0] == '\0') {
			slurm_error("kpy: --%s needs the name of a saved %s", option, what);
			return -1;
		}
		if (kpy_name_check(name, label, &e) < 0) {
			kpy_log_error("kpy: --%s=%s: %s", option, name, e.msg);
			return -1;
		}
	} else {
		name = getenv(var);
		if (name == NULL || name[0] == '\0')
			return 0;
		if (kpy_name_check(name, label, &e) < 0) {
			kpy_log_error("kpy: %s=%s: %s", var, name, e.msg);
			return -1;
		}
	}
	/* salloc's shell and sbatch's exported environment carry the name to later sruns.
	 * sbatch --export=NONE (or =VARS) exports neither it nor the option to the batch
	 * step; the job control environment reaches every step whatever --export says. */
	if (allocator && setenv(var, name, 1) < 0) {
		slurm_error("kpy: cannot set %s", var);
		return -1;
	}
	if (allocator && spank_job_control_setenv(sp, var, name, 1) != ESPANK_SUCCESS) {
		slurm_error("kpy: cannot pass %s to the job", var);
		return -1;
	}
	return 0;
}

int kpy_local_post_opt(spank_t sp, int allocator)
{
	if (check_name(sp, allocator, kpy_args_env(), "kpy-env", "KPY_ENV", "environment") < 0 ||
	    check_name(sp, allocator, kpy_args_uv_cache(), "kpy-uv-cache", "KPY_UV_CACHE",
		       "uv cache") < 0)
		return -1;
	return 0;
}

int kpy_local_exit(spank_t sp)
{
	kpy_args_free();
	return 0;
}
