/* submit.c: srun, sbatch and salloc alike: the plugin's set-up, and the name checks
 * before the job is sent off. */
#include "autoconfig.h"
#include "submit.h"

#include <stdio.h>
#include <stdlib.h>

#include "args.h"
#include "error.h"
#include "log.h"
#include "store.h"

int kpy_submit_init(spank_t sp, int ac, char **av)
{
	struct kpy_plugin_config c;

	if (kpy_args_parse(ac, av, &c) < 0)
		return -1;
	return kpy_args_register(sp);
}

int kpy_submit_name(const char *given, const char *option, const char *var,
		    const char *what, const char **out)
{
	struct kpy_err e = KPY_ERR_INIT;
	const char *name = given;
	char label[32];

	*out = NULL;
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
	*out = name;
	return 0;
}

int kpy_submit_exit(spank_t sp)
{
	kpy_args_free();
	return 0;
}
