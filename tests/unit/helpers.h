/* helpers.h: small fixtures shared by the unit tests (temp dirs, files). */
#ifndef KPY_TEST_HELPERS_H
#define KPY_TEST_HELPERS_H

#include <criterion/criterion.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tree.h"

/* A fresh directory under /tmp; remove with rm_tmpdir. */
static inline char *mk_tmpdir(void)
{
	char *d = strdup("/tmp/kpy-unit.XXXXXX");
	cr_assert_not_null(mkdtemp(d));
	return d;
}

static inline void rm_tmpdir(char *d)
{
	struct kpy_err e = KPY_ERR_INIT;
	if (d != NULL)
		kpy_rmtree(d, &e);
	free(d);
}

static inline void put(const char *path, const char *text, int mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	cr_assert(fd >= 0, "open %s", path);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	chmod(path, (mode_t)mode);
}

/* Malloc'd contents of PATH, or NULL. */
static inline char *get(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = calloc(1, (size_t)n + 1);
	if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

static inline int exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

#define PATHF(buf, ...) snprintf(buf, sizeof(buf), __VA_ARGS__)

/* The skeleton of a fake venv at SRC: bin/, lib/python3.11/site-packages/PKG/,
 * pyvenv.cfg, and bin/python -> /usr/bin/python3 (a real interpreter). */
static inline void mk_venv_skeleton(const char *src, const char *pkg)
{
	char p[PATH_MAX];
	struct kpy_err e = KPY_ERR_INIT;

	PATHF(p, "%s/bin", src);
	cr_assert_eq(kpy_mkdirs(p, 0755, &e), 0, "%s", e.msg);
	PATHF(p, "%s/lib/python3.11/site-packages/%s", src, pkg);
	cr_assert_eq(kpy_mkdirs(p, 0755, &e), 0, "%s", e.msg);
	PATHF(p, "%s/pyvenv.cfg", src);
	put(p, "home = /usr/bin\nversion = 3.11.2\nexecutable = /usr/bin/python3\n", 0644);
	PATHF(p, "%s/bin/python", src);
	cr_assert_eq(symlink("/usr/bin/python3", p), 0);
}

#endif
