/* slurmstepd.c: slurmstepd (remote context): pick the env, have it restored once per
 * job (restore.c), export it to the tasks, and report failures from task_init. */
#include "autoconfig.h"
#include "slurmstepd.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <slurm/slurm.h> /* SLURM_BATCH_SCRIPT */

#include "args.h"
#include "error.h"
#include "fanout.h"
#include "live.h"
#include "log.h"
#include "offline.h"
#include "passwd.h"
#include "remedy.h"
#include "restore.h"
#include "scratch.h"
#include "store.h"

#define KPY_MAX_ERRORS 2 /* one for the env, one for the uv cache */

static struct {
	struct kpy_plugin_config cfg;
	char *name;     /* env to restore; NULL when there is none */
	char *uv;       /* uv cache to restore; NULL when there is none */
	char *error[KPY_MAX_ERRORS]; /* remembered for task_init */
} ctx;

static void remember(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Keep the error for task_init, escaped: names and messages come from users. The
 * env and the uv cache each get theirs; anything after that is dropped. */
static void remember(const char *fmt, ...)
{
	va_list ap;
	char *raw = NULL;
	int k = 0;

	while (k < KPY_MAX_ERRORS && ctx.error[k] != NULL)
		k++;
	if (k == KPY_MAX_ERRORS)
		return;
	va_start(ap, fmt);
	if (vasprintf(&raw, fmt, ap) < 0)
		raw = NULL;
	va_end(ap);
	ctx.error[k] = kpy_log_format("%s", raw != NULL ? raw : "kpy: out of memory");
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

int kpy_slurmstepd_init(spank_t sp, int ac, char **av)
{
	if (kpy_args_parse(ac, av, &ctx.cfg) < 0)
		return -1;
	return kpy_args_register(sp);
}

static char *job_var(const char *var, void *sp)
{
	return job_getenv(sp, var);
}

/* The name for option OPT (kpy_args_name, over the job's environment); NULL when
 * none is given, or when it is bad (remembered for task_init). */
static char *pick_name(spank_t sp, enum kpy_opt opt)
{
	struct kpy_name n;

	if (kpy_args_name(opt, job_var, sp, &n) < 0) {
		remember("kpy: cannot use %s '%s': %s", n.what, n.name, n.err.msg);
		free(n.name);
		return NULL; /* the other one is still restored, so the step hears of both */
	}
	return n.name;
}

int kpy_slurmstepd_post_opt(spank_t sp)
{
	/* the option given to this step wins over KPY_ENV inherited from the batch job;
	 * sbatch --export=NONE (or =VARS) drops both the option and KPY_ENV from the batch
	 * step's environment, but Slurm passes the job control environment, where sbatch
	 * and salloc put the name too, to every step as SLURM_SPANK_KPY_ENV */
	ctx.name = pick_name(sp, KPY_OPT_ENV);
	ctx.uv = pick_name(sp, KPY_OPT_UV);
	return 0;
}

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
	if ((j->root = kpy_live_scratch_root(j->scratch)) == NULL) {
		remember("kpy: out of memory");
		return -1;
	}
	j->home = job_getenv(sp, "HOME");
	j->user = job_getenv(sp, "USER");
	if (j->home == NULL || j->user == NULL)
		kpy_passwd(j->uid, j->home == NULL ? &j->home : NULL,
			   j->user == NULL ? &j->user : NULL);
	return 0;
}

/* a step of sbatch --export=NONE has no PATH: keep the commands execvp would find */
#define KPY_DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"

static int set_for_job(const char *var, const char *val, void *sp)
{
	return job_setenv(sp, var, val);
}

/* plugstack.conf offline=yes: pip and uv install from the wheelhouse only */
static int export_offline(spank_t sp, const char *pipdir)
{
	char *wheels;
	int rv;

	if (!ctx.cfg.offline)
		return 0;
	if ((wheels = kpy_wheelhouse(pipdir)) == NULL) {
		remember("kpy: out of memory");
		return -1;
	}
	rv = kpy_offline_apply(wheels, set_for_job, sp);
	free(wheels);
	return rv;
}

static int export_env(spank_t sp, const struct kpy_job *j, const char *pipdir)
{
	char *dest = NULL, *bin = NULL, *path = NULL, *newpath = NULL;
	int rv = -1;
	size_t blen;

	if ((dest = kpy_live_path(j->root, KPY_KIND_VENV, kpy_store_bare(ctx.name))) == NULL ||
	    asprintf(&bin, "%s/bin", dest) < 0) {
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
	if (export_offline(sp, pipdir) < 0)
		goto fail;
	rv = 0;
fail:
	free(dest);
	free(bin);
	free(path);
	free(newpath);
	return rv;
}

/* The restored uv cache: UV_CACHE_DIR for the tasks, and uv offline. */
static int export_uv(spank_t sp, const struct kpy_job *j, const char *pipdir)
{
	char *dest = kpy_live_path(j->root, KPY_KIND_UV, kpy_store_bare(ctx.uv)), *path;
	int rv = -1;

	if (dest == NULL) {
		remember("kpy: out of memory");
		return -1;
	}
	/* as for envs: a step of sbatch --export=NONE would find no uv, nor anything */
	path = job_getenv(sp, "PATH");
	if ((path == NULL || path[0] == '\0') && job_setenv(sp, "PATH", KPY_DEFAULT_PATH) < 0) {
		free(path);
		goto fail;
	}
	free(path);
	if ((j->make_scratch && job_setenv(sp, "SLURM_TMPDIR", j->scratch) < 0) ||
	    job_setenv(sp, "KPY_UV_CACHE", ctx.uv) < 0 ||
	    job_setenv(sp, "UV_CACHE_DIR", dest) < 0 ||
	    export_offline(sp, pipdir) < 0)
		goto fail;
	rv = 0;
fail:
	free(dest);
	return rv;
}

/* Have NAME of KIND restored for job J (once per job per node) and exported to the
 * tasks; a failure is remembered for task_init. */
static int restore_one(spank_t sp, struct kpy_job *j, const char *kind, const char *name,
		       const char *host, struct kpy_reply *r)
{
	struct timespec t0, t1;
	char *err = NULL, *dest = NULL;
	const char *what = kpy_store_noun(kind);
	int uv = strcmp(kind, KPY_KIND_UV) == 0, rv = -1;
	long ms;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (kpy_restore_run(j, kind, name, &ctx.cfg, r, &err) < 0) {
		remember("%s", err);
		goto fail;
	}
	if (r->note[0] != '\0')
		kpy_log_info("kpy: %s", r->note);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	if (r->code != 0) {
		/* the core's facts, then the plugin's remedy (remedy.c) */
		const char *how = kpy_plugin_remedy(r->code, ctx.cfg.pipdir != NULL);
		remember("kpy: cannot restore %s '%s' on %s: %s%s%s", what, name, host, r->msg,
			 how ? ": " : "", how ? how : "");
		goto fail;
	}
	dest = kpy_live_path(j->root, kind, kpy_store_bare(name)); /* site:NAME is live as NAME */
	if (r->restored)
		kpy_log_info("kpy: restored %s%s into %s%s in %ld ms", uv ? "the uv cache " : "", name,
			     dest ? dest : j->scratch, r->from_copy ? " from the broadcast copy" : "",
			     ms);
	else
		kpy_log_info("kpy: %s%s already restored in %s (%ld ms)", uv ? "the uv cache " : "",
			     name, dest ? dest : j->scratch, ms);
	rv = uv ? export_uv(sp, j, r->pipdir) : export_env(sp, j, r->pipdir);
	/* a batch step broadcast the archive: its sruns use the copies (fanout.h) */
	if (r->fanout[0] != '\0' && job_setenv(sp, kpy_fanout_var(kind), r->fanout) < 0)
		rv = -1;
fail:
	free(dest);
	free(err);
	return rv;
}

/* The batch step of a job of bcast_min_nodes nodes or more (or --kpy-bcast=yes)
 * sends the archives to every node of the job, so that its sruns find them there;
 * an srun step does so from srun itself (srun.c). */
static int batch_broadcasts(spank_t sp)
{
	enum kpy_bcast mode;
	uint32_t step = 0;
	char *bad = NULL, *n;
	unsigned long nodes = 0;

	if (spank_get_item(sp, S_JOB_STEPID, &step) != ESPANK_SUCCESS || step != SLURM_BATCH_SCRIPT)
		return 0;
	if (kpy_args_bcast(job_var, sp, &mode, &bad) < 0) {
		kpy_log_info("kpy: ignoring %s: the value must be yes, no or auto", bad ? bad : "?");
		free(bad);
		return 0;
	}
	if (mode == KPY_BCAST_NO)
		return 0;
	if ((n = job_getenv(sp, "SLURM_JOB_NUM_NODES")) != NULL)
		nodes = strtoul(n, NULL, 10);
	free(n);
	return mode == KPY_BCAST_YES ||
	       (ctx.cfg.bcast_min_nodes > 0 && nodes >= ctx.cfg.bcast_min_nodes);
}

int kpy_slurmstepd_user_init(spank_t sp)
{
	struct kpy_job j = { 0 };
	struct kpy_reply *r = NULL;
	char host[256] = "";
	int rv = -1;

	if (ctx.name == NULL && ctx.uv == NULL)
		return 0;
	/* this machine's own name: SLURMD_NODENAME in the job's environment is, for an
	 * srun step inside a batch job, the batch node's, inherited (multinode.sh) */
	if (gethostname(host, sizeof(host) - 1) < 0 || host[0] == '\0')
		snprintf(host, sizeof(host), "this node");
	r = calloc(1, sizeof(*r));
	if (r == NULL) {
		remember("kpy: out of memory");
		goto fail;
	}
	if (get_job(sp, &j) < 0)
		goto fail;
	j.bcast = batch_broadcasts(sp);
	/* both are tried, so that a step with a bad env and a bad uv cache hears of both */
	rv = 0;
	if (ctx.name != NULL && restore_one(sp, &j, KPY_KIND_VENV, ctx.name, host, r) < 0)
		rv = -1;
	if (ctx.uv != NULL && restore_one(sp, &j, KPY_KIND_UV, ctx.uv, host, r) < 0)
		rv = -1;
fail:
	/* Slurm ignores an error returned here (srun would exit 0) and drains the node for a
	 * batch step; task_init reports it instead, which fails the step cleanly. */
	if (rv < 0)
		slurm_debug("kpy: user_init failed; the error is reported from task_init");
	free(j.home);
	free(j.user);
	free(j.scratch);
	free(j.root);
	free(r);
	return 0;
}

int kpy_slurmstepd_task_init(spank_t sp)
{
	int task = 0;

	if (ctx.error[0] == NULL)
		return 0;
	/* one message per node, not one per task */
	if (spank_get_item(sp, S_TASK_ID, &task) != ESPANK_SUCCESS || task == 0)
		for (int k = 0; k < KPY_MAX_ERRORS && ctx.error[k] != NULL; k++)
			slurm_error("%s", ctx.error[k]);
	return -1;
}

int kpy_slurmstepd_exit(spank_t sp)
{
	free(ctx.name);
	free(ctx.uv);
	ctx.name = NULL;
	ctx.uv = NULL;
	for (int k = 0; k < KPY_MAX_ERRORS; k++) {
		free(ctx.error[k]);
		ctx.error[k] = NULL;
	}
	kpy_args_free();
	return 0;
}
