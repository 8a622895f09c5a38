/* args.c: the --kpy-env and --kpy-uv-cache option table and the plugstack.conf key=value arguments. */
#include "autoconfig.h"
#include "args.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store.h"

/* what each option was given, indexed by its val */
static char *opt_val[KPY_OPT_N + 1];

static int opt_cb(int val, const char *optarg, int remote);

static struct spank_option kpy_options[] = {
	{
		"kpy-env", "NAME",
		"[kpy] restore the saved environment NAME on each node's scratch and "
		"activate it for the job's tasks (default: $KPY_ENV)",
		1, KPY_OPT_ENV, opt_cb
	},
	{
		"kpy-uv-cache", "NAME",
		"[kpy] restore the saved uv cache NAME on each node's scratch and point "
		"UV_CACHE_DIR at it for the job's tasks (default: $KPY_UV_CACHE)",
		1, KPY_OPT_UV, opt_cb
	},
	{
		"kpy-bcast", "yes|no|auto",
		"[kpy] send the archive to every node once with sbcast and restore from the "
		"node-local copies (default auto: for jobs of at least bcast_min_nodes nodes)",
		1, KPY_OPT_BCAST, opt_cb
	},
	SPANK_OPTIONS_TABLE_END
};

/* The name is only kept here: it is checked in init_post_opt, because Slurm echoes
 * the raw argument of an option whose callback fails, newlines and all. */
