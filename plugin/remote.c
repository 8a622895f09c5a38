/* remote.c: slurmstepd: pick the env, have it restored once per job (restore.c),
 * export it to the tasks, and report failures from task_init. */
#include "autoconfig.h"
#include "remote.h"

#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "args.h"
#include "error.h"
#include "log.h"
#include "restore.h"
#include "scratch.h"
#include "store.h"

static struct {
	struct kpy_plugin_config cfg;
	char *name;     /* env to restore; NULL when the plugin has nothing to do */
	char *error;    /* remembered for task_init */
} ctx;

static void remember(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Keep the first error for task_init, escaped: names and messages come from users. */
static void remember(const char *fmt, ...)
{
	va_list ap;
	char *raw = NULL;

	if (ctx.error != NULL)
		return;
	va_start(ap, fmt);
	if (vasprintf(&raw, fmt, ap) < 0)
		raw = NULL;
	va_end(ap);
	ctx.error = kpy_log_format("%s", raw != NULL ? raw : "kpy: out of memory");
	free(raw);
}

/* A malloc'd copy of VAR from the job environment, or NULL if unset. */
static char *job_getenv(spank_t sp, const char *var)
{
	size_t len = 256;
	char *buf = NULL, *tmp;
	spank_err_t rc;

	for (;;) {
		tmp = realloc(buf, len);
		if (tmp == NULL)
			break;
		buf = tmp;
		rc = spank_getenv(sp, var, buf, (int)len);
		if (rc == ESPANK_SUCCESS)
			return buf;
		if (rc != ESPANK_NOSPACE || len >= 1 << 20)
			break;
		len *= 4;
	}
	free(buf);
	return NULL;
}

static int job_setenv(spank_t sp, const char *var, const char *val)
{
	spank_err_t rc = spank_setenv(sp, var, val, 1);

	if (rc != ESPANK_SUCCESS) {
		remember("kpy: cannot set %s for the job: %s", var, spank_strerror(rc));
		return -1;
	}
	return 0;
}

int kpy_remote_init(spank_t sp, int ac, char **av)
{
	if (kpy_args_parse(ac, av, &ctx.cfg) < 0)
		return -1;
	return kpy_args_register(sp);
}

int kpy_remote_post_opt(spank_t sp)
{
	struct kpy_err e = KPY_ERR_INIT;
	const char *opt = kpy_args_env();

	/* the option given to this step wins over KPY_ENV inherited from the batch job;
	 * sbatch --export=NONE (or =VARS) drops both the option and KPY_ENV from the batch
	 * step's environment, but Slurm passes the job control environment, where sbatch
	 * and salloc put the name too, to every step as SLURM_SPANK_KPY_ENV */
	ctx.name = opt != NULL ? strdup(opt) : job_getenv(sp, "KPY_ENV");
	if (ctx.name == NULL)
		ctx.name = job_getenv(sp, "SLURM_SPANK_KPY_ENV");
	if (ctx.name != NULL && ctx.name[0] == '\0') {
		free(ctx.name);
		ctx.name = NULL;
	}
	if (ctx.name != NULL && kpy_name_check(ctx.name, "environment name", &e) < 0)
		remember("kpy: cannot use environment '%s': %s", ctx.name, e.msg);
	return 0;
}

/* ---- slurmstepd ---- */

static int get_job(spank_t sp, struct kpy_job *j)
{
	char *tmpdir;

	if (spank_get_item(sp, S_JOB_UID, &j->uid) != ESPANK_SUCCESS ||
	    spank_get_item(sp, S_JOB_GID, &j->gid) != ESPANK_SUCCESS ||
	    spank_get_item(sp, S_JOB_ID, &j->jobid) != ESPANK_SUCCESS ||
	    spank_get_item(sp, S_JOB_ENV, &j->env) != ESPANK_SUCCESS) {
		remember("kpy: cannot read the job's user, id or environment from Slurm");
		return -1;
	}
	if (spank_get_item(sp, S_JOB_SUPPLEMENTARY_GIDS, &j->gids, &j->ngids) != ESPANK_SUCCESS) {
		j->gids = &j->gid;
		j->ngids = 1;
	}
	/* $SLURM_TMPDIR from the site (or from the batch step, when it is ours) */
	tmpdir = job_getenv(sp, "SLURM_TMPDIR");
	j->scratch = kpy_scratch_path(ctx.cfg.tmpdir, j->jobid, j->uid);
	if (j->scratch == NULL) {
		free(tmpdir);
		remember("kpy: out of memory");
		return -1;
	}
	/* a SLURM_TMPDIR that is another job's plugin-made scratch was inherited (a job
	 * submitted from inside a job): it is not this job's, so make our own */
	if (tmpdir == NULL || tmpdir[0] == '\0' || strcmp(tmpdir, j->scratch) == 0 ||
	    kpy_scratch_is_ours(ctx.cfg.tmpdir, tmpdir)) {
		j->make_scratch = 1;
		free(tmpdir);
	} else {
		free(j->scratch);
		j->scratch = tmpdir;
	}
	j->home = job_getenv(sp, "HOME");
	j->user = job_getenv(sp, "USER");
	if (j->home == NULL || j->user == NULL) {
		struct passwd pw, *res = NULL;
		char buf[4096];

		if (getpwuid_r(j->uid, &pw, buf, sizeof(buf), &res) == 0 && res != NULL) {
			if (j->home == NULL)
				j->home = strdup(pw.pw_dir);
			if (j->user == NULL)
				j->user = strdup(pw.pw_name);
		}
	}
	return 0;
}

/* a step of sbatch --export=NONE has no PATH: keep the commands execvp would find */
#define KPY_DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"

static int export_env(spank_t sp, const struct kpy_job *j, const char *pipdir)
{
	char *dest = NULL, *bin = NULL, *path = NULL, *newpath = NULL, *wheels = NULL;
	int rv = -1;
	size_t blen;

	if (asprintf(&dest, "%s/kpy/%s", j->scratch, ctx.name) < 0 ||
	    asprintf(&bin, "%s/bin", dest) < 0 ||
	    asprintf(&wheels, "%s/wheels", pipdir) < 0) {
		remember("kpy: out of memory");
		goto fail;
	}
	path = job_getenv(sp, "PATH");
	blen = strlen(bin);
	/* an srun inside a batch job inherits PATH with bin/ already first */
	if (path != NULL && strncmp(path, bin, blen) == 0 &&
	    (path[blen] == ':' || path[blen] == '\0')) {
		newpath = path;
		path = NULL;
	} else if (asprintf(&newpath, "%s:%s", bin, path != NULL && path[0] ? path :
			    KPY_DEFAULT_PATH) < 0) {
		newpath = NULL;
		remember("kpy: out of memory");
		goto fail;
	}
	if ((j->make_scratch && job_setenv(sp, "SLURM_TMPDIR", j->scratch) < 0) ||
	    job_setenv(sp, "KPY_ENV", ctx.name) < 0 ||
	    job_setenv(sp, "VIRTUAL_ENV", dest) < 0 ||
	    job_setenv(sp, "PATH", newpath) < 0)
		goto fail;
	spank_unsetenv(sp, "PYTHONHOME");
	if (ctx.cfg.offline &&
	    (job_setenv(sp, "PIP_NO_INDEX", "1") < 0 ||
	     job_setenv(sp, "PIP_FIND_LINKS", wheels) < 0 ||
	     job_setenv(sp, "UV_OFFLINE", "1") < 0 ||
	     job_setenv(sp, "UV_FIND_LINKS", wheels) < 0 ||
	     job_setenv(sp, "UV_PYTHON_DOWNLOADS", "never") < 0))
		goto fail;
	rv = 0;
fail:
	free(dest);
	free(bin);
	free(path);
	free(newpath);
	free(wheels);
	return rv;
}

int kpy_remote_user_init(spank_t sp)
{
	struct kpy_job j = { 0 };
	struct kpy_reply *r = NULL;
	struct timespec t0, t1;
	char host[256] = "this node", *node, *err = NULL;
	long ms;
	int rv = -1;

	if (ctx.name == NULL || ctx.error != NULL)
		return 0;
	node = job_getenv(sp, "SLURMD_NODENAME");
	if (node != NULL || getenv("SLURMD_NODENAME") != NULL)
		snprintf(host, sizeof(host), "%s", node != NULL ? node : getenv("SLURMD_NODENAME"));
	else
		gethostname(host, sizeof(host) - 1);
	free(node);
	r = calloc(1, sizeof(*r));
	if (r == NULL) {
		remember("kpy: out of memory");
		goto fail;
	}
	if (get_job(sp, &j) < 0)
		goto fail;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (kpy_restore_run(&j, ctx.name, &ctx.cfg, r, &err) < 0) {
		remember("%s", err);
		goto fail;
	}
	if (r->note[0] != '\0')
		kpy_log_info("kpy: %s", r->note);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	if (r->code != 0) {
		remember("kpy: cannot restore environment '%s' on %s: %s", ctx.name, host, r->msg);
		goto fail;
	}
	if (r->restored)
		kpy_log_info("kpy: restored %s into %s/kpy/%s in %ld ms", ctx.name, j.scratch,
			     ctx.name, ms);
	else
		kpy_log_info("kpy: %s already restored in %s/kpy/%s (%ld ms)", ctx.name,
			     j.scratch, ctx.name, ms);
	if (export_env(sp, &j, r->pipdir) < 0)
		goto fail;
	rv = 0;
fail:
	/* Slurm ignores an error returned here (srun would exit 0) and drains the node for a
	 * batch step; task_init reports it instead, which fails the step cleanly. */
	if (rv < 0)
		slurm_debug("kpy: user_init failed; the error is reported from task_init");
	free(j.home);
	free(j.user);
	free(j.scratch);
	free(r);
	free(err);
	return 0;
}

int kpy_remote_task_init(spank_t sp)
{
	int task = 0;

	if (ctx.error == NULL)
		return 0;
	/* one message per node, not one per task */
	if (spank_get_item(sp, S_TASK_ID, &task) != ESPANK_SUCCESS || task == 0)
		slurm_error("%s", ctx.error);
	return -1;
}

int kpy_remote_exit(spank_t sp)
{
	free(ctx.name);
	free(ctx.error);
	ctx.name = NULL;
	ctx.error = NULL;
	kpy_args_free();
	return 0;
}
