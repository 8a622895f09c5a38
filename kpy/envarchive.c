/* envarchive.c: saving an environment as one .tar.zst and restoring it somewhere else. */
#include "autoconfig.h"
#include "envarchive.h"
#include "buf.h"
#include "fdio.h"
#include "kv.h"
#include "publish.h"
#include "relocate.h"
#include "tree.h"
#include "zio.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
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
#define LIST_MAX (64u << 20)      /* bound on .kpy/ metadata read into memory */

/* ---------- walking the source tree ---------- */

struct ent {
	char *rel;
	struct stat st;
	const char *link; /* an earlier entry this one is a hard link of (uv caches), or NULL */
};

struct walk {
	struct ent *v;
	size_t n, cap;
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Append every entry below the directory FD (path REL, "" for the root), sorted. */
static int walk_dir(struct walk *w, int fd, const char *rel, const char *root,
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
		struct ent *x;
		struct ent *nv = kpy_grow(w->v, &w->cap, w->n, sizeof(*nv), 256);
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
			if (walk_dir(w, sub, w->v[w->n - 1].rel, root, e) < 0)
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
static const struct walk *link_walk;
static int cmp_inode(const void *a, const void *b)
{
	const struct ent *x = &link_walk->v[*(const size_t *)a], *y = &link_walk->v[*(const size_t *)b];

	if (x->st.st_dev != y->st.st_dev)
		return x->st.st_dev < y->st.st_dev ? -1 : 1;
	if (x->st.st_ino != y->st.st_ino)
		return x->st.st_ino < y->st.st_ino ? -1 : 1;
	return x < y ? -1 : x > y;
}

/* Point each regular file that is a hard link of an earlier one in the walk at it
 * (ent.link), so that it is archived as a link to the first. */
static int walk_links(struct walk *w, struct kpy_err *e)
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
		struct ent *first = &w->v[ix[k - 1]], *x = &w->v[ix[k]];
		if (x->st.st_dev == first->st.st_dev && x->st.st_ino == first->st.st_ino)
			x->link = first->link != NULL ? first->link : first->rel;
	}
	free(ix);
	return 0;
}

static void walk_free(struct walk *w)
{
	for (size_t i = 0; i < w->n; i++)
		free(w->v[i].rel);
	free(w->v);
}

/* ---------- facts about the venv ---------- */


/* The first MAX bytes of PATH, NUL-terminated and malloc'd, or NULL. */
static char *slurp(const char *path, size_t max)
{
	char *text;

	return kpy_read_file(path, max, 0, &text, NULL, NULL, NULL) < 0 ? NULL : text;
}

/* The prompt name in SRC/bin/activate ("(NAME) " or NAME), else pyvenv.cfg's, else
 * the directory's name. */
static char *venv_prompt(const char *src, const char *cfg)
{
	char path[PATH_MAX], *act, *out = NULL;

	struct kpy_err ignore = KPY_ERR_INIT;

	if (kpy_pathf(path, sizeof(path), &ignore, "%s/bin/activate", src) == 0 &&
	    (act = slurp(path, 1 << 20)) != NULL) {
		const char *p = strstr(act, "VIRTUAL_ENV_PROMPT=");
		if (p != NULL) {
			p += strlen("VIRTUAL_ENV_PROMPT=");
			size_t n = strcspn(p, "\n");
			if (n > 0 && (*p == '"' || *p == '\'') && p[n - 1] == *p)
				p++, n -= 2;
			if (n > 1 && *p == '(') {
				const char *c = memchr(p, ')', n);
				if (c != NULL)
					n = (size_t)(c - p - 1), p++;
			}
			if (n > 0 && n < 256 && !memchr(p, '$', n))
				out = strndup(p, n);
		}
		free(act);
	}
	if (out == NULL && cfg != NULL && (out = kpy_kv_get(cfg, "prompt")) != NULL) {
		size_t n = strlen(out);
		if (n >= 2 && (out[0] == '\'' || out[0] == '"') && out[n - 1] == out[0]) {
			memmove(out, out + 1, n - 2);
			out[n - 2] = '\0';
		}
	}
	if (out == NULL) {
		const char *b = strrchr(src, '/');
		out = strdup(b ? b + 1 : src);
	}
	return out;
}

