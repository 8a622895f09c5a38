/* unpack.c: reading a saved archive: its manifest, and restoring it (kpy_archive_restore). */
#include "autoconfig.h"
#include "envarchive.h"
#include "buf.h"
#include "fdio.h"
#include "kv.h"
#include "publish.h"
#include "relocate.h"
#include "safety.h"
#include "tree.h"
#include "venvfacts.h"
#include "threads.h"
#include "walk.h"
#include "xtract.h"
#include "zio.h"
#include "zpar.h"
#include "zseek.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LIST_MAX (64u << 20) /* bound on .kpy/ metadata read into memory */

struct reader {
	struct archive *a;
	struct kpy_zr zr;     /* a plain zstd stream: read as one */
	struct kpy_zs_index ix;
	struct kpy_zpar *zp;  /* a seekable one: frames decoded in parallel */
	int fd;
	const char *path;
};

static int damaged(struct reader *r, struct kpy_err *e, const char *why)
{
	return kpy_err_set(e, KPY_EDAMAGED,
			   "archive %s is damaged (%s)",
			   r->path, why);
}

/* Say why reading failed: corrupt zstd data, a truncated tar, or an I/O error. */
static int read_failed(struct reader *r, struct kpy_err *e)
{
	const char *msg = archive_error_string(r->a);
	int code = 0;
	const char *zwhy = kpy_zpar_why(r->zp, &code);
	if (zwhy != NULL && code == KPY_EDAMAGED)
		return damaged(r, e, zwhy);
	if (zwhy != NULL)
		return kpy_err_set(e, code, "cannot read archive %s (%s)", r->path, zwhy);
	if (r->zr.damaged)
		return damaged(r, e, r->zr.why);
	int err = archive_errno(r->a);
	if (err == ENOMEM || err == EACCES || err == EPERM || err == EISDIR)
		return kpy_err_sys(e, err, "cannot read archive %s", r->path);
	return damaged(r, e, msg ? msg : "unreadable tar data");
}

static void reader_close(struct reader *r)
{
	if (r->a != NULL)
		archive_read_free(r->a);
	kpy_zpar_free(r->zp);
	kpy_zs_index_free(&r->ix);
	kpy_zr_close(&r->zr);
	if (r->fd >= 0)
		close(r->fd);
	r->a = NULL;
	r->zp = NULL;
	r->fd = -1;
}

/* zseek's messages start with the file's name, "the archive: " when given none */
static const char *unnamed(const char *msg)
{
	static const char pre[] = "the archive: ";
	return strncmp(msg, pre, sizeof(pre) - 1) == 0 ? msg + sizeof(pre) - 1 : msg;
}

/* Open PATH for reading. THREADS 0: as one stream (the manifest alone); else a
 * seekable archive's frames are decoded on THREADS threads, and an archive without a
 * seek table (an older kpy, tar by hand) is streamed. */
