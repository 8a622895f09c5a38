/* srun.c: srun (local context): check the names before the step is launched; the
 * step's slurmstepd (slurmstepd.c) gets them with the options. For a job of
 * bcast_min_nodes nodes or more (or --kpy-bcast=yes), send the archive to every node
 * of the job once with sbcast before the tasks start (fan-out: kpy/fanout.h). */
#include "autoconfig.h"
#include "srun.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "args.h"
#include "config.h"
#include "fanout.h"
#include "fdio.h"
#include "log.h"
#include "manifest.h"
#include "scratch.h"
#include "store.h"
#include "submit.h"

/* what local_user_init broadcast, for exit to leave in this host's job scratch */
static struct {
	uint32_t jobid;
	char tmpdir[4096];
	char token[KPY_OPT_N][512];
} fan;

static const char *const kinds[KPY_OPT_N] = { KPY_KIND_VENV, KPY_KIND_UV };

int kpy_srun_init(spank_t sp, int ac, char **av)
{
	return kpy_submit_init(sp, ac, av);
}

static char *process_var(const char *var, void *arg)
{
	const char *v = getenv(var);

	(void)arg;
	return v != NULL ? strdup(v) : NULL;
}

int kpy_srun_post_opt(spank_t sp)
{
	enum kpy_bcast mode;
	char *bad = NULL;

	for (int opt = 0; opt < KPY_OPT_N; opt++) {
		const char *var = NULL;
		char *name;

		if (kpy_submit_name((enum kpy_opt)opt, &name, &var) < 0)
			return -1;
		free(name);
	}
	if (kpy_args_bcast(process_var, NULL, &mode, &bad) < 0) {
		kpy_log_error("kpy: %s: the value must be yes, no or auto", bad ? bad : "--kpy-bcast");
		free(bad);
		return -1;
	}
	return 0;
}

/* The token file in the job's scratch on this host (when this srun runs on a node of
 * the job, inside a batch job or an allocation): <scratch>/.kpy-fanout.<kind>.<name>.
 * The scratch is the user's own directory, made by root: nobody else writes there. */
static char *token_file(const char *tmpdir, uint32_t jobid, const char *kind, const char *name)
{
	char *scratch = kpy_scratch_path(tmpdir, jobid, getuid()), *p = NULL;
	struct stat st;

	if (scratch == NULL)
		return NULL;
	if (lstat(scratch, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == getuid() &&
	    asprintf(&p, "%s/.kpy-fanout.%s.%s", scratch, kind, name) < 0)
		p = NULL;
	free(scratch);
	return p;
}

/* A token for NAME of job JOBID: from the environment (a batch step or an srun made it
 * and passed it on) or from the token file an earlier srun of the job left here. */
static int known_token(const char *tmpdir, uint32_t jobid, const char *kind, const char *name,
		       char *buf, size_t size)
{
	const char *v = getenv(kpy_fanout_var(kind));
	struct kpy_fanout f;
	char *file, *text = NULL;
	size_t len;
	struct kpy_err e = KPY_ERR_INIT;
	int found = 0, trunc = 0;

	if (v != NULL && kpy_fanout_parse(v, &f) == 0 && f.jobid == jobid &&
	    strcmp(f.name, name) == 0 && strlen(v) < size) {
		strcpy(buf, v);
		return 1;
	}
	if ((file = token_file(tmpdir, jobid, kind, name)) == NULL)
		return 0;
	if (kpy_read_file(file, 1024, 1, &text, &len, &trunc, &e) == 0 && !trunc) {
		text[strcspn(text, "\n")] = '\0';
		if (kpy_fanout_parse(text, &f) == 0 && f.jobid == jobid &&
		    strcmp(f.name, name) == 0 && strlen(text) < size) {
			strcpy(buf, text);
			found = 1;
		}
	}
	free(text);
	free(file);
	return found;
}

/* Copy the archive of NAME from the pipdir to a private local file (the one read of
 * the shared copy, which also gives its size and checksum), sbcast that to every
 * node, and hand the token to the step. A failure is said and changes nothing else:
 * every node then reads the shared copy. */
static void fan_out(spank_t sp, const struct kpy_plugin_config *c, uint32_t jobid,
		    enum kpy_opt opt, const char *name)
{
	const char *kind = kinds[opt], *what = kpy_store_noun(kind), *dir = getenv("TMPDIR");
	struct kpy_err e = KPY_ERR_INIT;
	struct kpy_config cfg = { 0 };
	struct kpy_fanout f = { .jobid = jobid };
	char *archive = NULL, *tmp = NULL, *dst = NULL, token[512];
	const char *pipdir = c->pipdir, *sites = c->site_pipdir;
	int fd = -1;

	if (known_token(c->tmpdir, jobid, kind, name, token, sizeof(token))) {
		slurm_verbose("kpy: %s %s was broadcast for job %u already", what, name, jobid);
		return;
	}
	if (pipdir == NULL || sites == NULL) {
		struct kpy_err ce = KPY_ERR_INIT;
		if (kpy_config_load(&cfg, &ce) < 0 && pipdir == NULL) {
			e = ce;
			goto fail;
		}
		if (pipdir == NULL)
			pipdir = cfg.pipdir;
		if (sites == NULL)
			sites = cfg.site_pipdir;
	}
	/* a missing archive is left for the nodes to report, with its remedy; the user's
	 * own name first, then the site's, as on the nodes */
	if ((archive = kpy_store_lookup(pipdir, sites, kind, name, NULL, &e)) == NULL)
		goto out;
	snprintf(f.name, sizeof(f.name), "%s", name);
	f.uv = opt == KPY_OPT_UV;
	if (asprintf(&tmp, "%s/kpy-fanout.XXXXXX", dir != NULL && dir[0] == '/' ? dir : "/tmp") < 0) {
		tmp = NULL;
		kpy_err_set(&e, KPY_EFAIL, "out of memory");
		goto fail;
	}
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
		kpy_err_sys(&e, errno, "cannot make a local copy in %s", tmp);
		free(tmp);
		tmp = NULL;
		goto fail;
	}
	if (kpy_fanout_copy(archive, fd, &f, &e) < 0 || kpy_fanout_new_id(&f, &e) < 0)
		goto fail;
	close(fd);
	fd = -1;
	if ((dst = kpy_fanout_path(c->tmpdir, &f, getuid())) == NULL) {
		kpy_err_set(&e, KPY_EFAIL, "out of memory");
		goto fail;
	}
	if (kpy_fanout_send(NULL, jobid, tmp, dst, c->restore_timeout, &e) < 0)
		goto fail;
	/* the nodes find the copy by its name; the token is for this srun's exit */
	if (kpy_fanout_format(&f, token, sizeof(token)) < 0) {
		kpy_err_set(&e, KPY_EFAIL, "the name is too long");
		goto fail;
	}
	strcpy(fan.token[opt], token);
	slurm_verbose("kpy: sent %s to every node of job %u as %s", archive, jobid, dst);
	goto out;
fail:
	kpy_log_info("kpy: cannot broadcast %s '%s' to the job's nodes: %s; nodes without "
		     "a sound copy read the shared one instead (--kpy-bcast=no skips the "
		     "broadcast; ask your admin if sbcast keeps failing)", what, name, e.msg);
out:
	if (fd >= 0)
		close(fd);
	if (tmp != NULL)
		unlink(tmp);
	free(tmp);
	free(dst);
	free(archive);
	kpy_config_free(&cfg);
}