/* What bin/python finally runs, outside the env. */
static char *venv_base_python(const char *src, const char *cfg)
{
	char path[PATH_MAX], real[PATH_MAX];
	size_t sl = strlen(src);

	struct kpy_err ignore = KPY_ERR_INIT;

	if (kpy_pathf(path, sizeof(path), &ignore, "%s/bin/python", src) == 0 &&
	    realpath(path, real) != NULL && !(strncmp(real, src, sl) == 0 && real[sl] == '/'))
		return strdup(real);
	return cfg ? kpy_kv_get(cfg, "executable") : NULL;
}

/* Why PATH cannot be an env's prefix, or NULL: the manifest keeps values unquoted
 * (no control bytes, no blank at the end), and the activate scripts quote the path
 * in single quotes (no '). */
static const char *bad_prefix(const char *path, int quote_ok)
{
	size_t n = strlen(path);

	for (const char *p = path; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return "it holds a control character (a newline?)";
	if (n > 0 && (path[n - 1] == ' ' || path[n - 1] == '\t'))
		return "it ends in a blank";
	if (!quote_ok && strchr(path, '\'') != NULL)
		return "a quote (') in it would break the env's activate scripts";
	return NULL;
}

/* ---------- writing ---------- */

struct saver {
	struct archive *a;
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
	rv = 0;
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
static int add_file(struct saver *s, const struct ent *x, struct archive_entry *ae)
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
		}
	}
	if (mentions && !has_nul && note_mention(s, x->rel) < 0)
		goto out;
	rv = 0;
out:
	close(fd);
	return rv;
}

static int add_entry(struct saver *s, const struct ent *x)
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
		rv = add_file(s, x, ae);
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
	rv = 0;
out:
	archive_entry_free(ae);
	return rv;
}

/* "X.dist-info" names under lib/python* /site-packages, one a line, sorted. */
static char *package_list(const struct walk *w, size_t *len)
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

/* Write NAME in the directory DIR atomically with DATA. */
static int put_file_at(const char *dir, const char *name, const char *data, size_t len,
		       struct kpy_err *e)
{
	char path[PATH_MAX];

	if (kpy_pathf(path, sizeof(path), e, "%s/%s", dir, name) < 0)
		return -1;
	return kpy_write_file(AT_FDCWD, path, data, len, 0644, KPY_PUBLISH_KEEPMODE, e);
}

/* venv's Activate.ps1 takes the prompt from pyvenv.cfg: make its "prompt = ..." line
 * (if it has one) name PROMPT, as the other activate scripts do. A name is letters,
 * digits, '.', '_' and '-', so it needs no escaping inside the quotes. */
static int set_cfg_prompt(const char *root, const char *prompt, struct kpy_err *e)
{
	char path[PATH_MAX], *cfg, *out = NULL;
	struct kpy_kv kv;
	size_t pos = 0, len;
	int rv = 0, r;

	if (kpy_pathf(path, sizeof(path), e, "%s/pyvenv.cfg", root) < 0)
		return -1;
	if ((cfg = slurp(path, 1 << 16)) == NULL)
		return 0;
	len = strlen(cfg);
	while ((r = kpy_kv_next(cfg, len, &pos, &kv)) != 0) {
		if (r < 0 || !kpy_kv_is(&kv, "prompt"))
			continue;
		/* the line, up to its own end of line, becomes prompt = 'PROMPT' */
		const char *line = cfg + kv.start, *rest = line + strcspn(line, "\n");
		if (rest > line && rest[-1] == '\r')
			rest--;
		if (asprintf(&out, "%.*sprompt = '%s'%s", (int)kv.start, cfg, prompt, rest) < 0)
			rv = kpy_err_set(e, KPY_EFAIL, "out of memory");
		else if (strcmp(out, cfg) != 0)
			rv = put_file_at(root, "pyvenv.cfg", out, strlen(out), e);
		break;
	}
	free(out);
	free(cfg);
	return rv;
}

static mode_t current_umask(void)
{
	mode_t m = umask(022);
	umask(m);
	return m;
}

int kpy_archive_save(const char *src_in, const char *dest, const struct kpy_save_opts *o,
		     struct kpy_err *warn, struct kpy_err *e)
{
	struct kpy_manifest m = { 0 };
	struct kpy_zw *zw = NULL;
	struct saver s = { 0 };
	struct walk w = { 0 };
	struct kpy_tmpfile tf = { .fd = -1, .tmp = "" };
	char src[PATH_MAX], cfgpath[PATH_MAX], meta[PATH_MAX];
	char *cfg = NULL, *mtext = NULL, *pkgs = NULL, *reloc = NULL, *old_prompt = NULL;
	size_t mlen, plen, rlen;
	int fd = -1, rv = -1, rootfd;
	const char *kind = o->kind ? o->kind : KPY_KIND_VENV;
	int venv = strcmp(kind, KPY_KIND_VENV) == 0;
	const char *why;
	struct stat st;

