/* bcast.c: the restore child's part of the fan-out: use the node's broadcast copy,
 * or (a batch step) broadcast the archive to the job's nodes first. */
#include "autoconfig.h"
#include "bcast.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "manifest.h"
#include "fanout.h"
#include "store.h"

/* append to the reply's note: something for the admin's log */
static void note(struct kpy_reply *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void note(struct kpy_reply *out, const char *fmt, ...)
{
	size_t n = strlen(out->note);
	va_list ap;

	if (n > 0 && n + 2 < sizeof(out->note)) {
		strcpy(out->note + n, "; ");
		n += 2;
	}
	va_start(ap, fmt);
	vsnprintf(out->note + n, sizeof(out->note) - n, fmt, ap);
	va_end(ap);
}

/* the copy kpy_fanout_prepare found for this child's one restore */
static struct {
	int have;
	struct kpy_fanout f;
} found;

void kpy_fanout_prepare(const struct kpy_job *j, const char *kind, const char *name,
			const struct kpy_plugin_config *cfg, struct kpy_reply *out)
{
	const char *v = kpy_envp_get(kpy_fanout_var(kind), j->env);
	struct kpy_err e = KPY_ERR_INIT;
	int uv = strcmp(kind, KPY_KIND_UV) == 0;

	found.have = 0;
	/* where sbcast puts the copies; without it they are not used */
	int made = kpy_fanout_base_make(cfg->tmpdir, &e);
	if (made == 1)
		note(out, "%s/" KPY_FANOUT_DIR " was not root's: moved aside to " KPY_FANOUT_DIR
		     ".squatted.*", cfg->tmpdir);
	if (made < 0) {
		note(out, "no broadcast copies are used on this node: %s", e.msg);
		return;
	}
	/* a batch step's token names the copy (a token of another job, submitted from
	 * inside it, or for another name does not count); else the copy's own name */
	if (v != NULL && kpy_fanout_parse(v, &found.f) == 0 && found.f.jobid == j->jobid &&
	    strcmp(found.f.name, name) == 0) {
		found.f.uv = uv;
		found.have = 1;
	} else if (kpy_fanout_find(cfg->tmpdir, j->jobid, j->uid, uv, name, &found.f) == 1) {
		found.have = 1;
	}
}

char *kpy_fanout_use(const struct kpy_job *j, const char *kind, const char *name,
		     const char *dest, const struct kpy_plugin_config *cfg, struct kpy_reply *out)
{
	struct kpy_err e = KPY_ERR_INIT;
	struct kpy_fanout f = found.f;
	char *path = NULL;

	(void)kind;
	if (!found.have || access(dest, F_OK) == 0)
		return NULL;
	if (kpy_fanout_check(cfg->tmpdir, &f, j->uid, &path, &e) < 0) {
		note(out, "not using the broadcast copy of %s: %s; restoring from the shared copy",
		     name, e.msg);
		return NULL;
	}
	out->from_copy = 1;
	return path;
}

char *kpy_fanout_batch(const struct kpy_job *j, const char *kind, const char *name,
		       const char *archive, const struct kpy_plugin_config *cfg,
		       struct kpy_reply *out)
{
	struct kpy_err e = KPY_ERR_INIT;
	struct kpy_fanout f = { .jobid = j->jobid };
	char *src = NULL, *dst = NULL, *path = NULL;
	int fd = -1;

	snprintf(f.name, sizeof(f.name), "%s", name);
	f.uv = strcmp(kind, KPY_KIND_UV) == 0;
	if (asprintf(&src, "%s/.kpy-fanout-src.XXXXXX", j->scratch) < 0) {
		src = NULL;
		kpy_err_set(&e, KPY_EFAIL, "out of memory");
		goto fail;
	}
	if ((fd = mkostemp(src, O_CLOEXEC)) < 0) {
		kpy_err_sys(&e, errno, "cannot make %s", src);
		free(src);
		src = NULL;
		goto fail;
	}
	if (kpy_fanout_copy(archive, fd, &f, &e) < 0 || kpy_fanout_new_id(&f, &e) < 0)
		goto fail;
	close(fd);
	fd = -1;
	if ((dst = kpy_fanout_path(cfg->tmpdir, &f, j->uid)) == NULL) {
		kpy_err_set(&e, KPY_EFAIL, "out of memory");
		goto fail;
	}
	if (kpy_fanout_send(j->env, j->jobid, src, dst, cfg->restore_timeout, &e) < 0)
		goto fail;
	if (kpy_fanout_format(&f, out->fanout, sizeof(out->fanout)) < 0) {
		out->fanout[0] = '\0';
		kpy_err_set(&e, KPY_EFAIL, "the name is too long for the token");
		goto fail;
	}
	/* this node is one of the job's: its copy is there like everyone's */
	if (kpy_fanout_check(cfg->tmpdir, &f, j->uid, &path, &e) < 0)
		goto fail;
	out->from_copy = 1;
	goto out;
fail:
	note(out, "cannot broadcast %s '%s' to the job's nodes: %s; nodes without a sound "
	     "copy read the shared one instead", kpy_store_noun(kind), name, e.msg);
out:
	if (fd >= 0)
		close(fd);
	if (src != NULL)
		unlink(src);
	free(src);
	free(dst);
	return path;
}
