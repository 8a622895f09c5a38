/* restore_child.c: the forked restore child: it leaves nothing of slurmstepd's behind,
 * makes the scratch as root, drops to the job's user for good and restores. */
#include "autoconfig.h"
#include "restore_child.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "bcast.h"
#include "envarchive.h"
#include "live.h"
#include "once.h"
#include "reply.h"
#include "scratch.h"
#include "store.h"
#include "threads.h"
#include "tree.h"

/* ---- the child: runs as root until it drops to the job user for good ---- */

static void close_from_to(unsigned from, unsigned to)
{
	if (from > to)
		return;
	if (close_range(from, to, 0) < 0)
		for (unsigned fd = from; fd <= to && fd < 65536; fd++)
			close((int)fd);
}

/* Leave nothing of slurmstepd's behind: its descriptors (the root-opened log, the
 * step's sockets, pipes) but REPLY, its signal mask and handlers. Returns the
 * reply descriptor (moved if it was 0, 1 or 2). */
static int child_hygiene(int reply)
{
	sigset_t none;
	int nul;

	/* handlers first: a signal pending in the mask must not reach slurmstepd's */
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (reply <= 2 && (reply = fcntl(reply, F_DUPFD_CLOEXEC, 3)) < 0)
		_exit(3);
	close_from_to(3, (unsigned)reply - 1);
	close_from_to((unsigned)reply + 1, ~0U);
	nul = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (nul < 0 || dup2(nul, 0) < 0 || dup2(nul, 1) < 0 || dup2(nul, 2) < 0)
		_exit(3);
	if (nul > 2)
		close(nul);
	return reply;
}

