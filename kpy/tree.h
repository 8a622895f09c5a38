/* tree.h: directory helpers that never follow symlinks. */
#ifndef KPY_TREE_H
#define KPY_TREE_H

#include <stddef.h>
#include "error.h"

/* Format a path into BUF of SIZE bytes: 0, or -1 with E (KPY_EINVAL, the full path
 * named) when it does not fit; never a truncated path to act upon. E may be NULL. */
int kpy_pathf(char *buf, size_t size, struct kpy_err *e, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Remove PATH and everything under it without following symlinks anywhere below
 * PATH (symlinks are unlinked, not followed). PATH missing is success. */
int kpy_rmtree(const char *path, struct kpy_err *e);
/* mkdir -p with MODE for the directories it makes. PATH must be absolute: a
 * relative one is KPY_EINVAL and nothing is made. */
int kpy_mkdirs(const char *path, int mode, struct kpy_err *e);

#endif
