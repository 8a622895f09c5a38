/* scratch.c: per-job scratch under a root-owned base that no other user can squat,
 * made by the restore child as root and removed by the root epilog. */
#include "autoconfig.h"
#include "scratch.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/random.h>
#include <unistd.h>

#include "tree.h"

char *kpy_scratch_path(const char *tmpdir, uint32_t jobid, uid_t uid)
{
	char *p;

	if (asprintf(&p, "%s/" KPY_SCRATCH_BASE "/%u.%u", tmpdir, jobid, (unsigned)uid) < 0)
		return NULL;
	return p;
}

int kpy_scratch_is_ours(const char *tmpdir, const char *path)
{
	size_t n = strlen(tmpdir), b = strlen(KPY_SCRATCH_BASE);

	return strncmp(path, tmpdir, n) == 0 && path[n] == '/' &&
	       strncmp(path + n + 1, KPY_SCRATCH_BASE, b) == 0 && path[n + 1 + b] == '/';
}

static int base_is_safe(const struct stat *st)
{
	return S_ISDIR(st->st_mode) && st->st_uid == 0 && (st->st_mode & 022) == 0;
}

/* Rename the squatted base entry in TFD to kpy-jobs.squatted.<random>. */
static int move_aside(int tfd, const char *tmpdir, char *note, size_t size, struct kpy_err *e)
{
	char aside[64];
	struct stat st;
	unsigned char r[6];

	for (int i = 0; i < 10; i++) {
		if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
			return kpy_err_sys(e, errno, "cannot get random bytes");
		snprintf(aside, sizeof(aside), KPY_SCRATCH_BASE ".squatted.%02x%02x%02x%02x%02x%02x",
			 r[0], r[1], r[2], r[3], r[4], r[5]);
		if (fstatat(tfd, KPY_SCRATCH_BASE, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return errno == ENOENT ? 0 : kpy_err_sys(e, errno, "cannot inspect %s/"
								 KPY_SCRATCH_BASE, tmpdir);
		/* a concurrent step moved the squatter aside and made the base meanwhile */
		if (base_is_safe(&st))
			return 0;
		if (renameat2(tfd, KPY_SCRATCH_BASE, tfd, aside, RENAME_NOREPLACE) == 0) {
			struct stat moved;
			/* and if it did so between the check and the rename, put the base back */
			if (fstatat(tfd, aside, &moved, AT_SYMLINK_NOFOLLOW) == 0 && base_is_safe(&moved) &&
			    renameat2(tfd, aside, tfd, KPY_SCRATCH_BASE, RENAME_NOREPLACE) == 0)
				return 0;
			snprintf(note, size, "%s/" KPY_SCRATCH_BASE " belonged to uid %u (or was not "
				 "a directory): moved aside to %s/%s", tmpdir, (unsigned)st.st_uid,
				 tmpdir, aside);
			return 0;
		}
		if (errno == ENOENT)
			return 0;
		if (errno != EEXIST)
			return kpy_err_sys(e, errno, "cannot move aside %s/" KPY_SCRATCH_BASE
					   ", which is not root's own directory", tmpdir);
	}
	return kpy_err_set(e, KPY_EFAIL, "cannot move aside %s/" KPY_SCRATCH_BASE, tmpdir);
}

/* An fd of <tmpdir>/kpy-jobs, checked to be root's and writable by root only. With
 * CREATE make it, moving a squatter's entry aside; without, -1 with KPY_ENOENT when
 * it is missing or not safe to use. */
static int open_base(const char *tmpdir, int create, char *note, size_t size,
		     struct kpy_err *e)
{
	struct stat st;
	int tfd, fd = -1;

	tfd = open(tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (tfd < 0) {
		kpy_err_sys(e, errno, "cannot open %s (plugstack.conf tmpdir=)", tmpdir);
		return -1;
	}
	if (fstat(tfd, &st) < 0 || ((st.st_mode & S_IWOTH) && !(st.st_mode & S_ISVTX))) {
		kpy_err_set(e, KPY_EFAIL, "%s (plugstack.conf tmpdir=) is writable by everyone "
			    "without the sticky bit: ask your admin to chmod +t it", tmpdir);
		goto out;
	}
	for (int i = 0; i < 10; i++) {
		fd = openat(tfd, KPY_SCRATCH_BASE, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0) {
			if (fstat(fd, &st) < 0) {
				kpy_err_sys(e, errno, "cannot stat %s/" KPY_SCRATCH_BASE, tmpdir);
				goto out;
			}
			if (base_is_safe(&st))
				goto out;
			close(fd);
			fd = -1;
		} else if (errno == ENOENT) {
			if (!create) {
				kpy_err_set(e, KPY_ENOENT, "%s/" KPY_SCRATCH_BASE " does not exist",
					    tmpdir);
				goto out;
			}
			if (mkdirat(tfd, KPY_SCRATCH_BASE, 0711) < 0 && errno != EEXIST) {
				kpy_err_sys(e, errno, "cannot make %s/" KPY_SCRATCH_BASE
					    " (plugstack.conf tmpdir=)", tmpdir);
				goto out;
			}
			continue;
		} else if (errno != ELOOP && errno != ENOTDIR) {
			kpy_err_sys(e, errno, "cannot open %s/" KPY_SCRATCH_BASE, tmpdir);
			goto out;
		}
		/* someone else's directory, a file or a symlink where our base goes */
		if (!create) {
			kpy_err_set(e, KPY_ENOENT, "%s/" KPY_SCRATCH_BASE " is not root's own "
				    "directory", tmpdir);
			goto out;
		}
		if (move_aside(tfd, tmpdir, note, size, e) < 0)
			goto out;
	}
	if (fd < 0 && e->code == KPY_OK)
		kpy_err_set(e, KPY_EFAIL, "cannot make %s/" KPY_SCRATCH_BASE ": something keeps "
			    "replacing it", tmpdir);
out:
	close(tfd);
	return fd;
}

int kpy_scratch_make(const char *tmpdir, uint32_t jobid, uid_t uid, gid_t gid,
		     char *note, size_t size, struct kpy_err *e)
{
	char name[64], tmp[96];
	struct stat st;
	int bfd, fd = -1, rv = -1, have_tmp = 0;

	note[0] = '\0';
	if ((bfd = open_base(tmpdir, 1, note, size, e)) < 0)
		return -1;
	snprintf(name, sizeof(name), "%u.%u", jobid, (unsigned)uid);
	/* made under a temporary name and renamed without replacing: concurrent steps of
	 * the job agree, and the directory is never seen half-made (root's, not the user's) */
	snprintf(tmp, sizeof(tmp), ".%s.%ld", name, (long)getpid());
	if (mkdirat(bfd, tmp, 0700) < 0) {
		kpy_err_sys(e, errno, "cannot make the job's scratch directory in %s/"
			    KPY_SCRATCH_BASE, tmpdir);
		goto out;
	}
	have_tmp = 1;
	fd = openat(bfd, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fchown(fd, uid, gid) < 0 || fchmod(fd, 0700) < 0) {
		kpy_err_sys(e, errno, "cannot prepare the job's scratch directory %s/"
			    KPY_SCRATCH_BASE "/%s", tmpdir, tmp);
		goto out;
	}
	close(fd);
	fd = -1;
	if (renameat2(bfd, tmp, bfd, name, RENAME_NOREPLACE) == 0)
		have_tmp = 0;
	else if (errno != EEXIST) {
		kpy_err_sys(e, errno, "cannot make the job's scratch directory %s/"
			    KPY_SCRATCH_BASE "/%s", tmpdir, name);
		goto out;
	}
	fd = openat(bfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		kpy_err_sys(e, errno, "cannot open the job's scratch directory %s/"
			    KPY_SCRATCH_BASE "/%s", tmpdir, name);
		goto out;
	}
	if (st.st_uid != uid) {
		kpy_err_set(e, KPY_EFAIL, "the job's scratch directory %s/" KPY_SCRATCH_BASE
			    "/%s belongs to uid %u, not to the job's user", tmpdir, name,
			    (unsigned)st.st_uid);
		goto out;
	}
	rv = 0;
out:
	if (fd >= 0)
		close(fd);
	if (have_tmp && unlinkat(bfd, tmp, AT_REMOVEDIR) < 0) {
		/* the user may have put something in it already: remove it all (the base is
		 * root's and writable by root only, so the path cannot be swapped) */
		char *path = NULL;
		struct kpy_err ignore = KPY_ERR_INIT;
		if (asprintf(&path, "%s/" KPY_SCRATCH_BASE "/%s", tmpdir, tmp) >= 0) {
			kpy_rmtree(path, &ignore);
			free(path);
		}
	}
	close(bfd);
	return rv;
}

int kpy_scratch_remove(const char *tmpdir, uint32_t jobid, uid_t uid, struct kpy_err *e)
{
	char name[64], note[8], *path = NULL;
	struct stat st;
	int bfd, rv = -1;

	if ((bfd = open_base(tmpdir, 0, note, sizeof(note), e)) < 0)
		return e->code == KPY_ENOENT ? 0 : -1;
	snprintf(name, sizeof(name), "%u.%u", jobid, (unsigned)uid);
	if (fstatat(bfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		rv = errno == ENOENT ? 0 : kpy_err_sys(e, errno, "cannot inspect %s/"
						       KPY_SCRATCH_BASE "/%s", tmpdir, name);
		goto out;
	}
	/* only root makes entries here; anything else than the user's directory is left */
	if (!S_ISDIR(st.st_mode) || st.st_uid != uid) {
		kpy_err_set(e, KPY_EFAIL, "leaving %s/" KPY_SCRATCH_BASE "/%s alone: not a "
			    "directory of uid %u", tmpdir, name, (unsigned)uid);
		rv = 0;
		goto out;
	}
	if ((path = kpy_scratch_path(tmpdir, jobid, uid)) == NULL) {
		kpy_err_set(e, KPY_EFAIL, "out of memory");
		goto out;
	}
	/* the base is root's and not writable by others: nobody can swap this path now */
	if (kpy_rmtree(path, e) < 0)
		goto out;
	rv = 1;
out:
	free(path);
	close(bfd);
	return rv;
}
