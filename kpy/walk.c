/* walk.c: the entries of a tree to archive, sorted, hard links found. */
#include "autoconfig.h"
#include "walk.h"
#include "buf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Append every entry below the directory FD (path REL, "" for the root), sorted. */
int kpy_walk_dir(struct kpy_walk *w, int fd, const char *rel, const char *root,
		    struct kpy_err *e)
{
	DIR *d = fdopendir(fd);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0;
	int rv = -1;

	if (d == NULL) {
		close(fd);
		return kpy_err_sys(e, errno, "cannot read %s/%s", root, rel);
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (rel[0] == '\0' && strcmp(de->d_name, ".kpy") == 0)
			continue; /* kpy's own metadata is written afresh */
		char **nn = kpy_grow(names, &cap, n, sizeof(*names), 32);
		if (nn == NULL)
			goto oom;
		names = nn;
		if ((names[n] = strdup(de->d_name)) == NULL)
			goto oom;
		n++;
	}
	if (errno != 0) {
		kpy_err_sys(e, errno, "cannot read %s/%s", root, rel);
		goto out;
	}
	if (n > 1)
		qsort(names, n, sizeof(*names), cmp_str);
	for (size_t i = 0; i < n; i++) {
		struct kpy_walk_ent *x;
		struct kpy_walk_ent *nv = kpy_grow(w->v, &w->cap, w->n, sizeof(*nv), 256);
		if (nv == NULL)
			goto oom;
		w->v = nv;
		x = &w->v[w->n];
		x->link = NULL;
		if (fstatat(dirfd(d), names[i], &x->st, AT_SYMLINK_NOFOLLOW) < 0) {
			kpy_err_sys(e, errno, "cannot read %s/%s%s%s", root, rel, rel[0] ? "/" : "", names[i]);
			goto out;
		}
		if (asprintf(&x->rel, "%s%s%s", rel, rel[0] ? "/" : "", names[i]) < 0)
			goto oom;
		if (strchr(x->rel, '\n') != NULL) {
			kpy_err_set(e, KPY_EINVAL, "cannot save %s/%s: its name holds a newline; rename it", root, x->rel);
			free(x->rel);
			goto out;
		}
		w->n++;
		if (S_ISDIR(x->st.st_mode)) {
			int sub = openat(dirfd(d), names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub < 0) {
				kpy_err_sys(e, errno, "cannot read %s/%s", root, w->v[w->n - 1].rel);
				goto out;
			}
			if (kpy_walk_dir(w, sub, w->v[w->n - 1].rel, root, e) < 0)
				goto out;
		}
	}
	rv = 0;
	goto out;
oom:
	kpy_err_set(e, KPY_EFAIL, "out of memory listing %s", root);
out:
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	closedir(d);
	return rv;
}

/* Order entry indexes by (device, inode), then by position in the walk. */
static const struct kpy_walk *link_walk;
static int cmp_inode(const void *a, const void *b)
{
	const struct kpy_walk_ent *x = &link_walk->v[*(const size_t *)a], *y = &link_walk->v[*(const size_t *)b];

	if (x->st.st_dev != y->st.st_dev)
		return x->st.st_dev < y->st.st_dev ? -1 : 1;
	if (x->st.st_ino != y->st.st_ino)
		return x->st.st_ino < y->st.st_ino ? -1 : 1;
	return x < y ? -1 : x > y;
}

/* Point each regular file that is a hard link of an earlier one in the walk at it
 * (ent.link), so that it is archived as a link to the first. */
int kpy_walk_links(struct kpy_walk *w, struct kpy_err *e)
{
	size_t *ix, n = 0;

	for (size_t i = 0; i < w->n; i++)
		n += S_ISREG(w->v[i].st.st_mode) && w->v[i].st.st_nlink > 1;
	if (n < 2)
		return 0;
	if ((ix = malloc(n * sizeof(*ix))) == NULL)
		return kpy_err_set(e, KPY_EFAIL, "out of memory");
	n = 0;
	for (size_t i = 0; i < w->n; i++)
		if (S_ISREG(w->v[i].st.st_mode) && w->v[i].st.st_nlink > 1)
			ix[n++] = i;
	link_walk = w;
	qsort(ix, n, sizeof(*ix), cmp_inode);
	for (size_t k = 1; k < n; k++) {
		struct kpy_walk_ent *first = &w->v[ix[k - 1]], *x = &w->v[ix[k]];
		if (x->st.st_dev == first->st.st_dev && x->st.st_ino == first->st.st_ino)
			x->link = first->link != NULL ? first->link : first->rel;
	}
	free(ix);
	return 0;
}

void kpy_walk_free(struct kpy_walk *w)
{
	for (size_t i = 0; i < w->n; i++)
		free(w->v[i].rel);
	free(w->v);
}

/* "X.dist-info" names under lib/python* /site-packages, one a line, sorted. */
char *kpy_package_list(const struct kpy_walk *w, size_t *len)
{
	struct kpy_buf b = KPY_BUF_INIT;

	kpy_buf_add(&b, "", 0); /* an env without packages still has a (empty) list */
	for (size_t i = 0; i < w->n; i++) {
		const char *r = w->v[i].rel, *sp, *name;
		if (!S_ISDIR(w->v[i].st.st_mode) || strncmp(r, "lib/python", 10) != 0)
			continue;
		if ((sp = strstr(r, "/site-packages/")) == NULL || strchr(r + 4, '/') != sp)
			continue;
		name = sp + strlen("/site-packages/");
		size_t nl = strlen(name);
		if (strchr(name, '/') || nl < 11 || strcmp(name + nl - 10, ".dist-info") != 0)
			continue;
		kpy_buf_add(&b, name, nl);
		kpy_buf_add(&b, "\n", 1);
	}
	if (b.oom) {
		kpy_buf_free(&b);
		return NULL;
	}
	*len = b.len;
	return b.p;
}