/* slurmstepd protects itself from the OOM killer; a restore must not be. As root. */
static int reset_oom_score(struct kpy_err *e)
{
	int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);

	if (fd < 0 || write(fd, "0", 1) != 1) {
		kpy_err_sys(e, errno, "cannot reset oom_score_adj");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int drop_privileges(const struct kpy_job *j, pid_t parent,
			   const struct kpy_plugin_config *cfg, struct kpy_err *e)
{
	uid_t r, ef, s;
	struct rlimit rl;

	if (setgroups((size_t)j->ngids, j->gids) < 0 ||
	    setresgid(j->gid, j->gid, j->gid) < 0 ||
	    setresuid(j->uid, j->uid, j->uid) < 0)
		return kpy_err_sys(e, errno, "cannot switch to the job's user %u",
				   (unsigned)j->uid);
	if (getresuid(&r, &ef, &s) < 0 || r != j->uid || ef != j->uid || s != j->uid)
		return kpy_err_set(e, KPY_EFAIL, "cannot switch to the job's user %u",
				   (unsigned)j->uid);
	/* after the switch: changing credentials resets the parent-death signal */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0 ||
	    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		return kpy_err_sys(e, errno, "cannot set up the restore process");
	if (getppid() != parent)
		_exit(4);
	if (cfg->restore_memory != 0) {
		rl.rlim_cur = rl.rlim_max = (rlim_t)cfg->restore_memory;
		if (setrlimit(RLIMIT_AS, &rl) < 0)
			return kpy_err_sys(e, errno, "cannot limit the restore's memory");
	}
	return 0;
}

/* A variable of the job's environment as the job's own kpy would see it: HOME and
 * USER from the user database when the job has none, SLURM_TMPDIR the scratch. */
static const char *job_var(const char *name, const void *arg)
{
	const struct kpy_job *j = arg;
	const char *v;

	if (strcmp(name, "SLURM_TMPDIR") == 0)
		return j->scratch;
	v = kpy_envp_get(name, j->env);
	if (v == NULL && strcmp(name, "HOME") == 0)
		return j->home;
	if (v == NULL && strcmp(name, "USER") == 0)
		return j->user;
	return v;
}

static void child_restore(const struct kpy_job *j, const char *kind, const char *name,
			  const struct kpy_plugin_config *pc, pid_t parent, int *reply,
			  struct kpy_reply *out)
{
	struct kpy_err e = KPY_ERR_INIT;
	struct kpy_config cfg = { 0 };
	const char *pipdir = pc->pipdir, *sites = pc->site_pipdir;
	char *archive = NULL, *dest = NULL;
	int rv = -1;

	*reply = child_hygiene(*reply);
	/* user_init runs with the user's euid but root's real uid: take root back first,
	 * only to make the scratch directory, then become the user for good. */
	if (geteuid() != 0 && seteuid(0) < 0) {
		kpy_err_sys(&e, errno, "cannot regain root to switch users");
		goto out;
	}
	if (reset_oom_score(&e) < 0)
		goto out;
	if (j->make_scratch && kpy_scratch_make(pc->tmpdir, j->jobid, j->uid, j->gid,
						out->note, sizeof(out->note), &e) < 0)
		goto out;
	kpy_fanout_prepare(j, kind, name, pc, out);
	if (drop_privileges(j, parent, pc, &e) < 0)
		goto out;

	umask(022);

	if (pipdir == NULL) {
		/* the user's configuration, read the way their own kpy command would */
		if (kpy_config_load_from(&cfg, job_var, j, &e) < 0)
			goto out;
		pipdir = cfg.pipdir;
		if (sites == NULL)
			sites = cfg.site_pipdir;
	} else if (sites == NULL) {
		/* pipdir= without site_pipdir=: the site file's, if the configuration reads */
		struct kpy_err ignore = KPY_ERR_INIT;
		if (kpy_config_load_from(&cfg, job_var, j, &ignore) == 0)
			sites = cfg.site_pipdir;
	}
	if (strlen(pipdir) >= sizeof(out->pipdir)) {
		kpy_err_set(&e, KPY_EINVAL, "the pipdir path %s is too long", pipdir);
		goto out;
	}
	strcpy(out->pipdir, pipdir);
	if ((dest = kpy_live_path(j->root, kind, kpy_store_bare(name))) == NULL) {
		kpy_err_set(&e, KPY_EFAIL, "out of memory");
		goto out;
	}
	/* the node's broadcast copy when it is sound (fanout.h); else the user's pipdir,
	 * then the site's (site:NAME only the site's): else the list of what there is;
	 * nothing is written there */
	if ((archive = kpy_fanout_use(j, kind, name, dest, pc, out)) == NULL &&
	    (archive = kpy_store_lookup(pipdir, sites, kind, name, NULL, &e)) == NULL)
		goto out;
	if (j->bcast && !out->from_copy && access(dest, F_OK) < 0) {
		char *copy = kpy_fanout_batch(j, kind, name, archive, pc, out);
		if (copy != NULL) {
			free(archive);
			archive = copy;
		}
	}
	if (kpy_mkdirs(j->root, 0700, &e) < 0)
		goto out;
	/* a uv cache goes to <root>/.uv/NAME, beside the envs: uv hard-links from it */
	if (strcmp(kind, KPY_KIND_UV) == 0) {
		char *uvdir = kpy_live_path(j->root, KPY_KIND_UV, NULL);
		int bad = uvdir == NULL || (mkdir(uvdir, 0755) < 0 && errno != EEXIST);
		if (bad)
			kpy_err_sys(&e, uvdir ? errno : ENOMEM, "cannot create %s", uvdir ? uvdir : j->root);
		free(uvdir);
		if (bad)
			goto out;
	}
	/* on the job's CPUs (SLURM_CPUS_ON_NODE of the job's environment, not slurmstepd's) */
	struct kpy_restore_opts ro = { .threads = kpy_threads_pick(0, 0, job_var, j) };
	if (kpy_restore_once(archive, dest, &ro, &out->restored, &e) < 0)
		goto out;
	rv = 0;
out:
	if (rv < 0 && e.code == KPY_OK)
		kpy_err_set(&e, KPY_EFAIL, "failed without saying why");
	out->code = rv < 0 ? e.code : KPY_OK;
	memcpy(out->msg, e.msg, sizeof(out->msg));
	/* the rest is left to _exit: nothing of slurmstepd's is flushed or freed here */
}

void kpy_restore_child(const struct kpy_job *j, const char *kind, const char *name,
		       const struct kpy_plugin_config *cfg, pid_t parent, int reply)
{
	struct kpy_reply out;

	memset(&out, 0, sizeof(out));
	child_restore(j, kind, name, cfg, parent, &reply, &out);
	if (kpy_reply_write(reply, &out) < 0)
		_exit(2);
	_exit(out.code == 0 ? 0 : 1);
}