static int reader_open(struct reader *r, const char *path, int threads, struct kpy_err *e)
{
	int rc = KPY_ZS_NOINDEX;

	memset(r, 0, sizeof(*r));
	r->path = path;
	if ((r->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		if (errno == ENOENT)
			return kpy_err_set(e, KPY_ENOENT, "archive %s does not exist", path);
		return kpy_err_sys(e, errno, "cannot open archive %s", path);
	}
	if (threads > 0) {
		struct kpy_err ie = KPY_ERR_INIT;
		if ((rc = kpy_zs_index_read(r->fd, NULL, &r->ix, &ie)) < 0) {
			reader_close(r);
			if (ie.code == KPY_EDAMAGED)
				return damaged(r, e, unnamed(ie.msg));
			return kpy_err_set(e, ie.code, "cannot read archive %s (%s)", path, unnamed(ie.msg));
		}
	}
	if ((r->a = archive_read_new()) == NULL) {
		reader_close(r);
		return kpy_err_set(e, KPY_EFAIL, "out of memory");
	}
	archive_read_support_format_tar(r->a);
	if (rc == 0) {
		if (kpy_zpar_open(r->a, r->fd, path, &r->ix, threads, &r->zp, e) < 0) {
			int code = 0;
			const char *why = kpy_zpar_why(r->zp, &code);
			char msg[sizeof(e->msg)];
			snprintf(msg, sizeof(msg), "%s", why != NULL ? why : e->msg);
			if (why == NULL)
				code = e->code;
			reader_close(r);
			if (code == KPY_EDAMAGED) {
				kpy_err_clear(e);
				return damaged(r, e, msg);
			}
			return -1;
		}
		return 0;
	}
	if (kpy_zr_open(r->a, &r->zr, r->fd, e) < 0) {
		archive_read_free(r->a);
		r->a = NULL;
		kpy_zr_close(&r->zr);
		close(r->fd);
		r->fd = -1;
		if (e->code == KPY_EDAMAGED) {
			kpy_err_clear(e);
			return damaged(r, e, r->zr.why[0] ? r->zr.why : "not a zstd-compressed tar");
		}
		return -1;
	}
	return 0;
}

/* Read the current entry's data (at most LIST_MAX) into a malloc'd buffer. */
static int read_entry(struct reader *r, struct archive_entry *ae, char **buf, size_t *len,
		      struct kpy_err *e)
{
	la_int64_t size = archive_entry_size(ae);
	la_ssize_t n;

	if (size < 0 || (unsigned long long)size > LIST_MAX)
		return damaged(r, e, "a .kpy entry is too large");
	if ((*buf = malloc((size_t)size + 1)) == NULL)
		return kpy_err_set(e, KPY_EFAIL, "out of memory");
	*len = 0;
	while ((size_t)size > *len && (n = archive_read_data(r->a, *buf + *len, (size_t)size - *len)) > 0)
		*len += (size_t)n;
	if (*len != (size_t)size) {
		free(*buf);
		*buf = NULL;
		return read_failed(r, e);
	}
	(*buf)[*len] = '\0';
	return 0;
}

static int read_manifest(struct reader *r, struct kpy_manifest *m, struct kpy_err *e)
{
	struct archive_entry *ae;
	char *text;
	size_t len;
	int rc = archive_read_next_header(r->a, &ae);

	if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN)
		return rc == ARCHIVE_EOF ? damaged(r, e, "it holds no entries") : read_failed(r, e);
	if (archive_entry_pathname(ae) == NULL || (strcmp(archive_entry_pathname(ae), KPY_MANIFEST_PATH) != 0 &&
						   strcmp(archive_entry_pathname(ae), KPY_MANIFEST_NEXT_PATH) != 0))
		return damaged(r, e, "its first entry is not " KPY_MANIFEST_PATH ", so kpy did not write it");
	if (read_entry(r, ae, &text, &len, e) < 0)
		return -1;
	struct kpy_err pe = KPY_ERR_INIT;
	if (kpy_manifest_parse(text, len, m, &pe) < 0) {
		free(text);
		if (pe.code == KPY_EDAMAGED)
			return damaged(r, e, pe.msg);
		return kpy_err_set(e, pe.code, "archive %s: %s", r->path, pe.msg);
	}
	free(text);
	return 0;
}

int kpy_archive_manifest(const char *archive, struct kpy_manifest *m, struct kpy_err *e)
{
	struct reader r;
	int rv;

	if (reader_open(&r, archive, 0, e) < 0)
		return -1;
	rv = read_manifest(&r, m, e);
	reader_close(&r);
	return rv;
}

/* ---------- restoring ---------- */




/* Lines of LIST (text) are relative paths; relocate each. */
static int relocate_list(const char *root, char *list, const struct kpy_reloc *rl,
			 struct reader *r, struct kpy_err *e)
{
	for (char *line = list, *nl; line && *line; line = nl ? nl + 1 : NULL) {
		nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		if (*line == '\0')
			continue;
		if (kpy_safe_name(line) == NULL)
			return damaged(r, e, "its relocation list names a path outside the env");
		if (kpy_relocate_file(root, line, rl, e) < 0)
			return -1;
	}
	return 0;
}

