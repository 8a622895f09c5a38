/* fdio.c: reads and writes that finish, and reading a small file whole. */
#include "autoconfig.h"
#include "fdio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

ssize_t kpy_read_full(int fd, void *buf, size_t n)
{
	char *p = buf;
	size_t got = 0;

	while (got < n) {
		ssize_t k = read(fd, p + got, n - got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -1;
		if (k == 0)
			break;
		got += (size_t)k;
	}
	return (ssize_t)got;
}

int kpy_write_full(int fd, const void *buf, size_t n)
{
	const char *p = buf;

	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = EIO;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int kpy_read_file(const char *path, size_t max, int nofollow, char **text, size_t *len,
		  int *truncated, struct kpy_err *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | (nofollow ? O_NOFOLLOW : 0)), err;
	char *buf = NULL, extra;
	ssize_t n;

	*text = NULL;
	if (fd < 0)
		goto fail;
	if ((buf = malloc(max + 1)) == NULL) {
		errno = ENOMEM;
		goto fail;
	}
	if ((n = kpy_read_full(fd, buf, max)) < 0)
		goto fail;
	if (truncated != NULL)
		*truncated = (size_t)n == max && kpy_read_full(fd, &extra, 1) == 1;
	close(fd);
	buf[n] = '\0';
	*text = buf;
	if (len != NULL)
		*len = (size_t)n;
	return 0;
fail:
	err = errno;
	if (fd >= 0)
		close(fd);
	free(buf);
	kpy_err_sys(e, err, "cannot read %s", path);
	errno = err;
	return -1;
}