static int opt_cb(int val, const char *optarg, int remote)
{
	char *dup = strdup(optarg != NULL ? optarg : "");

	if (dup == NULL || val < 0 || val > KPY_OPT_BCAST) {
		free(dup);
		slurm_error("kpy: out of memory");
		return -1;
	}
	free(opt_val[val]);
	opt_val[val] = dup;
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

int kpy_args_name(enum kpy_opt opt, char *(*get)(const char *var, void *arg), void *arg,
		  struct kpy_name *out)
{
	static const char *const names[KPY_OPT_N][3] = {
		[KPY_OPT_ENV] = { "kpy-env", "KPY_ENV", "environment" },
		[KPY_OPT_UV] = { "kpy-uv-cache", "KPY_UV_CACHE", "uv cache" },
	};
	char label[32];

	memset(out, 0, sizeof(*out));
	out->option = names[opt][0];
	out->var = names[opt][1];
	out->what = names[opt][2];
	snprintf(out->spank_var, sizeof(out->spank_var), "SLURM_SPANK_%s", out->var);
	if (opt_val[opt] != NULL) {
		out->given = 1;
		out->name = strdup(opt_val[opt]);
	} else if ((out->name = get(out->var, arg)) != NULL) {
		out->from = out->var;
	} else if ((out->name = get(out->spank_var, arg)) != NULL) {
		out->from = out->spank_var;
	}
	if (out->name != NULL && out->name[0] == '\0') {
		free(out->name);
		out->name = NULL;
	}
	snprintf(label, sizeof(label), "%s name", out->what);
	/* site:NAME: the site store's NAME */
	if (out->name != NULL && kpy_name_check(kpy_store_bare(out->name), label, &out->err) < 0)
		return -1;
	return 0;
}

int kpy_args_bcast(char *(*get)(const char *var, void *arg), void *arg, enum kpy_bcast *mode,
		   char **bad)
{
	static const char *const vars[] = { "KPY_BCAST", "SLURM_SPANK_KPY_BCAST" };
	const char *from = "--kpy-bcast";
	char *v = opt_val[KPY_OPT_BCAST] != NULL ? strdup(opt_val[KPY_OPT_BCAST]) : NULL;

	*mode = KPY_BCAST_AUTO;
	*bad = NULL;
	for (size_t i = 0; v == NULL && opt_val[KPY_OPT_BCAST] == NULL && i < 2; i++)
		if ((v = get(vars[i], arg)) != NULL)
			from = vars[i];
	if (v == NULL || strcmp(v, "auto") == 0 || (v[0] == '\0' && from[0] != '-')) {
		free(v);
		return 0;
	}
	if (strcmp(v, "yes") == 0) {
		*mode = KPY_BCAST_YES;
	} else if (strcmp(v, "no") == 0) {
		*mode = KPY_BCAST_NO;
	} else {
		if (asprintf(bad, "%s=%s", from, v) < 0)
			*bad = NULL;
		free(v);
		return -1;
	}
	free(v);
	return 0;
}

void kpy_args_free(void)
{
	for (int i = 0; i <= KPY_OPT_BCAST; i++) {
		free(opt_val[i]);
		opt_val[i] = NULL;
	}
}

static int parse_path(const char *arg, const char *val, const char **out)
{
	if (val[0] != '/') {
		kpy_log_error("kpy: plugstack.conf: '%s': the value must be an absolute path", arg);
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
	kpy_log_error("kpy: plugstack.conf: '%s': the value must be yes or no", arg);
	return -1;
}

#define KPY_ARGS_LIST "pipdir=PATH, site_pipdir=PATH[:PATH...], tmpdir=PATH, offline=yes|no, " \
	"restore_timeout=SECONDS, restore_memory=SIZE and bcast_min_nodes=N"

/* site_pipdir=PATH[:PATH...]: every part absolute */
static int parse_paths(const char *arg, const char *val, const char **out)
{
	for (const char *p = val; *p; ) {
		size_t n = strcspn(p, ":");
		if (n > 0 && p[0] != '/') {
			kpy_log_error("kpy: plugstack.conf: '%s': '%.*s' is not an absolute path: give "
				      "absolute paths separated by ':'", arg, (int)n, p);
			return -1;
		}
		p += n;
		p += *p == ':';
	}
	*out = val;
	return 0;
}

/* A decimal number from MIN to MAX in VAL (of ARG), else -1 with WHAT ("seconds from
 * 1 to 86400") in the message. */
static int parse_count(const char *arg, const char *val, unsigned long min, unsigned long max,
		       const char *what, unsigned *out)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(val, &end, 10);
	if (errno != 0 || *end != '\0' || val[0] < '0' || val[0] > '9' || v < min || v > max) {
		kpy_log_error("kpy: plugstack.conf: '%s': the value must be a number of %s", arg, what);
		return -1;
	}
	*out = (unsigned)v;
	return 0;
}

/* SIZE: bytes with an optional K, M, G or T suffix (powers of 1024); 0 or unlimited: none */
static int parse_size(const char *arg, const char *val, unsigned long long *out)
{
	unsigned long long v;
	char *end;
	int shift = 0;

	if (strcmp(val, "unlimited") == 0) {
		*out = 0;
		return 0;
	}
	errno = 0;
	v = strtoull(val, &end, 10);
	if (end[0] != '\0' && end[1] == '\0') {
		const char *u = strchr("KMGT", end[0] & ~0x20);

		shift = u != NULL ? 10 * (int)(u - "KMGT" + 1) : -1;
		end++;
	}
	if (errno != 0 || *end != '\0' || val[0] < '0' || val[0] > '9' || shift < 0 ||
	    v > (~0ULL >> shift) || (v != 0 && (v << shift) < (64ULL << 20))) {
		kpy_log_error("kpy: plugstack.conf: '%s': the value must be a size of at least "
			      "64M (K, M, G or T), or unlimited", arg);
		return -1;
	}
	*out = v << shift;
	return 0;
}

int kpy_args_parse(int ac, char **av, struct kpy_plugin_config *c)
{
	int rv = -1;

	c->pipdir = NULL;
	c->site_pipdir = NULL;
	c->tmpdir = KPY_DEFAULT_TMPDIR;
	c->offline = 1;
	c->restore_timeout = KPY_DEFAULT_RESTORE_TIMEOUT;
	c->restore_memory = KPY_DEFAULT_RESTORE_MEMORY;
	c->bcast_min_nodes = KPY_DEFAULT_BCAST_MIN_NODES;
	for (int i = 0; i < ac; i++) {
		const char *arg = av[i], *eq = strchr(arg, '=');
		size_t klen;
		int ret;

		if (eq == NULL || eq == arg || eq[1] == '\0') {
			kpy_log_error("kpy: plugstack.conf: malformed argument '%s': the "
				      "arguments are " KPY_ARGS_LIST, arg);
			goto fail;
		}
		klen = (size_t)(eq - arg);
		if (klen == 6 && strncmp(arg, "pipdir", klen) == 0)
			ret = parse_path(arg, eq + 1, &c->pipdir);
		else if (klen == 11 && strncmp(arg, "site_pipdir", klen) == 0)
			ret = parse_paths(arg, eq + 1, &c->site_pipdir);
		else if (klen == 6 && strncmp(arg, "tmpdir", klen) == 0)
			ret = parse_path(arg, eq + 1, &c->tmpdir);
		else if (klen == 7 && strncmp(arg, "offline", klen) == 0)
			ret = parse_bool(arg, eq + 1, &c->offline);
		else if (klen == 15 && strncmp(arg, "restore_timeout", klen) == 0)
			ret = parse_count(arg, eq + 1, 1, 86400, "seconds from 1 to 86400", &c->restore_timeout);
		else if (klen == 14 && strncmp(arg, "restore_memory", klen) == 0)
			ret = parse_size(arg, eq + 1, &c->restore_memory);
		else if (klen == 15 && strncmp(arg, "bcast_min_nodes", klen) == 0)
			ret = parse_count(arg, eq + 1, 0, 1000000, "nodes from 0 (fan out only when the job "
					  "asks, --kpy-bcast=yes) to 1000000", &c->bcast_min_nodes);
		else {
			kpy_log_error("kpy: plugstack.conf: unknown argument '%s': the arguments "
				      "are " KPY_ARGS_LIST, arg);
			goto fail;
		}
		if (ret < 0)
			goto fail;
	}
	rv = 0;
fail:
	return rv;
}
