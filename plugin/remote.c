/* remote.c: on the compute node: restore the env once per job, as the job user in a
 * forked child; export it to the tasks; report failures from task_init; clean up. */
#include "autoconfig.h"
#include "remote.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "args.h"
#include "config.h"
#include "error.h"
#include "once.h"
#include "store.h"
#include "tree.h"

struct job {
	uid_t uid;
	gid_t gid;
	gid_t *gids;            /* not owned */
	int ngids;
	uint32_t jobid;
	char **env;             /* not owned: slurmstepd's copy of the job environment */
	char *home, *user;      /* malloc'd; fallbacks when the job environment lacks them */
	char *scratch;          /* malloc'd: $SLURM_TMPDIR, or the per-job dir we make */
	int make_scratch;       /* scratch is ours: create (or check) it */
};

/* What the child reports back through the pipe. */
struct reply {
	int code;
	int restored;
	char pipdir[PATH_MAX];
	char msg[sizeof(((struct kpy_err *)0)->msg)];
};

static struct {
	struct kpy_plugin_config cfg;
	char *name;     /* env to restore; NULL when the plugin has nothing to do */
	char *error;    /* remembered for task_init */
} ctx;

static void remember(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void remember(const char *fmt, ...)
{
	va_list ap;
	char *s;

	if (ctx.error != NULL)
		return;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = strdup("kpy: out of memory");
	va_end(ap);
	ctx.error = s;
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

static char *scratch_path(const char *base, uint32_t jobid, uid_t uid)
{
	char *p;

	if (asprintf(&p, "%s/kpy-job.%u.%u", base, jobid, (unsigned)uid) < 0)
		return NULL;
	return p;
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

	/* the option given to this step wins over KPY_ENV inherited from the batch job */
	ctx.name = opt != NULL ? strdup(opt) : job_getenv(sp, "KPY_ENV");
	if (ctx.name != NULL && ctx.name[0] == '\0') {
		free(ctx.name);
		ctx.name = NULL;
	}
	if (ctx.name != NULL && kpy_name_check(ctx.name, "environment name", &e) < 0)
		remember("kpy: cannot use environment '%s': %s", ctx.name, e.msg);
	return 0;
}

/* ---- the child: runs as root until it drops to the job user for good ---- */

/* Make (or accept) the per-job scratch PATH owned by the job user, mode 0700. It
 * appears only complete: made under a temporary name, then renamed without replacing
 * anything, so concurrent steps agree and a planted symlink or stranger's directory
 * is refused, never followed. */
static int make_scratch(const struct job *j, const char *base, struct kpy_err *e)
{
	char *tmp = NULL;
	struct stat st;
	int fd = -1, rv = -1;

	if (asprintf(&tmp, "%s.XXXXXX", j->scratch) < 0) {
		kpy_err_set(e, KPY_EFAIL, "out of memory");
		goto fail;
	}
	if (mkdtemp(tmp) == NULL) {
		kpy_err_sys(e, errno, "cannot make the job's scratch directory in %s "
			    "(plugstack.conf tmpdir=)", base);
		free(tmp);
		tmp = NULL;
		goto fail;
	}
	fd = open(tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fchown(fd, j->uid, j->gid) < 0 || fchmod(fd, 0700) < 0) {
		kpy_err_sys(e, errno, "cannot prepare the job's scratch directory %s", tmp);
		goto fail;
	}
	close(fd);
	fd = -1;
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, j->scratch, RENAME_NOREPLACE) == 0) {
		free(tmp);
		tmp = NULL;
	} else if (errno != EEXIST) {
		kpy_err_sys(e, errno, "cannot make the job's scratch directory %s", j->scratch);
		goto fail;
	}
	fd = open(j->scratch, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ELOOP || errno == ENOTDIR)
			kpy_err_set(e, KPY_EFAIL, "refusing to use the job's scratch directory %s: "
				    "it is not a directory (a symlink?); ask your admin to remove it",
				    j->scratch);
		else
			kpy_err_sys(e, errno, "cannot open the job's scratch directory %s",
				    j->scratch);
		goto fail;
	}
	if (fstat(fd, &st) < 0) {
		kpy_err_sys(e, errno, "cannot stat %s", j->scratch);
		goto fail;
	}
	if (st.st_uid != j->uid) {
		kpy_err_set(e, KPY_EFAIL, "refusing to use the job's scratch directory %s: it "
			    "belongs to uid %u, not to the job's user; ask your admin to remove it",
			    j->scratch, (unsigned)st.st_uid);
		goto fail;
	}
	rv = 0;
fail:
	if (fd >= 0)
		close(fd);
	if (tmp != NULL) {
		rmdir(tmp);
		free(tmp);
	}
	return rv;
}

