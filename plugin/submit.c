/* submit.c: srun, sbatch and salloc alike: the plugin's set-up, and the name checks
 * before the job is sent off. */
#include "autoconfig.h"
#include "submit.h"

#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "log.h"

int kpy_submit_init(spank_t sp, int ac, char **av)
{
	struct kpy_plugin_config c;

	if (kpy_args_parse(ac, av, &c) < 0)
		return -1;
	return kpy_args_register(sp);
}

static char *process_var(const char *var, void *arg)
{
	const char *v = getenv(var);

	(void)arg;
	return v != NULL ? strdup(v) : NULL;
}

int kpy_submit_name(enum kpy_opt opt, char **name, const char **var)
{
	struct kpy_name n;

	*name = NULL;
	*var = NULL;
	if (kpy_args_name(opt, process_var, NULL, &n) < 0) {
		if (n.given)
			kpy_log_error("kpy: --%s=%s: %s", n.option, n.name, n.err.msg);
		else
			kpy_log_error("kpy: %s=%s: %s", n.from, n.name, n.err.msg);
		free(n.name);
		return -1;
	}
	if (n.given && n.name == NULL) {
		slurm_error("kpy: --%s needs the name of a saved %s", n.option, n.what);
		return -1;
	}
	*name = n.name;
	*var = n.var;
	return 0;
}

int kpy_submit_exit(spank_t sp)
{
	kpy_args_free();
	return 0;
}