int kpy_srun_local_user_init(spank_t sp, int ac, char **av)
{
	struct kpy_plugin_config c;
	enum kpy_bcast mode;
	uint32_t jobid = 0, nnodes = 0;
	char *bad = NULL;

	if (kpy_args_parse(ac, av, &c) < 0 || kpy_args_bcast(process_var, NULL, &mode, &bad) < 0) {
		free(bad);
		return 0; /* said in init and init_post_opt */
	}
	if (mode == KPY_BCAST_NO)
		return 0;
	if (spank_get_item(sp, S_JOB_ID, &jobid) != ESPANK_SUCCESS ||
	    spank_get_item(sp, S_JOB_NNODES, &nnodes) != ESPANK_SUCCESS) {
		slurm_verbose("kpy: no job id or node count: no broadcast");
		return 0;
	}
	if (mode == KPY_BCAST_AUTO && (c.bcast_min_nodes == 0 || nnodes < c.bcast_min_nodes))
		return 0;
	fan.jobid = jobid;
	snprintf(fan.tmpdir, sizeof(fan.tmpdir), "%s", c.tmpdir);
	for (int opt = 0; opt < KPY_OPT_N; opt++) {
		const char *var = NULL;
		char *name = NULL;

		if (kpy_submit_name((enum kpy_opt)opt, &name, &var) == 0 && name != NULL)
			fan_out(sp, &c, jobid, (enum kpy_opt)opt, name);
		free(name);
	}
	return 0;
}

/* Leave the tokens in this host's job scratch, when the step made one here, so that
 * the job's later sruns (which cannot inherit this one's environment) do not send
 * the archive again. */
static void keep_tokens(void)
{
	for (int opt = 0; opt < KPY_OPT_N; opt++) {
		struct kpy_fanout f;
		char *file, *tmp = NULL;
		int fd;

		if (fan.token[opt][0] == '\0' || kpy_fanout_parse(fan.token[opt], &f) < 0)
			continue;
		if ((file = token_file(fan.tmpdir, fan.jobid, kinds[opt], f.name)) == NULL)
			continue;
		if (asprintf(&tmp, "%s.XXXXXX", file) >= 0 && (fd = mkostemp(tmp, O_CLOEXEC)) >= 0) {
			int ok = dprintf(fd, "%s\n", fan.token[opt]) > 0;
			if (close(fd) < 0 || !ok || rename(tmp, file) < 0)
				unlink(tmp);
		}
		free(tmp);
		free(file);
	}
}

int kpy_srun_exit(spank_t sp)
{
	if (fan.jobid != 0)
		keep_tokens();
	memset(&fan, 0, sizeof(fan));
	return kpy_submit_exit(sp);
}