	/* the prefix is the path as the env knows itself: absolute, without trailing '/' */
	if (src_in[0] != '/' || strlen(src_in) >= sizeof(src) || strchr(src_in, '\n'))
		return kpy_err_set(e, KPY_EINVAL, "cannot save '%s': give an absolute path", src_in);
	strcpy(src, src_in);
	for (size_t n = strlen(src); n > 1 && src[n - 1] == '/'; n--)
		src[n - 1] = '\0';
	if ((why = bad_prefix(src, 1)) != NULL)
		return kpy_err_set(e, KPY_EINVAL, "cannot save %s: %s; rename the env's directory", src, why);
	if (stat(src, &st) < 0)
		return kpy_err_sys(e, errno, "cannot save %s", src);
	if (!S_ISDIR(st.st_mode))
		return kpy_err_set(e, KPY_EINVAL, "cannot save %s: not a directory", src);
	if (kpy_pathf(cfgpath, sizeof(cfgpath), e, "%s/pyvenv.cfg", src) < 0)
		goto out;
	cfg = slurp(cfgpath, 1 << 16);
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
		old_prompt = venv_prompt(src, cfg);
		m.prompt = (char *)o->name;
		m.python_version = kpy_kv_get(cfg, "version");
		if (m.python_version == NULL)
			m.python_version = kpy_kv_get(cfg, "version_info");
		m.base_python = venv_base_python(src, cfg);
	}
	s.prompt.old_prefix = s.prompt.new_prefix = src;
	s.prompt.old_prompt = old_prompt;
	s.prompt.new_prompt = o->name;

	if ((rootfd = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		kpy_err_sys(e, errno, "cannot read %s", src);
		goto out;
	}
	if (walk_dir(&w, rootfd, "", src, e) < 0 || (!venv && walk_links(&w, e) < 0))
		goto out;
	for (size_t i = 0; i < w.n; i++) {
		mode_t t = w.v[i].st.st_mode;
		if (S_ISREG(t) || S_ISDIR(t) || S_ISLNK(t))
			m.files++; /* sockets, fifos and devices are not archived */
		if (S_ISREG(t) && w.v[i].link == NULL)
			m.bytes += w.v[i].st.st_size;
	}
	if ((mtext = kpy_manifest_format(&m, &mlen)) == NULL ||
	    (pkgs = package_list(&w, &plen)) == NULL) {
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
	archive_write_set_bytes_per_block(s.a, 0);
	if (kpy_zw_open(s.a, fd, o->level > 0 ? o->level : 3,
			o->threads > 0 ? o->threads : (int)sysconf(_SC_NPROCESSORS_ONLN), &zw, e) < 0)
		goto out;
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
		if (kpy_zw_failed(zw))
			break; /* a full disk: kpy_zw_close below says so */
	}
	if ((reloc = join_lines(s.mention, s.nmention, &rlen)) == NULL) {
		kpy_err_set(e, KPY_EFAIL, "out of memory");
		goto out;
	}
	if (add_mem(&s, KPY_RELOCATE_PATH, reloc, rlen, (time_t)m.saved) < 0)
		goto out;
	{
		struct kpy_err ze = KPY_ERR_INIT;
		if (kpy_zw_close(s.a, zw, tf.tmp, &ze) < 0) {
			if (ze.code == KPY_ENOSPC) /* the same words as write_error's */
				kpy_err_sys(e, ENOSPC, "cannot write the new archive beside %s, which was not changed",
					    dest);
			else
				kpy_err_set(e, ze.code, "%s", ze.msg);
			goto out;
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
		else if (put_file_at(meta, KPY_MANIFEST_PATH + 5, mtext, mlen, warn) == 0 &&
			 put_file_at(meta, KPY_PACKAGES_PATH + 5, pkgs, plen, warn) == 0) {
			char old[PATH_MAX];
			/* one manifest in the env: not also one of the next name */
			if (kpy_pathf(old, sizeof(old), NULL, "%s/%s", src, KPY_MANIFEST_NEXT_PATH) == 0)
				unlink(old);
			set_cfg_prompt(src, o->name, warn);
		}
	}
	rv = 0;
out:
	if (s.a != NULL)
		archive_write_free(s.a);
	kpy_tmpfile_discard(&tf); /* nothing left to do once published */
	for (size_t i = 0; i < s.nmention; i++)
		free(s.mention[i]);
	free(s.mention);
	free(s.buf);
	walk_free(&w);
	free(mtext);
	free(pkgs);
	free(reloc);
	free(cfg);
	free(old_prompt);
	free(m.python_version);
	free(m.base_python);
	return rv;
}

/* ---------- reading ---------- */

struct reader {
	struct archive *a;
	struct kpy_zr zr;
	int fd;
	const char *path;
};

static int damaged(struct reader *r, struct kpy_err *e, const char *why)
{
	return kpy_err_set(e, KPY_EDAMAGED,
			   "archive %s is damaged (%s)",
			   r->path, why);
}

/* A write into the target failed: say so, and what to do when the disk is full.
 * Without an errno it was libarchive's own check of the entry: the archive is bad. */
static int write_failed(struct archive *aw, struct reader *r, const char *dest,
			struct kpy_err *e)
{
	int err = archive_errno(aw);

	if (err <= 0)
		return damaged(r, e, archive_error_string(aw) ? archive_error_string(aw) : "an entry cannot be written");
	if (err == ENOSPC || err == EDQUOT)
		return kpy_err_sys(e, err, "cannot restore %s into %s", r->path, dest);
	return kpy_err_sys(e, err, "cannot restore %s into %s", r->path, dest);
}

/* Say why reading failed: corrupt zstd data, a truncated tar, or an I/O error. */
static int read_failed(struct reader *r, struct kpy_err *e)
{
	const char *msg = archive_error_string(r->a);
	if (r->zr.damaged)
		return damaged(r, e, r->zr.why);
	int err = archive_errno(r->a);
	if (err == ENOMEM || err == EACCES || err == EPERM || err == EISDIR)
		return kpy_err_sys(e, err, "cannot read archive %s", r->path);
	return damaged(r, e, msg ? msg : "unreadable tar data");
}

static int reader_open(struct reader *r, const char *path, struct kpy_err *e)
{
	memset(r, 0, sizeof(*r));
	r->path = path;
	if ((r->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		if (errno == ENOENT)
			return kpy_err_set(e, KPY_ENOENT, "archive %s does not exist", path);
		return kpy_err_sys(e, errno, "cannot open archive %s", path);
	}
	if ((r->a = archive_read_new()) == NULL) {
		close(r->fd);
		return kpy_err_set(e, KPY_EFAIL, "out of memory");
	}
	archive_read_support_format_tar(r->a);
	if (kpy_zr_open(r->a, &r->zr, r->fd, e) < 0) {
		archive_read_free(r->a);
		kpy_zr_close(&r->zr);
		close(r->fd);
		if (e->code == KPY_EDAMAGED) {
			kpy_err_clear(e);
			return damaged(r, e, r->zr.why[0] ? r->zr.why : "not a zstd-compressed tar");
		}
		return -1;
	}
	return 0;
}

static void reader_close(struct reader *r)
{
	if (r->a != NULL)
		archive_read_free(r->a);
	kpy_zr_close(&r->zr);
	if (r->fd >= 0)
		close(r->fd);
	r->a = NULL;
	r->fd = -1;
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

	if (reader_open(&r, archive, e) < 0)
		return -1;
	rv = read_manifest(&r, m, e);
	reader_close(&r);
	return rv;
}

/* ---------- restoring ---------- */

/* A safe relative entry name, normalised (no leading "./"); NULL if hostile. */
static const char *safe_name(const char *name)
{
	if (name == NULL)
		return NULL;
	while (name[0] == '.' && name[1] == '/')
		name += 2;
	if (name[0] == '\0' || name[0] == '/')
		return NULL;
	for (const char *p = name; *p; ) {
		size_t n = strcspn(p, "/");
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return NULL;
		p += n;
		while (*p == '/')
			p++;
	}
	return name;
}

static int missing_python(const char *archive, const char *python,
			  const struct kpy_manifest *m, struct kpy_err *e)
{
	const char *v = m->python_version ? m->python_version : "3";

	return kpy_err_set(e, KPY_ENOPYTHON,
			   "the environment in %s needs the Python interpreter %s (Python %s), which is missing on this machine",
			   archive, python, v);
}

/* Base interpreter of the restored venv at ROOT, which will be renamed to DEST:
 * bin/python must lead to a file. Links into DEST are followed inside ROOT. */
static int check_python(const char *root, const char *dest, const struct kpy_manifest *m,
			const char *archive, struct kpy_err *e)
{
	char path[PATH_MAX], link[PATH_MAX], shown[PATH_MAX];
	size_t dl = strlen(dest);
	struct stat st;
	int hops = 0;

	if (kpy_pathf(path, sizeof(path), e, "%s/bin/python", root) < 0)
		return -1;
	snprintf(shown, sizeof(shown), "%s/bin/python", dest);
	if (lstat(path, &st) < 0)
		return 0;
	/* follow the chain by hand, to look inside ROOT and to name the first missing link */
	while (hops++ < 40) {
		if (lstat(path, &st) < 0)
			return missing_python(archive, shown, m, e);
		if (!S_ISLNK(st.st_mode))
			return 0;
		ssize_t n = readlink(path, link, sizeof(link) - 1);
		if (n < 0)
			break;
		link[n] = '\0';
		if (link[0] == '/') {
			snprintf(shown, sizeof(shown), "%s", link);
			if (strncmp(link, dest, dl) == 0 && (link[dl] == '/' || link[dl] == '\0')) {
				if (kpy_pathf(path, sizeof(path), e, "%s%s", root, link + dl) < 0)
					return -1;
			} else {
				snprintf(path, sizeof(path), "%s", link);
			}
		} else {
			char *slash = strrchr(path, '/'), *sslash = strrchr(shown, '/');
			size_t room = sizeof(path) - (size_t)(slash + 1 - path);
			if (strlen(link) >= room || sslash == NULL)
				break;
			memcpy(slash + 1, link, strlen(link) + 1);
			snprintf(sslash + 1, sizeof(shown) - (size_t)(sslash + 1 - shown), "%s", link);
		}
	}
	return stat(path, &st) == 0 ? 0 : missing_python(archive, shown, m, e);
}

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
		if (safe_name(line) == NULL)
			return damaged(r, e, "its relocation list names a path outside the env");
		if (kpy_relocate_file(root, line, rl, e) < 0)
			return -1;
	}
	return 0;
}

