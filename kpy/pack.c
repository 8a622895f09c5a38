/* pack.c: saving an environment as one .tar.zst (kpy_archive_save). */
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
#include "progress.h"
#include "threads.h"
#include "walk.h"
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

volatile sig_atomic_t kpy_interrupted;

#define WHOLE_FILE_MAX (8u << 20) /* files up to this size are read in one go */
/* zstd frames of at most this much tar (the writer splits bigger files); a frame ends
 * after the first entry that brings it to half of it */
#define KPY_SAVE_FRAME KPY_ZS_FRAME_DEFAULT

struct saver {
	struct archive *a;
	struct kpy_zs_writer *zs; /* the seekable zstd writer under A */
	size_t frame_min;        /* a frame ends after the entry that brings it to this */
	struct kpy_progress *progress;
	const char *src;
	const char *prefix;
	struct kpy_reloc prompt; /* old -> new prompt for activate scripts */
	char *buf;
	size_t bufsize;
	char **mention;          /* files that mention the prefix */
	size_t nmention, capmention;
	const char *dest;        /* the archive being replaced, for messages */
	struct kpy_err *e;
	int venv;                /* a venv: scan for the prefix, rewrite the prompt */
};

/* Writing the archive failed: say which (a full disk gets KPY_ENOSPC from errno). */
static int write_error(struct saver *s)
{
	int err = archive_errno(s->a) > 0 ? archive_errno(s->a) : EIO;

	if (err == ENOSPC || err == EDQUOT)
		return kpy_err_sys(s->e, err, "cannot write the new archive beside %s, which was not changed",
				   s->dest);
	return kpy_err_sys(s->e, err, "cannot write the archive beside %s (%s)", s->dest,
			   archive_error_string(s->a) ? archive_error_string(s->a) : "write failed");
}

/* After an entry: end the zstd frame there once it holds enough to compress well, so
 * frames start at entries (a file larger than a frame is split by the writer). */
static int entry_done(struct saver *s)
{
	struct kpy_err ze = KPY_ERR_INIT;

	if (archive_write_finish_entry(s->a) != ARCHIVE_OK)
		return write_error(s);
	if (kpy_zs_pending(s->zs) >= s->frame_min && kpy_zs_end_frame(s->zs, &ze) < 0) {
		if (ze.code == KPY_ENOSPC)
			return kpy_err_sys(s->e, ENOSPC, "cannot write the new archive beside %s, which was not changed",
					   s->dest);
		return kpy_err_set(s->e, ze.code, "cannot write the archive beside %s (%s)", s->dest, ze.msg);
	}
	return 0;
}

static int add_mem(struct saver *s, const char *rel, const char *data, size_t len, time_t mtime)
{
	struct archive_entry *ae = archive_entry_new();
	int rv = -1;

	if (ae == NULL)
		return kpy_err_set(s->e, KPY_EFAIL, "out of memory");
	archive_entry_set_pathname(ae, rel);
	archive_entry_set_filetype(ae, AE_IFREG);
	archive_entry_set_perm(ae, 0644);
	archive_entry_set_size(ae, (la_int64_t)len);
	archive_entry_set_mtime(ae, mtime, 0);
	if (archive_write_header(s->a, ae) != ARCHIVE_OK ||
	    (len > 0 && archive_write_data(s->a, data, len) != (la_ssize_t)len)) {
		write_error(s);
		goto out;
	}
	rv = entry_done(s);
out:
	archive_entry_free(ae);
	return rv;
}

static int note_mention(struct saver *s, const char *rel)
{
	char **n = kpy_grow(s->mention, &s->capmention, s->nmention, sizeof(*n), 64);

	if (n == NULL)
		return kpy_err_set(s->e, KPY_EFAIL, "out of memory");
	s->mention = n;
	if ((s->mention[s->nmention] = strdup(rel)) == NULL)
		return kpy_err_set(s->e, KPY_EFAIL, "out of memory");
	s->nmention++;
	return 0;
}


