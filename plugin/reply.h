/* reply.h: the pipe protocol between the restore child and slurmstepd: one fixed-size
 * struct kpy_reply, written once by the child, read by slurmstepd with a deadline. */
#ifndef KPY_PLUGIN_REPLY_H
#define KPY_PLUGIN_REPLY_H

#include <limits.h>
#include <stddef.h>
#include <time.h>

#include "error.h"

/* What the child reports back through the pipe. */
struct kpy_reply {
	int code;               /* KPY_OK or the kpy_err code */
	int restored;           /* 1: restored now; 0: was in place already */
	int from_copy;          /* restored from the node's broadcast copy (fanout.h) */
	char fanout[512];       /* a batch step broadcast: the token for later steps */
	char pipdir[PATH_MAX];
	char note[512];         /* something the admin should hear of, or "" */
	char msg[sizeof(((struct kpy_err *)0)->msg)];
};

/* The child: write all of R to FD. 0, or -1 when the pipe failed. */
int kpy_reply_write(int fd, const struct kpy_reply *r);

/* slurmstepd: read a reply from FD into OUT until EOF or DEADLINE (CLOCK_MONOTONIC),
 * *GOT counting the bytes read (a whole reply is sizeof(*OUT); more is read and
 * dropped). 1 if the deadline passed, else 0 (EOF or a read error). */
int kpy_reply_read(int fd, const struct timespec *deadline, struct kpy_reply *out,
		   size_t *got);

/* After a whole reply: terminate its strings, whatever the child wrote. */
void kpy_reply_terminate(struct kpy_reply *r);

#endif