int kpy_archive_restore(const char *archive, const char *dest_in, const char *prompt,
			struct kpy_manifest *mout, struct kpy_err *e)
{
	struct kpy_manifest m = { 0 };
	struct reader r = { .fd = -1 };
	struct archive *aw = NULL;
	struct archive_entry *ae;
	char dest[PATH_MAX], parent[PATH_MAX], real[PATH_MAX], tmp[PATH_MAX], full[PATH_MAX * 2];
	char *reloc = NULL;
	size_t rlen = 0;
	long long files = 0;
	int rv = -1, rc, have_tmp = 0, seen_reloc = 0, cwd = -1, lockfd = -1;
	const char *why;
	struct stat st;

	if (dest_in[0] != '/' || strlen(dest_in) >= sizeof(dest) - 32 || strchr(dest_in, '\n'))
		return kpy_err_set(e, KPY_EINVAL, "cannot restore to '%s': give an absolute path", dest_in);
	strcpy(dest, dest_in);
	for (size_t n = strlen(dest); n > 1 && dest[n - 1] == '/'; n--)
		dest[n - 1] = '\0';
	if ((why = bad_prefix(dest, 0)) != NULL)
		return kpy_err_set(e, KPY_EINVAL, "cannot restore to %s: %s; choose another path", dest, why);
	if (lstat(dest, &st) == 0)
		return kpy_err_set(e, KPY_ETAKEN, "%s already exists", dest);
	strcpy(parent, dest);
	char *base = strrchr(parent, '/');
	*base++ = '\0';
	if (realpath(parent[0] ? parent : "/", real) == NULL)
		return kpy_err_sys(e, errno, "cannot restore into %s", parent[0] ? parent : "/");

