/* relocate.c: rewriting shebangs, activate scripts and text files to the env's new path. */
#include "autoconfig.h"
#include "relocate.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SHEBANG_MAX 127 /* the kernel's BINPRM_BUF_SIZE - 1 on older kernels */

struct sb {
	char *p;
	size_t len, cap;
	int oom;
};

static void sb_add(struct sb *s, const char *p, size_t n)
{
	if (s->oom)
		return;
	if (s->len + n + 1 > s->cap) {
		size_t cap = (s->len + n + 1) * 2;
		char *np = realloc(s->p, cap);
		if (np == NULL) {
			s->oom = 1;
			return;
		}
		s->p = np;
		s->cap = cap;
	}
	memcpy(s->p + s->len, p, n);
	s->len += n;
	s->p[s->len] = '\0';
}

static void sb_str(struct sb *s, const char *p)
{
	sb_add(s, p, strlen(p));
}

static int name_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '.' || c == '-';
}

static int whole_path_at(const char *buf, size_t len, size_t i, size_t plen)
{
	if (i > 0) {
		unsigned char p = (unsigned char)buf[i - 1];
		/* "file:///old/..." is a URL of the path; "/x/old" is another path */
		if (name_char(p) || p == '~' || (p == '/' && !(i >= 2 && buf[i - 2] == '/')))
			return 0;
	}
	return i + plen >= len || !name_char((unsigned char)buf[i + plen]);
}

long kpy_find_prefix(const char *buf, size_t len, const char *prefix)
{
	size_t plen = strlen(prefix), off = 0;

	if (plen == 0)
		return -1;
	while (off + plen <= len) {
		const char *hit = memmem(buf + off, len - off, prefix, plen);
		if (hit == NULL)
			return -1;
		size_t i = (size_t)(hit - buf);
		if (whole_path_at(buf, len, i, plen))
			return (long)i;
		off = i + 1;
	}
	return -1;
}

static int needs_quotes(const char *s)
{
	for (; *s; s++)
		if (!name_char((unsigned char)*s) && !strchr("/+,:@%=", *s))
			return 1;
	return 0;
}

/* Copy IN to S replacing every whole-path OLD by NEW. With QUOTE_BARE, an unquoted
 * word holding OLD (after '=' or a blank) is single-quoted when NEW needs quotes. */
static void replace_paths(struct sb *s, const char *in, size_t len, const char *old,
			  const char *new, int quote_bare)
{
	size_t plen = strlen(old), pos = 0;
	int quote = quote_bare && needs_quotes(new) && strchr(new, '\'') == NULL;

	while (pos < len) {
		long at = kpy_find_prefix(in + pos, len - pos, old);
		if (at < 0)
			break;
		size_t i = pos + (size_t)at;
		char prev = i > 0 ? in[i - 1] : '\n';
		sb_add(s, in + pos, i - pos);
		if (quote && (prev == '=' || prev == ' ' || prev == '\t')) {
			size_t end = i + plen;
			while (end < len && !strchr(" \t\n;&|)", in[end]))
				end++;
			sb_str(s, "'");
			sb_str(s, new);
			sb_add(s, in + i + plen, end - i - plen);
			sb_str(s, "'");
			pos = end;
		} else {
			sb_str(s, new);
			pos = i + plen;
		}
	}
	sb_add(s, in + pos, len - pos);
}

/* In an activate script, the prompt name P as "(P)" anywhere, and as 'P', "P" or =P
 * on lines that set a prompt variable. */
static void replace_prompt(struct sb *s, const char *in, size_t len, const char *p,
			   const char *n)
{
	size_t plen = strlen(p), pos = 0;

	while (pos < len) {
		const char *hit = plen ? memmem(in + pos, len - pos, p, plen) : NULL;
		if (hit == NULL)
			break;
		size_t i = (size_t)(hit - in);
		char prev = i > 0 ? in[i - 1] : '\n', next = i + plen < len ? in[i + plen] : '\n';
		const char *ls = i > 0 ? memrchr(in, '\n', i) : NULL;
		const char *le = memchr(in + i, '\n', len - i);
		size_t lstart = ls ? (size_t)(ls - in) + 1 : 0, lend = le ? (size_t)(le - in) : len;
		int prompt_line = memmem(in + lstart, lend - lstart, "PROMPT", 6) != NULL;
		int hit_ok = (prev == '(' && next == ')') ||
			     (prompt_line && strchr("'\"=", prev) && strchr("'\"\n", next));
		sb_add(s, in + pos, i - pos);
		sb_str(s, hit_ok ? n : p);
		pos = i + plen;
	}
	sb_add(s, in + pos, len - pos);
}

int kpy_is_activate(const char *rel)
{
	return strncmp(rel, "bin/activate", 12) == 0 && strchr(rel + 4, '/') == NULL;
}

