/* args.c: the --kpy-env option table and the plugstack.conf key=value arguments. */
#include "autoconfig.h"
#include "args.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "store.h"

static char *opt_env;

static int opt_env_cb(int val, const char *optarg, int remote);

static struct spank_option kpy_options[] = {
	{
		"kpy-env", "NAME",
		"[kpy] restore the saved environment NAME on each node's scratch and "
		"activate it for the job's tasks (default: $KPY_ENV)",
		1, 0, opt_env_cb
	},
	SPANK_OPTIONS_TABLE_END
};

static int opt_env_cb(int val, const char *optarg, int remote)
{
	struct kpy_err e = KPY_ERR_INIT;
	char *dup;

	if (optarg == NULL || optarg[0] == '\0') {
		slurm_error("kpy: --kpy-env needs the name of a saved environment");
		return -1;
	}
	/* On the node the name is checked again and any error is reported from task_init. */
	if (!remote && kpy_name_check(optarg, "environment name", &e) < 0) {
		slurm_error("kpy: --kpy-env=%s: %s", optarg, e.msg);
		return -1;
	}
	dup = strdup(optarg);
	if (dup == NULL) {
		slurm_error("kpy: out of memory");
		return -1;
	}
	free(opt_env);
	opt_env = dup;
	return 0;
}

int kpy_args_register(spank_t sp)
{
	spank_err_t rc;

	for (int i = 0; kpy_options[i].name != NULL; i++) {
		rc = spank_option_register(sp, &kpy_options[i]);
		if (rc != ESPANK_SUCCESS) {
			slurm_error("kpy: cannot register --%s: %s", kpy_options[i].name,
				    spank_strerror(rc));
			return -1;
		}
	}
	return 0;
}

const char *kpy_args_env(void)
{
	return opt_env;
}

void kpy_args_free(void)
{
	free(opt_env);
	opt_env = NULL;
}

static int parse_path(const char *arg, const char *val, const char **out)
{
	if (val[0] != '/') {
		slurm_error("kpy: plugstack.conf: '%s': the value must be an absolute path", arg);
		return -1;
	}
	*out = val;
	return 0;
}

static int parse_bool(const char *arg, const char *val, int *out)
{
	if (strcmp(val, "yes") == 0 || strcmp(val, "1") == 0 || strcmp(val, "true") == 0) {
		*out = 1;
		return 0;
	}
	if (strcmp(val, "no") == 0 || strcmp(val, "0") == 0 || strcmp(val, "false") == 0) {
		*out = 0;
		return 0;
	}
	slurm_error("kpy: plugstack.conf: '%s': the value must be yes or no", arg);
	return -1;
}

int kpy_args_parse(int ac, char **av, struct kpy_plugin_config *c)
{
	int rv = -1;

	c->pipdir = NULL;
	c->tmpdir = KPY_DEFAULT_TMPDIR;
	c->offline = 1;
	for (int i = 0; i < ac; i++) {
		const char *arg = av[i], *eq = strchr(arg, '=');
		size_t klen;
		int ret;

		if (eq == NULL || eq == arg || eq[1] == '\0') {
			slurm_error("kpy: plugstack.conf: malformed argument '%s': expected "
				    "pipdir=PATH, tmpdir=PATH or offline=yes|no", arg);
			goto fail;
		}
		klen = (size_t)(eq - arg);
		if (klen == 6 && strncmp(arg, "pipdir", klen) == 0)
			ret = parse_path(arg, eq + 1, &c->pipdir);
		else if (klen == 6 && strncmp(arg, "tmpdir", klen) == 0)
			ret = parse_path(arg, eq + 1, &c->tmpdir);
		else if (klen == 7 && strncmp(arg, "offline", klen) == 0)
			ret = parse_bool(arg, eq + 1, &c->offline);
		else {
			slurm_error("kpy: plugstack.conf: unknown argument '%s': the arguments "
				    "are pipdir=PATH, tmpdir=PATH and offline=yes|no", arg);
			goto fail;
		}
		if (ret < 0)
			goto fail;
	}
	rv = 0;
fail:
	return rv;
}
