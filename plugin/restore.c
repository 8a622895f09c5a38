/* restore.c: slurmstepd's side of a restore: fork the restore child (restore_child.c),
 * wait for its reply with the restore_timeout deadline, and say what went wrong. */
#include "autoconfig.h"
#include "restore.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "reply.h"
#include "restore_child.h"
#include "store.h"

static char *say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A malloc'd message, not yet escaped (the caller escapes it once); never NULL. */
static char *say(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	return s != NULL ? s : strdup("kpy: out of memory");
}

int kpy_restore_run(const struct kpy_job *j, const char *kind, const char *name,
		    const struct kpy_plugin_config *cfg, struct kpy_reply *out, char **err)
{
	int fds[2] = { -1, -1 }, status = 0, rv = -1, late;
	struct timespec deadline;
	pid_t pid, parent = getpid();
	size_t got = 0;

	*err = NULL;
	if (pipe2(fds, O_CLOEXEC) < 0) {
		*err = say("kpy: cannot restore '%s': pipe: %s", name, strerror(errno));
		goto fail;
	}
	pid = fork();
	if (pid < 0) {
		*err = say("kpy: cannot restore '%s': fork: %s", name, strerror(errno));
		goto fail;
	}
	if (pid == 0) {
		close(fds[0]);
		kpy_restore_child(j, kind, name, cfg, parent, fds[1]);
	}
	close(fds[1]);
	fds[1] = -1;
	memset(out, 0, sizeof(*out));
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	/* a batch step that broadcasts gets restore_timeout for sbcast (which it stops at
	 * that, then reads the shared copy) on top of restore_timeout for the restore: a
	 * slow broadcast never fails the job */
	unsigned limit = cfg->restore_timeout * (j->bcast ? 2u : 1u);
	deadline.tv_sec += limit;
	late = kpy_reply_read(fds[0], &deadline, out, &got);
	if (late)
		kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			*err = say("kpy: cannot restore '%s': waitpid: %s", name,
					      strerror(errno));
			goto fail;
		}
	}
	if (late) {
		*err = say("kpy: restoring %s '%s' took longer than %u "
				      "seconds and was stopped (plugstack.conf restore_timeout=%u%s); "
				      "ask your admin to raise restore_timeout, or make the "
				      "%s smaller", kpy_store_noun(kind), name, limit,
				      cfg->restore_timeout, j->bcast ? ", twice that with the broadcast" : "",
				      kpy_store_noun(kind));
		goto fail;
	}
	if (got != sizeof(*out)) {
		if (WIFSIGNALED(status))
			*err = say("kpy: restoring %s '%s' was killed by "
					      "signal %d (%s)%s", kpy_store_noun(kind), name, WTERMSIG(status),
					      strsignal(WTERMSIG(status)),
					      cfg->restore_memory ? "; if it ran out of memory, ask "
					      "your admin to raise plugstack.conf restore_memory=" : "");
		else
			*err = say("kpy: restoring %s '%s' failed without a "
					      "message (exit %d)", kpy_store_noun(kind), name,
					      WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		goto fail;
	}
	kpy_reply_terminate(out);
	rv = 0;
fail:
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	return rv;
}
