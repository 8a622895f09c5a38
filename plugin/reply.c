/* reply.c: the restore child's reply through its pipe: writing it whole, reading it
 * against a deadline. */
#include "autoconfig.h"
#include "reply.h"
#include "fdio.h"

#include <errno.h>
#include <poll.h>
#include <unistd.h>

int kpy_reply_write(int fd, const struct kpy_reply *r)
{
	return kpy_write_full(fd, r, sizeof(*r));
}

static long ms_left(const struct timespec *deadline)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (deadline->tv_sec - now.tv_sec) * 1000 +
	       (deadline->tv_nsec - now.tv_nsec) / 1000000;
}

int kpy_reply_read(int fd, const struct timespec *deadline, struct kpy_reply *out,
		   size_t *got)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t n;
	long left;
	int rc;

	for (;;) {
		left = ms_left(deadline);
		if (left <= 0)
			return 1;
		rc = poll(&p, 1, left > 60000 ? 60000 : (int)left);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0)
			return 0;
		if (rc == 0)
			continue;
		if (*got == sizeof(*out)) {
			char c;

			if (read(fd, &c, 1) <= 0)
				return 0;
			continue;
		}
		n = read(fd, (char *)out + *got, sizeof(*out) - *got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 0;
		*got += (size_t)n;
	}
}

void kpy_reply_terminate(struct kpy_reply *r)
{
	r->pipdir[sizeof(r->pipdir) - 1] = '\0';
	r->note[sizeof(r->note) - 1] = '\0';
	r->fanout[sizeof(r->fanout) - 1] = '\0';
	r->msg[sizeof(r->msg) - 1] = '\0';
}
