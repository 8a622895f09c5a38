/* error.h: how the core reports failure: a code plus one message a person can act on. */
#ifndef KPY_ERROR_H
#define KPY_ERROR_H

#include <signal.h>
#include <stddef.h>

/* What went wrong, for the front end to choose its remedy by (kpy_remedy_cli in the
 * command, the plugin's own table): the core's message states only the facts. */
enum kpy_code {
	KPY_OK = 0,
	KPY_EFAIL,     /* anything not listed below */
	KPY_EINVAL,    /* bad name, bad argument, bad value */
	KPY_ENOENT,    /* a file, directory or live env that is not there */
	KPY_EEXIST,    /* a saved archive of that name exists (save without force) */
	KPY_EDAMAGED,  /* archive truncated, corrupt or hostile */
	KPY_ENOSPC,    /* disk or quota full */
	KPY_ENOPYTHON, /* base interpreter missing on this node */
	KPY_ENOSAVED,  /* no saved archive of that name (the message lists those there are) */
	KPY_EPIPDIR,   /* the pipdir or its archive directory: missing, not a directory,
			* unreadable, or read-only where a write is needed */
	KPY_ECONFIG,   /* no usable setting: a bad value in a config file or KPY_* variable,
			* or nothing to derive a default from */
	KPY_ENOTVENV,  /* the directory to save holds no virtual environment */
	KPY_ENEWER,    /* the archive was made by a newer kpy */
	KPY_EBUSY,     /* the env or archive changed while kpy worked on it */
	KPY_ETAKEN,    /* a destination directory exists already (not a saved name) */
	KPY_ESITE,     /* the site store (site_pipdir): none set, missing, unreadable, or
			* read-only where an admin's publish needs to write */
};

/* Caller-owned; zero it (KPY_ERR_INIT) before use. The first error set is kept. */
struct kpy_err {
	int code;
	char msg[1536];
};
#define KPY_ERR_INIT {0, {0}}

/* Set the error unless one is already set; always returns -1. */
int kpy_err_set(struct kpy_err *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Same, with ": strerror(errnum)" appended; ENOSPC/EDQUOT give KPY_ENOSPC,
 * ENOENT gives KPY_ENOENT, anything else KPY_EFAIL. */
int kpy_err_sys(struct kpy_err *e, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Forget a previous error. */
void kpy_err_clear(struct kpy_err *e);

/* Set by a program's signal handler; long operations stop at the next file, clean up
 * and fail. */
extern volatile sig_atomic_t kpy_interrupted;

#endif