/* Give a frame back that a writer wrote from (xtract's release callback). */
static void release_frame(void *ctx, void *ref)
{
	kpy_zpar_release(ctx, ref);
}

/* The extraction failed: an entry that broke a rule (the archive is damaged), or a
 * write into the target (say so, whatever the errno: a full disk shows here). */
static int xt_failed(struct kpy_xt *xt, struct reader *r, const char *dest, struct kpy_err *e)
{
	int err = 0;
	const char *why = "failed without saying why";
	int code = kpy_xt_error(xt, &err, &why);

	if (code == KPY_EDAMAGED)
		return damaged(r, e, why);
	if (err == ENOMEM)
		return kpy_err_set(e, KPY_EFAIL, "out of memory restoring %s", r->path);
	return kpy_err_sys(e, err ? err : EIO, "cannot restore %s into %s", r->path, dest);
}

int kpy_archive_restore(const char *archive, const char *dest_in, const struct kpy_restore_opts *o,
			struct kpy_manifest *mout, struct kpy_err *e)
{
	const char *prompt = o != NULL ? o->prompt : NULL;
	struct kpy_manifest m = { 0 };
	struct reader r = { .fd = -1 };
	struct kpy_xt *xt = NULL;
	struct archive_entry *ae;
	char dest[PATH_MAX], parent[PATH_MAX], real[PATH_MAX], tmp[PATH_MAX], full[PATH_MAX * 2];
	char *reloc = NULL;
	size_t rlen = 0;
	long long files = 0;
	int rv = -1, rc, have_tmp = 0, seen_reloc = 0, tmpfd = -1, lockfd = -1;
	int threads = o != NULL && o->threads > 0 ? o->threads : kpy_threads_pick(0, 0, NULL, NULL);
	const char *why;
	struct stat st;

	if (dest_in[0] != '/' || strlen(dest_in) >= sizeof(dest) - 32 || strchr(dest_in, '\n'))
		return kpy_err_set(e, KPY_EINVAL, "cannot restore to '%s': give an absolute path", dest_in);
	strcpy(dest, dest_in);
	for (size_t n = strlen(dest); n > 1 && dest[n - 1] == '/'; n--)
		dest[n - 1] = '\0';
	if ((why = kpy_bad_prefix(dest, 0)) != NULL)
		return kpy_err_set(e, KPY_EINVAL, "cannot restore to %s: %s; choose another path", dest, why);
	if (lstat(dest, &st) == 0)
		return kpy_err_set(e, KPY_ETAKEN, "%s already exists", dest);
	strcpy(parent, dest);
	char *base = strrchr(parent, '/');
	*base++ = '\0';
	if (realpath(parent[0] ? parent : "/", real) == NULL)
		return kpy_err_sys(e, errno, "cannot restore into %s", parent[0] ? parent : "/");

	if (reader_open(&r, archive, threads, e) < 0)
		return -1;
	if (read_manifest(&r, &m, e) < 0)
		goto out;
	/* name a missing interpreter before spending time on extraction */
	if (strcmp(m.kind, KPY_KIND_VENV) == 0 && m.base_python != NULL && access(m.base_python, X_OK) < 0) {
		kpy_venv_missing_python(archive, m.base_python, &m, e);
		goto out;
	}

