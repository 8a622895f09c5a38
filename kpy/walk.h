/* walk.h: listing the tree to archive: every entry below a directory, sorted by name,
 * each hard link pointed at the first entry of its inode. */
#ifndef KPY_WALK_H
#define KPY_WALK_H

#include <stddef.h>
#include <sys/stat.h>

#include "error.h"

struct kpy_walk_ent {
	char *rel;        /* path below the root, malloc'd */
	struct stat st;   /* lstat of it */
	const char *link; /* an earlier entry this one is a hard link of (uv caches), or NULL */
};

struct kpy_walk {
	struct kpy_walk_ent *v;
	size_t n, cap;
};

/* Append every entry below the directory FD (path REL, "" for the root; ROOT names it in
 * messages), depth first, each directory's names sorted; the root's .kpy/ is left out.
 * FD is consumed (closed). A name holding a newline is refused (KPY_EINVAL). */
int kpy_walk_dir(struct kpy_walk *w, int fd, const char *rel, const char *root, struct kpy_err *e);
/* Point each regular file that is a hard link of an earlier one in W at it (ent.link). */
int kpy_walk_links(struct kpy_walk *w, struct kpy_err *e);
void kpy_walk_free(struct kpy_walk *w);
/* The "X.dist-info" names under lib/python* /site-packages of W, one a line, sorted;
 * malloc'd (LEN bytes), NULL when out of memory. */
char *kpy_package_list(const struct kpy_walk *w, size_t *len);

#endif