static int write_data(struct saver *s, const char *p, size_t n)
{
	if (archive_write_data(s->a, p, n) != (la_ssize_t)n)
		return write_error(s);
	return 0;
}

/* A regular file: stream it, noting whether it is text that mentions the prefix. */
static int add_file(struct saver *s, const struct kpy_walk_ent *x, struct archive_entry *ae)
{
	char path[PATH_MAX];
	size_t size = (size_t)x->st.st_size, plen = strlen(s->prefix);
	int fd, rv = -1, has_nul = 0, mentions = 0;
	char edge[2 * PATH_MAX + 4];
	size_t edgelen = 0;

	if (kpy_pathf(path, sizeof(path), s->e, "%s/%s", s->src, x->rel) < 0)
		return -1;
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return kpy_err_sys(s->e, errno, "cannot read %s", path);
	if (size <= WHOLE_FILE_MAX) {
		char *out = NULL;
		size_t outlen = 0;
		ssize_t n = kpy_read_full(fd, s->buf, size);
		if (n != (ssize_t)size) {
			kpy_err_set(s->e, KPY_EBUSY, "%s changed while it was being saved", path);
			goto out;
		}
		has_nul = !s->venv || memchr(s->buf, '\0', size) != NULL;
		mentions = !has_nul && kpy_find_prefix(s->buf, size, s->prefix) >= 0;
		if (s->venv && kpy_is_activate(x->rel) &&
		    kpy_relocate_buf(x->rel, s->buf, size, &s->prompt, &out, &outlen) > 0) {
			archive_entry_set_size(ae, (la_int64_t)outlen);
		}
		if (archive_write_header(s->a, ae) != ARCHIVE_OK) {
			write_error(s);
			free(out);
			goto out;
		}
		rv = write_data(s, out ? out : s->buf, out ? outlen : size);
		free(out);
		if (rv < 0)
			goto out;
		rv = -1;
		kpy_progress_add(s->progress, size, 0);
	} else {
		size_t left = size;
		has_nul = !s->venv; /* only a venv's text is relocated */
		if (archive_write_header(s->a, ae) != ARCHIVE_OK) {
			write_error(s);
			goto out;
		}
		while (left > 0) {
			size_t want = left < s->bufsize ? left : s->bufsize;
			ssize_t n = kpy_read_full(fd, s->buf, want);
			if (n != (ssize_t)want) {
				kpy_err_set(s->e, KPY_EBUSY, "%s changed while it was being saved", path);
				goto out;
			}
			if (!has_nul && memchr(s->buf, '\0', want))
				has_nul = 1;
			if (!has_nul && !mentions) {
				/* the seam between chunks, then the chunk itself */
				size_t k = want < plen + 1 ? want : plen + 1;
				if (edgelen > 0) {
					memcpy(edge + edgelen, s->buf, k);
					mentions = kpy_find_prefix(edge, edgelen + k, s->prefix) >= 0;
				}
				mentions = mentions || kpy_find_prefix(s->buf, want, s->prefix) >= 0;
				edgelen = want < plen + 1 ? want : plen + 1;
				memcpy(edge, s->buf + want - edgelen, edgelen);
			}
			if (write_data(s, s->buf, want) < 0)
				goto out;
			left -= want;
			kpy_progress_add(s->progress, want, 0);
		}
	}
	if (mentions && !has_nul && note_mention(s, x->rel) < 0)
		goto out;
	rv = 0;
out:
	close(fd);
	return rv;
}