static int is_python(const char *interp, size_t n)
{
	const char *base = interp;

	for (size_t i = 0; i < n; i++)
		if (interp[i] == '/')
			base = interp + i + 1;
	return (size_t)(interp + n - base) >= 6 && strncmp(base, "python", 6) == 0;
}

static void trampoline(struct sb *s, const char *interp, size_t n, const char *args)
{
	sb_str(s, "#!/bin/sh\n'''exec' \"");
	sb_add(s, interp, n);
	sb_str(s, "\"");
	if (args[0] != '\0') {
		sb_str(s, " ");
		sb_str(s, args);
	}
	sb_str(s, " \"$0\" \"$@\"\n' '''\n");
}

/* A bin/ script: its interpreter line (plain or pip's /bin/sh trampoline); returns the
 * number of input bytes consumed, after writing their replacement to S. */
static size_t shebang(struct sb *s, const char *in, size_t len, const struct kpy_reloc *r)
{
	const char *nl = memchr(in, '\n', len), *l2, *nl2, *nl3;
	size_t l1 = nl ? (size_t)(nl - in) : len, olen = strlen(r->old_prefix);

	if (len < 2 || in[0] != '#' || in[1] != '!')
		return 0;
	/* the trampoline: "#!/bin/sh\n'''exec' "INTERP" "$0" "$@"\n' '''\n" */
	if (nl && l1 == 9 && memcmp(in, "#!/bin/sh", 9) == 0 && (l2 = nl + 1) < in + len &&
	    (size_t)(in + len - l2) > 8 && memcmp(l2, "'''exec' ", 9) == 0 &&
	    (nl2 = memchr(l2, '\n', (size_t)(in + len - l2))) != NULL &&
	    (nl3 = memchr(nl2 + 1, '\n', (size_t)(in + len - nl2 - 1))) != NULL) {
		const char *p = l2 + 9, *q;
		char quote = (*p == '"' || *p == '\'') ? *p++ : ' ';
		for (q = p; q < nl2 && *q != quote; q++)
			;
		if ((size_t)(q - p) < olen || memcmp(p, r->old_prefix, olen) != 0 ||
		    !whole_path_at(p, (size_t)(q - p), 0, olen))
			return 0;
		struct sb interp = { 0 };
		sb_str(&interp, r->new_prefix);
		sb_add(&interp, p + olen, (size_t)(q - p) - olen);
		/* keep what followed the interpreter up to "$0", i.e. its options */
		const char *rest = q + (quote != ' ');
		const char *d0 = memmem(rest, (size_t)(nl2 - rest), "\"$0\"", 4);
		struct sb args = { 0 };
		sb_str(&args, "");
		if (d0 != NULL) {
			while (rest < d0 && *rest == ' ')
				rest++;
			const char *ae = d0;
			while (ae > rest && ae[-1] == ' ')
				ae--;
			sb_add(&args, rest, (size_t)(ae - rest));
		}
		if (!interp.oom && !args.oom)
			trampoline(s, interp.p, interp.len, args.p);
		else
			s->oom = 1;
		free(interp.p);
		free(args.p);
		return (size_t)(nl3 + 1 - in);
	}
	/* a plain "#!OLD/bin/python3 [args]" line */
	if (l1 < 2 + olen || memcmp(in + 2, r->old_prefix, olen) != 0 ||
	    !whole_path_at(in + 2, l1 - 2, 0, olen))
		return 0;
	const char *ie = memchr(in + 2, ' ', l1 - 2);
	size_t ilen = ie ? (size_t)(ie - in - 2) : l1 - 2;
	size_t newlen = 2 + strlen(r->new_prefix) + (l1 - 2 - olen);
	struct sb interp = { 0 };
	sb_str(&interp, r->new_prefix);
	sb_add(&interp, in + 2 + olen, ilen - olen);
	if (interp.oom) {
		free(interp.p);
		s->oom = 1;
		return 0;
	}
	if ((newlen > SHEBANG_MAX || strchr(r->new_prefix, ' ')) && is_python(in + 2, ilen)) {
		char *args = strndup(ie ? ie + 1 : "", ie ? (size_t)(in + l1 - ie - 1) : 0);
		if (args == NULL)
			s->oom = 1;
		else
			trampoline(s, interp.p, interp.len, args);
		free(args);
	} else {
		sb_str(s, "#!");
		sb_add(s, interp.p, interp.len);
		sb_add(s, in + 2 + ilen, l1 - 2 - ilen);
		sb_str(s, "\n");
	}
	free(interp.p);
	return nl ? l1 + 1 : l1;
}