	if (kpy_temp_name(tmp, sizeof(tmp), real, base, KPY_TEMP_DIR_MARK, e) < 0)
		goto out;
	kpy_temp_sweep(real, KPY_TEMP_DIR_MARK, 1);
	if (mkdtemp(tmp) == NULL) {
		kpy_err_sys(e, errno, "cannot create a directory in %s", parent);
		goto out;
	}
	have_tmp = 1;
	/* held until this process ends: see kpy_temp_sweep */
	if ((lockfd = open(tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) >= 0)
		flock(lockfd, LOCK_EX | LOCK_NB);
	chmod(tmp, 0755 & ~kpy_current_umask());

	/* every entry is written relative to the temporary dir's descriptor, by xtract's
	 * rules (no write through a symlink, nothing outside it) */
	if ((tmpfd = open(tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		kpy_err_sys(e, errno, "cannot enter %s", tmp);
		goto out;
	}
	struct kpy_xt_opts xo = {
		.threads = threads, .progress = o != NULL ? o->progress : NULL,
		.release = release_frame, .release_ctx = r.zp,
	};
	if ((xt = kpy_xt_new(tmpfd, &xo)) == NULL) {
		kpy_err_sys(e, errno, "cannot start the threads to restore %s", archive);
		goto out;
	}

	size_t olen = strlen(m.prefix);
	while ((rc = archive_read_next_header(r.a, &ae)) == ARCHIVE_OK || rc == ARCHIVE_WARN) {
		const char *name = kpy_safe_name(archive_entry_pathname(ae));
		const char *hard = archive_entry_hardlink(ae);
		const char *sym = archive_entry_symlink(ae);
		mode_t type = archive_entry_filetype(ae);
		mode_t perm = archive_entry_perm(ae) & 01777;
		struct timespec mt = { archive_entry_mtime(ae), archive_entry_mtime_nsec(ae) };
		const struct timespec *mtime = archive_entry_mtime_is_set(ae) ? &mt : NULL;

		if (kpy_interrupted) {
			kpy_err_set(e, KPY_EFAIL, "interrupted");
			goto out;
		}
		if (name == NULL) {
			damaged(&r, e, "it holds an entry with an absolute or '..' path; refusing to write outside the target");
			goto out;
		}
		if (hard == NULL && type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK) {
			damaged(&r, e, "it holds a device, fifo or socket entry");
			goto out;
		}
		if (strcmp(name, KPY_RELOCATE_PATH) == 0) {
			free(reloc);
			reloc = NULL;
			if (read_entry(&r, ae, &reloc, &rlen, e) < 0)
				goto out;
			seen_reloc = 1;
			continue;
		}
		if (strcmp(name, KPY_MANIFEST_PATH) != 0 && strcmp(name, KPY_MANIFEST_NEXT_PATH) != 0 &&
		    strcmp(name, KPY_PACKAGES_PATH) != 0)
			files++;
		if (hard != NULL) {
			const char *h = kpy_safe_name(hard);
			if (h == NULL) {
				damaged(&r, e, "it holds a hard link to a path outside the target");
				goto out;
			}
			/* kpy stores hard links as separate files: a link here must lead to a
			 * regular file written earlier, never to a symlink or a directory */
			if (kpy_xt_hardlink(xt, name, h) < 0)
				goto failed;
		} else if (type == AE_IFDIR) {
			if (kpy_xt_dir(xt, name, perm, mtime) < 0)
				goto failed;
		} else if (type == AE_IFLNK) {
			char nt[PATH_MAX * 2];
			if (sym != NULL && strncmp(sym, m.prefix, olen) == 0 &&
			    (sym[olen] == '/' || sym[olen] == '\0')) {
				if (kpy_pathf(nt, sizeof(nt), e, "%s%s", dest, sym + olen) < 0)
					goto out;
				sym = nt;
			}
			if (kpy_xt_symlink(xt, name, sym, mtime) < 0)
				goto failed;
		} else {
			la_int64_t size = archive_entry_size(ae);
			const void *blk;
			size_t sz;
			la_int64_t off;

			if (size < 0) {
				damaged(&r, e, "it holds a file of negative size");
				goto out;
			}
			if (kpy_xt_file(xt, name, perm, (uint64_t)size, mtime) < 0)
				goto failed;
			while ((rc = archive_read_data_block(r.a, &blk, &sz, &off)) == ARCHIVE_OK) {
				if (off < 0) {
					damaged(&r, e, "it holds data at a negative offset");
					goto out;
				}
				if (sz == 0)
					continue;
				void *hold = r.zp != NULL ? kpy_zpar_hold(r.zp, blk, sz) : NULL;
				if (kpy_xt_data(xt, blk, sz, (uint64_t)off, hold) < 0)
					goto failed;
			}
			if (rc != ARCHIVE_EOF) {
				read_failed(&r, e);
				goto out;
			}
			if (kpy_xt_file_end(xt) < 0)
				goto failed;
		}
	}
	if (rc != ARCHIVE_EOF) {
		read_failed(&r, e);
		goto out;
	}
	if (r.zp != NULL ? kpy_zpar_drain(r.a, r.zp) < 0 : kpy_zr_drain(r.a, &r.zr) < 0) {
		read_failed(&r, e);
		goto out;
	}
	if (kpy_xt_wait(xt) < 0)
		goto failed;
	if (!seen_reloc) {
		damaged(&r, e, "it ends before its last entry (truncated)");
		goto out;
	}
	if (files != m.files) {
		char count[128];
		snprintf(count, sizeof(count), "its manifest counts %lld entries but it holds %lld", m.files, files);
		damaged(&r, e, count);
		goto out;
	}

	struct kpy_reloc rl = {
		.old_prefix = m.prefix, .new_prefix = dest,
		.old_prompt = m.prompt, .new_prompt = prompt,
	};
	if (relocate_list(tmp, reloc, &rl, &r, e) < 0)
		goto out;
	if (prompt != NULL && m.prompt != NULL && strcmp(prompt, m.prompt) != 0) {
		/* the names kpy_is_activate knows (virtualenv writes activate.ps1, venv Activate.ps1) */
		static const char *const acts[] = { "bin/activate", "bin/activate.csh",
			"bin/activate.fish", "bin/activate.nu", "bin/activate.ps1", "bin/Activate.ps1",
			"bin/activate.bat", NULL };
		struct kpy_reloc pr = { .old_prefix = dest, .new_prefix = dest,
			.old_prompt = m.prompt, .new_prompt = prompt };
		for (int i = 0; acts[i]; i++) {
			if (kpy_pathf(full, sizeof(full), e, "%s/%s", tmp, acts[i]) < 0)
				goto out;
			if (lstat(full, &st) == 0 && kpy_relocate_file(tmp, acts[i], &pr, e) < 0)
				goto out;
		}
	}
	if (strcmp(m.kind, KPY_KIND_VENV) == 0 && (prompt != NULL || m.prompt != NULL) &&
	    kpy_venv_set_cfg_prompt(tmp, prompt != NULL ? prompt : m.prompt, e) < 0)
		goto out;
	if (strcmp(m.kind, KPY_KIND_VENV) == 0 && kpy_venv_check_python(tmp, dest, &m, archive, e) < 0)
		goto out;
	/* the directories' modes and mtimes last, when nothing more is written in them */
	if (kpy_xt_fixup(xt) < 0)
		goto failed;
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, dest, RENAME_NOREPLACE) < 0) {
		if (errno == EEXIST || errno == ENOTEMPTY)
			kpy_err_set(e, KPY_ETAKEN, "%s was created by someone else meanwhile", dest);
		else
			kpy_err_sys(e, errno, "cannot move the restored env to %s", dest);
		goto out;
	}
	have_tmp = 0;
	rv = 0;
	goto out;
failed:
	xt_failed(xt, &r, dest, e);
out:
	/* the writers first: they may hold frames of the reader */
	kpy_xt_free(xt);
	if (tmpfd >= 0)
		close(tmpfd);
	reader_close(&r);
	if (have_tmp) {
		struct kpy_err ignore = KPY_ERR_INIT;
		kpy_rmtree(tmp, &ignore);
	}
	if (lockfd >= 0)
		close(lockfd);
	free(reloc);
	if (rv == 0 && mout != NULL)
		*mout = m;
	else
		kpy_manifest_free(&m);
	return rv;
}