	if (reader_open(&r, archive, e) < 0)
		return -1;
	if (read_manifest(&r, &m, e) < 0)
		goto out;
	/* name a missing interpreter before spending time on extraction */
	if (strcmp(m.kind, KPY_KIND_VENV) == 0 && m.base_python != NULL && access(m.base_python, X_OK) < 0) {
		missing_python(archive, m.base_python, &m, e);
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
	chmod(tmp, 0755 & ~current_umask());

	/* extract with names relative to the temporary dir: libarchive's symlink check
	 * then walks only the entry's own components, not the whole absolute path */
	if ((cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0 || chdir(tmp) < 0) {
		kpy_err_sys(e, errno, "cannot enter %s", tmp);
		goto out;
	}
	if ((aw = archive_write_disk_new()) == NULL) {
		kpy_err_set(e, KPY_EFAIL, "out of memory");
		goto out;
	}
	archive_write_disk_set_options(aw, ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM |
				       ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NODOTDOT |
				       ARCHIVE_EXTRACT_NO_OVERWRITE);

	size_t olen = strlen(m.prefix);
	while ((rc = archive_read_next_header(r.a, &ae)) == ARCHIVE_OK || rc == ARCHIVE_WARN) {
		const char *name = safe_name(archive_entry_pathname(ae));
		const char *hard = archive_entry_hardlink(ae);
		const char *sym = archive_entry_symlink(ae);
		mode_t type = archive_entry_filetype(ae);

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
		archive_entry_set_pathname(ae, name);
		archive_entry_set_perm(ae, archive_entry_perm(ae) & 01777);
		if (hard != NULL) {
			const char *h = safe_name(hard);
			if (h == NULL) {
				damaged(&r, e, "it holds a hard link to a path outside the target");
				goto out;
			}
			/* kpy stores hard links as separate files: a link here must lead to a
			 * regular file written earlier, never to a symlink or a directory */
			if (fstatat(AT_FDCWD, h, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode)) {
				damaged(&r, e, "it holds a hard link to something that is not a regular file before it");
				goto out;
			}
			archive_entry_set_hardlink(ae, h);
		}
		/* names are unique in a kpy archive; libarchive would skip a second one
		 * silently and then fail on its data with a bare I/O error */
		if (fstatat(AT_FDCWD, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    !(S_ISDIR(st.st_mode) && type == AE_IFDIR)) {
			damaged(&r, e, "it holds two entries with the same name");
			goto out;
		}
		if (type == AE_IFLNK && sym != NULL && strncmp(sym, m.prefix, olen) == 0 &&
		    (sym[olen] == '/' || sym[olen] == '\0')) {
			char nt[PATH_MAX * 2];
			if (kpy_pathf(nt, sizeof(nt), e, "%s%s", dest, sym + olen) < 0)
				goto out;
			archive_entry_set_symlink(ae, nt);
		}
		if (archive_write_header(aw, ae) != ARCHIVE_OK) {
			if (archive_errno(aw) == ENOSPC || archive_errno(aw) == EDQUOT)
				write_failed(aw, &r, dest, e);
			else
				damaged(&r, e, archive_error_string(aw) ? archive_error_string(aw) : "an entry cannot be written");
			goto out;
		}
		const void *blk;
		size_t sz;
		la_int64_t off;
		while ((rc = archive_read_data_block(r.a, &blk, &sz, &off)) == ARCHIVE_OK) {
			if (archive_write_data_block(aw, blk, sz, off) < ARCHIVE_OK) {
				write_failed(aw, &r, dest, e);
				goto out;
			}
		}
		if (rc != ARCHIVE_EOF) {
			read_failed(&r, e);
			goto out;
		}
		if (archive_write_finish_entry(aw) < ARCHIVE_OK) {
			write_failed(aw, &r, dest, e);
			goto out;
		}
	}
	if (rc != ARCHIVE_EOF) {
		read_failed(&r, e);
		goto out;
	}
	if (kpy_zr_drain(r.a, &r.zr) < 0) {
		read_failed(&r, e);
		goto out;
	}
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
	    set_cfg_prompt(tmp, prompt != NULL ? prompt : m.prompt, e) < 0)
		goto out;
	if (strcmp(m.kind, KPY_KIND_VENV) == 0 && check_python(tmp, dest, &m, archive, e) < 0)
		goto out;
	if (archive_write_close(aw) != ARCHIVE_OK) {
		write_failed(aw, &r, dest, e);
		goto out;
	}
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, dest, RENAME_NOREPLACE) < 0) {
		if (errno == EEXIST || errno == ENOTEMPTY)
			kpy_err_set(e, KPY_ETAKEN, "%s was created by someone else meanwhile", dest);
		else
			kpy_err_sys(e, errno, "cannot move the restored env to %s", dest);
		goto out;
	}
	have_tmp = 0;
	rv = 0;
out:
	if (aw != NULL)
		archive_write_free(aw);
	if (cwd >= 0) {
		if (fchdir(cwd) < 0 && rv == 0)
			rv = kpy_err_sys(e, errno, "cannot return to the working directory");
		close(cwd);
	}
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