int kpy_relocate_buf(const char *rel, const char *in, size_t len, const struct kpy_reloc *r,
		     char **out, size_t *outlen)
{
	struct sb s = { 0 }, t = { 0 };
	size_t skip = 0;
	int act = kpy_is_activate(rel);
	int move = strcmp(r->old_prefix, r->new_prefix) != 0;
	int reprompt = act && r->old_prompt && r->new_prompt && strcmp(r->old_prompt, r->new_prompt) != 0;

	*out = NULL;
	*outlen = 0;
	if (!move && !reprompt)
		return 0;
	if (move) {
		if (strncmp(rel, "bin/", 4) == 0 && !act)
			skip = shebang(&s, in, len, r);
		replace_paths(&s, in + skip, len - skip, r->old_prefix, r->new_prefix, act);
	} else {
		sb_add(&s, in, len);
	}
	if (reprompt && !s.oom) {
		replace_prompt(&t, s.p, s.len, r->old_prompt, r->new_prompt);
		free(s.p);
		s = t;
	}
	if (s.oom) {
		free(s.p);
		return -1;
	}
	if (s.len == len && memcmp(s.p ? s.p : "", in, len) == 0) {
		free(s.p);
		return 0;
	}
	if (s.p == NULL)
		sb_add(&s, "", 0);
	*out = s.p;
	*outlen = s.len;
	return 1;
}

/* Open REL under ROOTFD refusing symlinks in every component; returns the fd of the
 * parent directory in *DIRFD and the last component in *BASE (pointing into REL). */
static int open_parent(int rootfd, const char *rel, int *dirfd, const char **base)
{
	char comp[NAME_MAX + 1];
	const char *p = rel, *slash;
	int fd = dup(rootfd);

	while (fd >= 0 && (slash = strchr(p, '/')) != NULL) {
		size_t n = (size_t)(slash - p);
		if (n == 0 || n > NAME_MAX || (n == 2 && p[0] == '.' && p[1] == '.')) {
			close(fd);
			errno = EINVAL;
			return -1;
		}
		memcpy(comp, p, n);
		comp[n] = '\0';
		int sub = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(fd);
		fd = sub;
		p = slash + 1;
	}
	if (fd < 0)
		return -1;
	if (*p == '\0' || strcmp(p, "..") == 0 || strcmp(p, ".") == 0) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	*dirfd = fd;
	*base = p;
	return 0;
}

static int read_all(int fd, char **buf, size_t *len, size_t size)
{
	char *b = malloc(size + 1);
	size_t got = 0;

	if (b == NULL)
		return -1;
	while (got < size) {
		ssize_t n = read(fd, b + got, size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	*buf = b;
	*len = got;
	return 0;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int kpy_relocate_file(const char *root, const char *rel, const struct kpy_reloc *r,
		      struct kpy_err *e)
{
	int rootfd = -1, dfd = -1, fd = -1, tfd = -1, rv = -1;
	char *in = NULL, *out = NULL, tmp[NAME_MAX + 1];
	size_t len, outlen;
	const char *base;
	struct stat st;

	tmp[0] = '\0';
	if ((rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    open_parent(rootfd, rel, &dfd, &base) < 0) {
		kpy_err_sys(e, errno, "cannot relocate %s in %s", rel, root);
		goto out;
	}
	fd = openat(dfd, base, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ELOOP) /* a symlink: relocated when it was extracted */
			rv = 0;
		else
			kpy_err_sys(e, errno, "cannot relocate %s in %s", rel, root);
		goto out;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		rv = 0;
		goto out;
	}
	if (read_all(fd, &in, &len, (size_t)st.st_size) < 0) {
		kpy_err_set(e, KPY_EFAIL, "out of memory relocating %s", rel);
		goto out;
	}
	if (len >= 4 && memcmp(in, "\177ELF", 4) == 0) {
		rv = 0;
		goto out;
	}
	int changed = kpy_relocate_buf(rel, in, len, r, &out, &outlen);
	if (changed < 0) {
		kpy_err_set(e, KPY_EFAIL, "out of memory relocating %s", rel);
		goto out;
	}
	if (changed == 0) {
		rv = 0;
		goto out;
	}
	snprintf(tmp, sizeof(tmp), ".%.200s.kpy-%ld", base, (long)getpid());
	tfd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (tfd < 0 || write_all(tfd, out, outlen) < 0 || fchmod(tfd, st.st_mode & 07777) < 0) {
		kpy_err_sys(e, errno, "cannot rewrite %s/%s", root, rel);
		goto out;
	}
	struct timespec ts[2] = { st.st_atim, st.st_mtim };
	futimens(tfd, ts);
	if (close(tfd) < 0) {
		tfd = -1;
		kpy_err_sys(e, errno, "cannot rewrite %s/%s", root, rel);
		goto out;
	}
	tfd = -1;
	if (renameat(dfd, tmp, dfd, base) < 0) {
		kpy_err_sys(e, errno, "cannot rewrite %s/%s", root, rel);
		goto out;
	}
	tmp[0] = '\0';
	rv = 0;
out:
	if (tfd >= 0)
		close(tfd);
	if (tmp[0] != '\0' && dfd >= 0)
		unlinkat(dfd, tmp, 0);
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	if (rootfd >= 0)
		close(rootfd);
	free(in);
	free(out);
	return rv;
}