static int add_entry(struct saver *s, const struct kpy_walk_ent *x)
{
	struct archive_entry *ae = archive_entry_new();
	char target[PATH_MAX], path[PATH_MAX];
	int rv = -1;

	if (ae == NULL)
		return kpy_err_set(s->e, KPY_EFAIL, "out of memory");
	archive_entry_set_pathname(ae, x->rel);
	archive_entry_copy_stat(ae, &x->st);
	archive_entry_set_nlink(ae, 1);
	if (x->link != NULL) {
		/* a uv cache's hard links come back as links (uv links wheels into venvs) */
		archive_entry_set_hardlink(ae, x->link);
		archive_entry_set_size(ae, 0);
	} else if (S_ISREG(x->st.st_mode)) {
		/* a venv's hard links are stored as separate files */
		if ((rv = add_file(s, x, ae)) == 0)
			rv = entry_done(s);
		kpy_progress_add(s->progress, 0, 1);
		goto out;
	} else if (S_ISLNK(x->st.st_mode)) {
		if (kpy_pathf(path, sizeof(path), s->e, "%s/%s", s->src, x->rel) < 0)
			goto out;
		ssize_t n = readlink(path, target, sizeof(target) - 1);
		if (n < 0) {
			kpy_err_sys(s->e, errno, "cannot read the link %s", path);
			goto out;
		}
		target[n] = '\0';
		archive_entry_set_symlink(ae, target);
		archive_entry_set_size(ae, 0);
	} else if (S_ISDIR(x->st.st_mode)) {
		archive_entry_set_size(ae, 0);
	} else {
		rv = 0; /* sockets, fifos and devices have no place in an env */
		goto out;
	}
	if (archive_write_header(s->a, ae) != ARCHIVE_OK) {
		write_error(s);
		goto out;
	}
	rv = entry_done(s);
	kpy_progress_add(s->progress, 0, 1);
out:
	archive_entry_free(ae);
	return rv;
}


static char *join_lines(char **v, size_t n, size_t *len)
{
	size_t total = 0;
	char *out;

	for (size_t i = 0; i < n; i++)
		total += strlen(v[i]) + 1;
	if ((out = malloc(total + 1)) == NULL)
		return NULL;
	*len = 0;
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(v[i]);
		memcpy(out + *len, v[i], l);
		*len += l;
		out[(*len)++] = '\n';
	}
	out[*len] = '\0';
	return out;
}




int kpy_archive_save(const char *src_in, const char *dest, const struct kpy_save_opts *o,
		     struct kpy_err *warn, struct kpy_err *e)
{
	struct kpy_manifest m = { 0 };
	struct saver s = { 0 };
	struct kpy_walk w = { 0 };
	struct kpy_tmpfile tf = { .fd = -1, .tmp = "" };
	char src[PATH_MAX], cfgpath[PATH_MAX], meta[PATH_MAX];
	char *cfg = NULL, *mtext = NULL, *pkgs = NULL, *reloc = NULL, *old_prompt = NULL;
	size_t mlen, plen, rlen;
	int fd = -1, rv = -1, rootfd, threads;
	const char *kind = o->kind ? o->kind : KPY_KIND_VENV;
	int venv = strcmp(kind, KPY_KIND_VENV) == 0;
	const char *why;
	struct stat st;

	if (o->result != NULL)
		memset(o->result, 0, sizeof(*o->result));
	/* the prefix is the path as the env knows itself: absolute, without trailing '/' */
	if (src_in[0] != '/' || strlen(src_in) >= sizeof(src) || strchr(src_in, '\n'))
		return kpy_err_set(e, KPY_EINVAL, "cannot save '%s': give an absolute path", src_in);
	strcpy(src, src_in);
	for (size_t n = strlen(src); n > 1 && src[n - 1] == '/'; n--)
		src[n - 1] = '\0';
	if ((why = kpy_bad_prefix(src, 1)) != NULL)
		return kpy_err_set(e, KPY_EINVAL, "cannot save %s: %s; rename the env's directory", src, why);
	if (stat(src, &st) < 0)
		return kpy_err_sys(e, errno, "cannot save %s", src);
	if (!S_ISDIR(st.st_mode))
		return kpy_err_set(e, KPY_EINVAL, "cannot save %s: not a directory", src);
	if (kpy_pathf(cfgpath, sizeof(cfgpath), e, "%s/pyvenv.cfg", src) < 0)
		goto out;
	cfg = kpy_slurp(cfgpath, 1 << 16);
	if (venv && cfg == NULL) {
		kpy_err_set(e, KPY_ENOTVENV, "%s is not a virtual environment (no pyvenv.cfg)", src);
		goto out;
	}
	if (!o->force && access(dest, F_OK) == 0) {
		kpy_err_set(e, KPY_EEXIST, "%s already exists", dest);
		goto out;
	}