static int drop_privileges(const struct job *j, struct kpy_err *e)
{
	uid_t r, ef, s;

	if (setgroups((size_t)j->ngids, j->gids) < 0 ||
	    setresgid(j->gid, j->gid, j->gid) < 0 ||
	    setresuid(j->uid, j->uid, j->uid) < 0)
		return kpy_err_sys(e, errno, "cannot switch to the job's user %u",
				   (unsigned)j->uid);
	if (getresuid(&r, &ef, &s) < 0 || r != j->uid || ef != j->uid || s != j->uid)
		return kpy_err_set(e, KPY_EFAIL, "cannot switch to the job's user %u",
				   (unsigned)j->uid);
	return 0;
}

/* Replace a bare "cannot open" by what the user should do about it. */
static void explain(const struct job *j, const char *pipdir, const char *archive,
		    struct kpy_err *e)
{
	struct kpy_err pe = KPY_ERR_INIT;
	struct stat st;

	if (e->code == KPY_ENOSPC) {
		snprintf(pe.msg, sizeof(pe.msg), "%s", e->msg);
		kpy_err_clear(e);
		kpy_err_set(e, KPY_ENOSPC, "%s: the job's scratch %s is full: free space there, "
			    "or ask for nodes with more local disk (sbatch --tmp=SIZE)",
			    pe.msg, j->scratch);
		return;
	}
	if (e->code == KPY_EDAMAGED || e->code == KPY_ENOPYTHON)
		return;
	if (kpy_store_check(pipdir, KPY_KIND_VENV, 0, 0, &pe) < 0 && pe.code != KPY_ENOENT) {
		kpy_err_clear(e);
		kpy_err_set(e, pe.code, "%s", pe.msg);
	} else if (stat(archive, &st) < 0 && errno == ENOENT) {
		kpy_err_clear(e);
		kpy_err_set(e, KPY_ENOENT, "no environment '%s' is saved in %s: save it first "
			    "with 'kpy save %s' ('kpy list' shows what is saved there)",
			    ctx.name, pipdir, ctx.name);
	}
}

static void child_restore(const struct job *j, struct reply *out)
{
	struct kpy_err e = KPY_ERR_INIT;
	struct kpy_config cfg = { 0 };
	const char *pipdir = ctx.cfg.pipdir;
	char *archive = NULL, *root = NULL, *dest = NULL;
	int rv = -1;

	/* user_init runs with the user's euid but root's real uid: take root back first,
	 * only to make the scratch directory, then become the user for good. */
	if (geteuid() != 0 && seteuid(0) < 0) {
		kpy_err_sys(&e, errno, "cannot regain root to switch users");
		goto out;
	}
	if (j->make_scratch && make_scratch(j, ctx.cfg.tmpdir, &e) < 0)
		goto out;
	if (drop_privileges(j, &e) < 0)
		goto out;

	/* read the user's configuration the way their own kpy command would */
	environ = j->env;
	if (getenv("HOME") == NULL && j->home != NULL)
		setenv("HOME", j->home, 1);
	if (getenv("USER") == NULL && j->user != NULL)
		setenv("USER", j->user, 1);
	setenv("SLURM_TMPDIR", j->scratch, 1);
	umask(022);

	if (pipdir == NULL) {
		if (kpy_config_load(&cfg, &e) < 0)
			goto out;
		pipdir = cfg.pipdir;
	}
	if (strlen(pipdir) >= sizeof(out->pipdir)) {
		kpy_err_set(&e, KPY_EINVAL, "the pipdir path %s is too long", pipdir);
		goto out;
	}
	strcpy(out->pipdir, pipdir);
	archive = kpy_store_path(pipdir, KPY_KIND_VENV, ctx.name);
	if (archive == NULL || asprintf(&root, "%s/kpy", j->scratch) < 0 ||
	    asprintf(&dest, "%s/%s", root, ctx.name) < 0) {
		kpy_err_set(&e, KPY_EFAIL, "out of memory");
		goto out;
	}
	if (kpy_mkdirs(root, 0700, &e) < 0)
		goto out;
	if (kpy_restore_once(archive, dest, &out->restored, &e) < 0) {
		explain(j, pipdir, archive, &e);
		goto out;
	}
	rv = 0;
out:
	if (rv < 0 && e.code == KPY_OK)
		kpy_err_set(&e, KPY_EFAIL, "failed without saying why");
	out->code = rv < 0 ? e.code : KPY_OK;
	memcpy(out->msg, e.msg, sizeof(out->msg));
	/* the rest is left to _exit: nothing of slurmstepd's is flushed or freed here */
}

/* Fork the child, wait for it, fill OUT. -1 with ctx.error set if it could not run. */
static int run_child(const struct job *j, struct reply *out)
{
	int fds[2] = { -1, -1 }, status, rv = -1;
	size_t got = 0;
	ssize_t n;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0) {
		remember("kpy: cannot restore '%s': pipe: %s", ctx.name, strerror(errno));
		goto fail;
	}
	pid = fork();
	if (pid < 0) {
		remember("kpy: cannot restore '%s': fork: %s", ctx.name, strerror(errno));
		goto fail;
	}
	if (pid == 0) {
		size_t off = 0;

		close(fds[0]);
		memset(out, 0, sizeof(*out));
		child_restore(j, out);
		while (off < sizeof(*out)) {
			n = write(fds[1], (char *)out + off, sizeof(*out) - off);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				_exit(2);
			off += (size_t)n;
		}
		_exit(out->code == 0 ? 0 : 1);
	}
	close(fds[1]);
	fds[1] = -1;
	memset(out, 0, sizeof(*out));
	while (got < sizeof(*out)) {
		n = read(fds[0], (char *)out + got, sizeof(*out) - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			remember("kpy: cannot restore '%s': waitpid: %s", ctx.name, strerror(errno));
			goto fail;
		}
	}
	if (got != sizeof(*out)) {
		if (WIFSIGNALED(status))
			remember("kpy: restoring '%s' was killed by signal %d", ctx.name,
				 WTERMSIG(status));
		else
			remember("kpy: restoring '%s' failed without a message (exit %d)",
				 ctx.name, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		goto fail;
	}
	out->pipdir[sizeof(out->pipdir) - 1] = '\0';
	out->msg[sizeof(out->msg) - 1] = '\0';
	rv = 0;
fail:
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	return rv;
}

/* ---- slurmstepd ---- */

/* 1 if PATH has the form <tmpdir>/kpy-job.JOBID.UID that scratch_path() makes. */
static int is_plugin_scratch(const char *path)
{
	size_t n = strlen(ctx.cfg.tmpdir);
	unsigned job, uid;
	char end;

	return strncmp(path, ctx.cfg.tmpdir, n) == 0 && path[n] == '/' &&
	       sscanf(path + n + 1, "kpy-job.%u.%u%c", &job, &uid, &end) == 2;
}

static int get_job(spank_t sp, struct job *j)
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
	j->scratch = scratch_path(ctx.cfg.tmpdir, j->jobid, j->uid);
	if (j->scratch == NULL) {
		free(tmpdir);
		remember("kpy: out of memory");
		return -1;
	}
	/* a SLURM_TMPDIR that is another job's plugin-made scratch was inherited (a job
	 * submitted from inside a job): it is not this job's, so make our own */
	if (tmpdir == NULL || tmpdir[0] == '\0' || strcmp(tmpdir, j->scratch) == 0 ||
	    is_plugin_scratch(tmpdir)) {
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

static int export_env(spank_t sp, const struct job *j, const char *pipdir)
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
	} else if (asprintf(&newpath, "%s%s%s", bin, path != NULL && path[0] ? ":" : "",
			    path != NULL ? path : "") < 0) {
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
	struct job j = { 0 };
	struct reply *r = NULL;
	struct timespec t0, t1;
	char host[256] = "this node", *node;
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
	if (run_child(&j, r) < 0)
		goto fail;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	if (r->code != 0) {
		remember("kpy: cannot restore environment '%s' on %s: %s", ctx.name, host, r->msg);
		goto fail;
	}
	if (r->restored)
		slurm_info("kpy: restored %s into %s/kpy/%s in %ld ms", ctx.name, j.scratch,
			   ctx.name, ms);
	else
		slurm_info("kpy: %s already restored in %s/kpy/%s (%ld ms)", ctx.name, j.scratch,
			   ctx.name, ms);
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

/* ---- slurmd ---- */

int kpy_slurmd_init(spank_t sp, int ac, char **av)
{
	struct kpy_plugin_config c;

	return kpy_args_parse(ac, av, &c);
}

int kpy_job_epilog(spank_t sp, int ac, char **av)
{
	struct kpy_plugin_config c;
	struct kpy_err e = KPY_ERR_INIT;
	struct stat st;
	uint32_t jobid;
	uid_t uid;
	char *path = NULL;

	if (kpy_args_parse(ac, av, &c) < 0)
		goto out;
	if (spank_get_item(sp, S_JOB_ID, &jobid) != ESPANK_SUCCESS ||
	    spank_get_item(sp, S_JOB_UID, &uid) != ESPANK_SUCCESS) {
		slurm_error("kpy: epilog: cannot read the job id and user from Slurm");
		goto out;
	}
	path = scratch_path(c.tmpdir, jobid, uid);
	if (path == NULL || lstat(path, &st) < 0)
		goto out;
	/* only what user_init would have accepted: the user's own directory, or a link */
	if (!S_ISLNK(st.st_mode) && !(S_ISDIR(st.st_mode) && st.st_uid == uid)) {
		slurm_info("kpy: epilog: leaving %s alone: not a directory of uid %u",
			   path, (unsigned)uid);
		goto out;
	}
	if (kpy_rmtree(path, &e) < 0)
		slurm_error("kpy: epilog: %s", e.msg);
	else
		slurm_info("kpy: removed job scratch %s", path);
out:
	free(path);
	return 0;
}