	m.format = 1;
	m.kind = (char *)kind;
	m.name = (char *)o->name;
	m.prefix = src;
	m.saved = (long long)time(NULL);
	m.kpy_version = (char *)PACKAGE_VERSION;
	m.script = (char *)o->script;
	m.requires = (char *)o->requires;
	if (venv) {
		/* the archived activate scripts carry the saved name as their prompt */
		old_prompt = kpy_venv_prompt(src, cfg);
		m.prompt = (char *)o->name;
		m.python_version = kpy_kv_get(cfg, "version");
		if (m.python_version == NULL)
			m.python_version = kpy_kv_get(cfg, "version_info");
		m.base_python = kpy_venv_base_python(src, cfg);
	}
	s.prompt.old_prefix = s.prompt.new_prefix = src;
	s.prompt.old_prompt = old_prompt;
	s.prompt.new_prompt = o->name;

	if ((rootfd = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		kpy_err_sys(e, errno, "cannot read %s", src);
		goto out;
	}
	if (kpy_walk_dir(&w, rootfd, "", src, e) < 0 || (!venv && kpy_walk_links(&w, e) < 0))
		goto out;
	for (size_t i = 0; i < w.n; i++) {
		mode_t t = w.v[i].st.st_mode;
		if (S_ISREG(t) || S_ISDIR(t) || S_ISLNK(t))
			m.files++; /* sockets, fifos and devices are not archived */
		if (S_ISREG(t) && w.v[i].link == NULL)
			m.bytes += w.v[i].st.st_size;
	}
	if ((mtext = kpy_manifest_format(&m, &mlen)) == NULL ||
	    (pkgs = kpy_package_list(&w, &plen)) == NULL) {
		kpy_err_set(e, KPY_EFAIL, "out of memory");
		goto out;
	}

	{ /* hidden: ".NAME.tar.zst.HOST-PID-XXXXXX" beside DEST */
		const char *slash = strrchr(dest, '/');
		if (slash == NULL || slash == dest) {
			kpy_err_set(e, KPY_EINVAL, "bad archive path %s", dest);
			goto out;
		}
		if (kpy_pathf(meta, sizeof(meta), e, "%.*s", (int)(slash - dest), dest) < 0)
			goto out;
		kpy_temp_sweep(meta, ".tar.zst" KPY_TEMP_MARK, 0);
	}
	if (kpy_tmpfile_open(&tf, AT_FDCWD, dest, 0666, e) < 0)
		goto out;
	fd = tf.fd;

	s.src = src;
	s.venv = venv;
	s.prefix = src;
	s.e = e;
	s.dest = dest;
	s.bufsize = WHOLE_FILE_MAX;
	if ((s.buf = malloc(s.bufsize)) == NULL || (s.a = archive_write_new()) == NULL) {
		kpy_err_set(e, KPY_EFAIL, "out of memory");
		goto out;
	}
	archive_write_set_format_pax_restricted(s.a);
	threads = o->threads > 0 ? o->threads : kpy_threads_pick(0, 0, NULL, NULL);
	if (kpy_zs_open(fd, o->level > 0 ? o->level : 3, threads, KPY_SAVE_FRAME, &s.zs, e) < 0 ||
	    kpy_zs_archive_open(s.a, s.zs, e) < 0)
		goto out;
	s.frame_min = KPY_SAVE_FRAME / 2;
	s.progress = o->progress;
	kpy_progress_totals(o->progress, (uint64_t)m.bytes, (uint64_t)m.files);
	if (add_mem(&s, KPY_MANIFEST_PATH, mtext, mlen, (time_t)m.saved) < 0 ||
	    add_mem(&s, KPY_PACKAGES_PATH, pkgs, plen, (time_t)m.saved) < 0)
		goto out;
	for (size_t i = 0; i < w.n; i++) {
		if (kpy_interrupted) {
			kpy_err_set(e, KPY_EFAIL, "interrupted: %s was not changed", dest);
			goto out;
		}
		if (add_entry(&s, &w.v[i]) < 0)
			goto out;
	}
	if ((reloc = join_lines(s.mention, s.nmention, &rlen)) == NULL) {
		kpy_err_set(e, KPY_EFAIL, "out of memory");
		goto out;
	}
	if (add_mem(&s, KPY_RELOCATE_PATH, reloc, rlen, (time_t)m.saved) < 0)
		goto out;
	{
		/* libarchive ignores what the close callback (kpy_zs_finish: the last frames
		 * and the seek table) returns: ask the writer itself */
		struct kpy_err ze = KPY_ERR_INIT;
		int closed = archive_write_close(s.a);
		if (kpy_zs_finish(s.zs, &ze) < 0 || closed != ARCHIVE_OK) {
			if (ze.code == KPY_ENOSPC) /* the same words as write_error's */
				kpy_err_sys(e, ENOSPC, "cannot write the new archive beside %s, which was not changed",
					    dest);
			else if (ze.code != KPY_OK)
				kpy_err_set(e, ze.code, "cannot write the archive beside %s (%s)", dest, ze.msg);
			else
				write_error(&s);
			goto out;
		}
		if (o->result != NULL) {
			/* the manifest as the archive holds it, read back from its text */
			if (kpy_manifest_parse(mtext, mlen, &o->result->manifest, e) < 0)
				goto out;
			kpy_zs_stats(s.zs, &o->result->frames, NULL, &o->result->size);
		}
	}
	/* without force, an archive saved meanwhile by someone else is not replaced */
	if (kpy_tmpfile_publish(&tf, KPY_PUBLISH_SYNC | (o->force ? 0 : KPY_PUBLISH_NOREPLACE), e) < 0)
		goto out;

	/* the live env: new prompt, and the manifest that the shell's prompt reads;
	 * the archive is good whatever happens here, so failures are only a warning */
	if (venv) {
		for (size_t i = 0; i < w.n; i++)
			if (S_ISREG(w.v[i].st.st_mode) && kpy_is_activate(w.v[i].rel))
				kpy_relocate_file(src, w.v[i].rel, &s.prompt, warn);
		if (kpy_pathf(meta, sizeof(meta), warn, "%s/.kpy", src) < 0) {
			/* named in WARN */
		} else if (mkdir(meta, 0755) < 0 && errno != EEXIST)
			kpy_err_sys(warn, errno, "cannot create %s", meta);
		else if (kpy_put_file_at(meta, KPY_MANIFEST_PATH + 5, mtext, mlen, warn) == 0 &&
			 kpy_put_file_at(meta, KPY_PACKAGES_PATH + 5, pkgs, plen, warn) == 0) {
			char old[PATH_MAX];
			/* one manifest in the env: not also one of the next name */
			if (kpy_pathf(old, sizeof(old), NULL, "%s/%s", src, KPY_MANIFEST_NEXT_PATH) == 0)
				unlink(old);
			kpy_venv_set_cfg_prompt(src, o->name, warn);
		}
	}
	rv = 0;
out:
	if (rv < 0 && o->result != NULL)
		kpy_manifest_free(&o->result->manifest);
	if (s.a != NULL)
		archive_write_free(s.a); /* before the writer under it */
	kpy_zs_free(s.zs);
	kpy_tmpfile_discard(&tf); /* nothing left to do once published */
	for (size_t i = 0; i < s.nmention; i++)
		free(s.mention[i]);
	free(s.mention);
	free(s.buf);
	kpy_walk_free(&w);
	free(mtext);
	free(pkgs);
	free(reloc);
	free(cfg);
	free(old_prompt);
	free(m.python_version);
	free(m.base_python);
	return rv;
}
