/* relocate.c: rewriting shebangs, activate scripts and text files to the env's new path. */
#include "autoconfig.h"
#include "relocate.h"
#include "buf.h"
#include "fdio.h"
#include "publish.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


#define SHEBANG_MAX 127		/* the kernel's BINPRM_BUF_SIZE - 1 on older kernels */
#define HEAD_MAX 16384		/* a script's interpreter lines are looked for in this many bytes */
#define ACTIVATE_MAX (1 << 20)	/* activate scripts are read whole: a few KiB in practice */
#define FLUSH_AT (1 << 20)	/* output kept in memory before it is written out */

size_t kpy_relocate_chunk = 1 << 20;

/* Output: grows in memory, or, with FD >= 0, is written out FLUSH_AT bytes at a time. */
struct sb {
	char *p;
	size_t len, cap;
	int err; /* errno of the first failure; later adds do nothing */
	int fd;
};
#define SB_INIT { NULL, 0, 0, 0, -1 }

static void sb_write(struct sb *s, const char *p, size_t n)
{
	if (s->err == 0 && kpy_write_full(s->fd, p, n) < 0)
		s->err = errno != 0 ? errno : EIO;
}

static void sb_flush(struct sb *s)
{
	if (s->fd >= 0 && s->len > 0) {
		sb_write(s, s->p, s->len);
		s->len = 0;
	}
}

static void sb_add(struct sb *s, const char *p, size_t n)
{
	if (s->err != 0 || n == 0)
		return;
	if (s->fd >= 0 && n > FLUSH_AT - s->len) { /* len <= FLUSH_AT always holds here */
		sb_flush(s);
		if (n >= FLUSH_AT) {
			sb_write(s, p, n);
			return;
		}
	}
	if (n >= s->cap - s->len) { /* room for N bytes and a NUL, without wrapping */
		if (n > SIZE_MAX / 2 - 1 - s->len) {
			s->err = ENOMEM;
			return;
		}
		char *np = kpy_grow(s->p, &s->cap, s->len + n, 1, 256);
		if (np == NULL) {
			s->err = ENOMEM;
			return;
		}
		s->p = np;
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

/* C is one of SET's characters (never the NUL that ends SET). */
static int one_of(char c, const char *set)
{
	return c != '\0' && strchr(set, c) != NULL;
}

/* BUF[I, I+PLEN) holds the prefix: is it a whole path? Reads BUF[I-2, I+PLEN]. */
static int whole_path_at(const char *buf, size_t len, size_t i, size_t plen)
{
	if (i > 0) {
		unsigned char p = (unsigned char)buf[i - 1];
		/* "file:///old/..." is a URL of the path; "/x/old" is another path */
		if (name_char(p) || p == '~' || (p == '/' && !(i >= 2 && buf[i - 2] == '/')))
			return 0;
	}
	return plen >= len - i || !name_char((unsigned char)buf[i + plen]);
}

/* The first I in [FROM, LIMIT) where OLD stands as a whole path in BUF[0, LEN), or LEN. */
static size_t next_hit(const char *buf, size_t len, size_t from, size_t limit, const char *old,
		       size_t plen)
{
	while (plen > 0 && from < limit && from < len && plen <= len - from) {
		const char *hit = memmem(buf + from, len - from, old, plen);
		if (hit == NULL || (size_t)(hit - buf) >= limit)
			break;
		size_t i = (size_t)(hit - buf);
		if (whole_path_at(buf, len, i, plen))
			return i;
		from = i + 1;
	}
	return len;
}

long kpy_find_prefix(const char *buf, size_t len, const char *prefix)
{
	size_t i = next_hit(buf, len, 0, len, prefix, strlen(prefix));
	return i < len && i <= LONG_MAX ? (long)i : -1;
}

static int needs_quotes(const char *s)
{
	for (; *s; s++)
		if (!name_char((unsigned char)*s) && !one_of(*s, "/+,:@%="))
			return 1;
	return 0;
}

/* Copy BUF[FROM, ...) to S, replacing by NEW each whole-path OLD that starts before
 * LIMIT; BUF[0, FROM) is only context. Returns where the copy stopped: LIMIT, or the
 * end of a replacement reaching past it. With QUOTE_BARE (LIMIT must then be LEN), an
 * unquoted word holding OLD (after '=' or a blank) is single-quoted to its end when
 * NEW needs quotes. Adds the number of replacements to *HITS. */
static size_t replace_paths(struct sb *s, const char *buf, size_t len, size_t from,
			    size_t limit, const struct kpy_reloc *r, int quote_bare, size_t *hits)
{
	const char *old = r->old_prefix, *new = r->new_prefix;
	size_t plen = strlen(old), pos = from, i;
	int quote = quote_bare && needs_quotes(new) && strchr(new, '\'') == NULL;

	while ((i = next_hit(buf, len, pos, limit, old, plen)) < len) {
		char prev = i > 0 ? buf[i - 1] : '\n';
		sb_add(s, buf + pos, i - pos);
		(*hits)++;
		if (quote && (prev == '=' || prev == ' ' || prev == '\t')) {
			size_t end = i + plen;
			while (end < len && !one_of(buf[end], " \t\n;&|)"))
				end++;
			sb_str(s, "'");
			sb_str(s, new);
			sb_add(s, buf + i + plen, end - i - plen);
			sb_str(s, "'");
			pos = end;
		} else {
			sb_str(s, new);
			pos = i + plen;
		}
	}
	if (pos < limit) {
		sb_add(s, buf + pos, limit - pos);
		pos = limit;
	}
	return pos;
}

/* In an activate script, the prompt name P as "(P)" anywhere, and as 'P', "P" or =P
 * on lines that set a prompt variable. */
static void replace_prompt(struct sb *s, const char *in, size_t len, const char *p,
			   const char *n)
{
	size_t plen = strlen(p), pos = 0;

	while (plen > 0 && plen <= len - pos) {
		const char *hit = memmem(in + pos, len - pos, p, plen);
		if (hit == NULL)
			break;
		size_t i = (size_t)(hit - in);
		char prev = i > 0 ? in[i - 1] : '\n', next = plen < len - i ? in[i + plen] : '\n';
		const char *ls = i > 0 ? memrchr(in, '\n', i) : NULL;
		const char *le = memchr(in + i, '\n', len - i);
		size_t lstart = ls ? (size_t)(ls - in) + 1 : 0, lend = le ? (size_t)(le - in) : len;
		int prompt_line = memmem(in + lstart, lend - lstart, "PROMPT", 6) != NULL;
		int hit_ok = (prev == '(' && next == ')') ||
			     (prompt_line && one_of(prev, "'\"=") && one_of(next, "'\"\n"));
		sb_add(s, in + pos, i - pos);
		sb_str(s, hit_ok ? n : p);
		pos = i + plen;
	}
	sb_add(s, in + pos, len - pos);
}

int kpy_is_activate(const char *rel)
{
	static const char *const names[] = { "activate", "activate.csh", "activate.fish",
		"activate.nu", "activate.ps1", "Activate.ps1", "activate.bat", NULL };

	if (strncmp(rel, "bin/", 4) != 0)
		return 0;
	for (int i = 0; names[i]; i++)
		if (strcmp(rel + 4, names[i]) == 0)
			return 1;
	return 0;
}

static int is_python(const char *interp, size_t n)
{
	const char *base = interp;

	for (size_t i = 0; i < n; i++)
		if (interp[i] == '/')
			base = interp + i + 1;
	return (size_t)(interp + n - base) >= 6 && strncmp(base, "python", 6) == 0;
}

/* pip's trampoline: sh runs INTERP, in double quotes (so " $ ` \ get a backslash);
 * python reads the first lines as a string. */
static void trampoline(struct sb *s, const char *interp, size_t n, const char *args, size_t alen)
{
	sb_str(s, "#!/bin/sh\n'''exec' \"");
	for (size_t i = 0; i < n; i++) {
		if (one_of(interp[i], "\"$`\\"))
			sb_str(s, "\\");
		sb_add(s, interp + i, 1);
	}
	sb_str(s, "\"");
	if (alen > 0) {
		sb_str(s, " ");
		sb_add(s, args, alen);
	}
	sb_str(s, " \"$0\" \"$@\"\n' '''\n");
}

/* The interpreter at P on a trampoline's second line (ending at NL2), unquoted into
 * INTERP; *REST points after it. -1 if its quote is not closed on the line. */
static int tramp_interp(const char *p, const char *nl2, struct sb *interp, const char **rest)
{
	char quote = (p < nl2 && (*p == '"' || *p == '\'')) ? *p++ : '\0';

	for (; p < nl2; p++) {
		if (quote == '\0' && (*p == ' ' || *p == '\t'))
			break;
		if (quote != '\0' && *p == quote) {
			*rest = p + 1;
			return 0;
		}
		if (quote == '"' && *p == '\\' && p + 1 < nl2)
			p++;
		sb_add(interp, p, 1);
	}
	*rest = p;
	return quote == '\0' ? 0 : -1;
}

/* A bin/ script: IN[0, LEN) is its start (at most HEAD_MAX bytes), MORE says whether the
 * file goes on. Writes the relocated interpreter line(s) (plain, or pip's /bin/sh
 * trampoline) to S and returns the number of input bytes they replace, or 0. */
static size_t shebang(struct sb *s, const char *in, size_t len, int more, const struct kpy_reloc *r)
{
	const char *old = r->old_prefix, *new = r->new_prefix;
	size_t olen = strlen(old), used = 0;
	const char *nl = len >= 2 ? memchr(in, '\n', len) : NULL;
	size_t l1 = nl ? (size_t)(nl - in) : len;
	struct sb interp = SB_INIT;

	if (len < 2 || in[0] != '#' || in[1] != '!' || (nl == NULL && more))
		return 0;
	/* the trampoline: "#!/bin/sh\n'''exec' "INTERP" [ARGS] "$0" "$@"\n' '''\n" */
	if (nl != NULL && l1 == 9 && memcmp(in, "#!/bin/sh", 9) == 0) {
		const char *l2 = nl + 1, *nl2, *nl3, *rest;
		size_t left = len - l1 - 1;
		if (left < 9 || memcmp(l2, "'''exec' ", 9) != 0 ||
		    (nl2 = memchr(l2, '\n', left)) == NULL ||
		    (nl3 = memchr(nl2 + 1, '\n', (size_t)(in + len - nl2 - 1))) == NULL ||
		    tramp_interp(l2 + 9, nl2, &interp, &rest) < 0 || interp.err != 0 ||
		    olen == 0 || interp.len < olen || memcmp(interp.p, old, olen) != 0 ||
		    !whole_path_at(interp.p, interp.len, 0, olen))
			goto out;
		/* keep what follows the interpreter up to "$0": its options */
		const char *d0 = memmem(rest, (size_t)(nl2 - rest), "\"$0\"", 4), *ae = d0;
		while (d0 != NULL && rest < d0 && (*rest == ' ' || *rest == '\t'))
			rest++;
		while (d0 != NULL && ae > rest && (ae[-1] == ' ' || ae[-1] == '\t'))
			ae--;
		struct sb ni = SB_INIT;
		sb_str(&ni, new);
		sb_add(&ni, interp.p + olen, interp.len - olen);
		if (ni.err == 0)
			trampoline(s, ni.p ? ni.p : "", ni.len, rest, d0 ? (size_t)(ae - rest) : 0);
		else
			s->err = ni.err;
		free(ni.p);
		used = (size_t)(nl3 + 1 - in);
		goto out;
	}
	/* "#!OLD/bin/python3 [ARGS]": the interpreter runs to the first blank after OLD,
	 * which may hold blanks itself (pip writes such lines) */
	if (l1 - 2 < olen || memcmp(in + 2, old, olen) != 0 || !whole_path_at(in + 2, l1 - 2, 0, olen))
		goto out;
	size_t ie = 2 + olen;
	while (ie < l1 && in[ie] != ' ' && in[ie] != '\t')
		ie++;
	size_t newlen = 2 + strlen(new) + (l1 - 2 - olen);
	if ((newlen > SHEBANG_MAX || strpbrk(new, " \t") != NULL) && is_python(in + 2, ie - 2)) {
		size_t as = ie, ae = l1;
		while (as < ae && (in[as] == ' ' || in[as] == '\t'))
			as++;
		while (ae > as && (in[ae - 1] == ' ' || in[ae - 1] == '\t'))
			ae--;
		sb_str(&interp, new);
		sb_add(&interp, in + 2 + olen, ie - 2 - olen);
		if (interp.err == 0)
			trampoline(s, interp.p ? interp.p : "", interp.len, in + as, ae - as);
		else
			s->err = interp.err;
	} else {
		sb_str(s, "#!");
		sb_str(s, new);
		sb_add(s, in + 2 + olen, l1 - 2 - olen);
		if (nl != NULL)
			sb_str(s, "\n");
	}
	used = nl ? l1 + 1 : l1;
out:
	free(interp.p);
	return used;
}

static int is_script(const char *rel)
{
	return strncmp(rel, "bin/", 4) == 0 && !kpy_is_activate(rel);
}

/* The interpreter lines of REL, whose contents start with IN[0, LEN): their replacement
 * added to S, the bytes they replace in *USED. 1 if they changed, 0 if not, -1 (errno
 * set) on failure. */
static int relocate_head(struct sb *s, const char *rel, const char *in, size_t len,
			 const struct kpy_reloc *r, size_t *used)
{
	struct sb h = SB_INIT;
	int rv;

	*used = 0;
	if (!is_script(rel))
		return 0;
	*used = shebang(&h, in, len < HEAD_MAX ? len : HEAD_MAX, len > HEAD_MAX, r);
	if (h.err != 0) {
		errno = h.err;
		rv = -1;
	} else {
		rv = h.len != *used || (*used > 0 && memcmp(h.p, in, *used) != 0);
		sb_add(s, h.p, h.len);
	}
	free(h.p);
	return rv;
}

static int moves(const struct kpy_reloc *r)
{
	return r->old_prefix[0] != '\0' && strcmp(r->old_prefix, r->new_prefix) != 0;
}

static int reprompts(const char *rel, const struct kpy_reloc *r)
{
	return kpy_is_activate(rel) && r->old_prompt && r->new_prompt &&
	       strcmp(r->old_prompt, r->new_prompt) != 0;
}

int kpy_relocate_buf(const char *rel, const char *in, size_t len, const struct kpy_reloc *r,
		     char **out, size_t *outlen)
{
	struct sb s = SB_INIT, t = SB_INIT;
	size_t skip = 0, hits = 0;

	*out = NULL;
	*outlen = 0;
	if ((!moves(r) && !reprompts(rel, r)) || len == 0)
		return 0;
	if (moves(r)) {
		if (relocate_head(&s, rel, in, len, r, &skip) < 0)
			return -1;
		replace_paths(&s, in, len, skip, len, r, kpy_is_activate(rel), &hits);
	} else {
		sb_add(&s, in, len);
	}
	if (reprompts(rel, r) && s.err == 0) {
		replace_prompt(&t, s.p ? s.p : "", s.len, r->old_prompt, r->new_prompt);
		free(s.p);
		s = t;
	}
	if (s.err != 0) {
		free(s.p);
		return -1;
	}
	if (s.len == len && memcmp(s.p ? s.p : "", in, len) == 0) {
		free(s.p);
		return 0;
	}
	if (s.p == NULL && (s.p = strdup("")) == NULL)
		return -1;
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


/* Up to WANT bytes into DST: first what is left of the head, then from FD. Fewer only
 * at the end of the file; -1 with errno. */
static ssize_t refill(int fd, char *dst, size_t want, const char **pend, size_t *left)
{
	size_t n = want < *left ? want : *left;
	ssize_t got = 0;

	memcpy(dst, *pend, n);
	*pend += n;
	*left -= n;
	if (n < want && (got = kpy_read_full(fd, dst + n, want - n)) < 0)
		return -1;
	return (ssize_t)n + got;
}

/* Relocate FD's contents (not an activate script) into TFD: its first HEAD_MAX + 1
 * bytes give the interpreter lines, then it goes through a window of
 * kpy_relocate_chunk new bytes at a time, keeping between steps only the bytes that
 * may start a prefix and two bytes of context. *CHANGED tells whether anything
 * changed. 1 if FD is an ELF file (nothing is written then), 0, or -1 with errno. */
static int relocate_stream(int fd, int tfd, const char *rel, const struct kpy_reloc *r,
			   int *changed)
{
	size_t chunk = kpy_relocate_chunk > 0 ? kpy_relocate_chunk : 1;
	size_t plen = strlen(r->old_prefix), hits = 0, n, from, skip, left;
	char *head = malloc(HEAD_MAX + 1), *buf = malloc(chunk + plen + 2);
	const char *pend;
	struct sb s = SB_INIT;
	ssize_t got;
	int hc, rv = -1;

	*changed = 0;
	s.fd = tfd;
	if (head == NULL || buf == NULL || (got = kpy_read_full(fd, head, HEAD_MAX + 1)) < 0)
		goto out;
	if (got >= 4 && memcmp(head, "\177ELF", 4) == 0) {
		rv = 1;
		goto out;
	}
	if ((hc = relocate_head(&s, rel, head, (size_t)got, r, &skip)) < 0)
		goto out;
	n = from = skip < 2 ? skip : 2;
	memcpy(buf, head + skip - n, n);
	pend = head + skip;
	left = (size_t)got - skip;
	for (;;) {
		if ((got = refill(fd, buf + n, chunk, &pend, &left)) < 0)
			goto out;
		n += (size_t)got;
		int eof = (size_t)got < chunk;
		/* a hit is decided once the byte after it is here */
		size_t limit = eof ? n : n > plen ? n - plen : 0;
		if (limit < from)
			limit = from;
		size_t end = replace_paths(&s, buf, n, from, limit, r, 0, &hits);
		if (eof || s.err != 0)
			break;
		size_t keep = end < 2 ? end : 2;
		memmove(buf, buf + end - keep, n - end + keep);
		n = n - end + keep;
		from = keep;
	}
	sb_flush(&s);
	if (s.err != 0) {
		errno = s.err;
		goto out;
	}
	*changed = hc || hits > 0;
	rv = 0;
out:
	free(head);
	free(buf);
	free(s.p);
	return rv;
}

/* An activate script, read whole (at most ACTIVATE_MAX bytes): into *OUT, *OUTLEN when
 * it changes (1), 0 when not or when it is an ELF file, -1 with errno. */
static int relocate_whole(int fd, const char *rel, const struct kpy_reloc *r, char **out,
			  size_t *outlen)
{
	char *in = malloc(ACTIVATE_MAX + 1);
	ssize_t got;
	int rv = -1;

	if (in == NULL || (got = kpy_read_full(fd, in, ACTIVATE_MAX + 1)) < 0)
		goto out;
	if (got > ACTIVATE_MAX) {
		errno = EFBIG;
		goto out;
	}
	if (got >= 4 && memcmp(in, "\177ELF", 4) == 0)
		rv = 0;
	else if ((rv = kpy_relocate_buf(rel, in, (size_t)got, r, out, outlen)) < 0)
		errno = ENOMEM;
out:
	free(in);
	return rv;
}

int kpy_relocate_file(const char *root, const char *rel, const struct kpy_reloc *r,
		      struct kpy_err *e)
{
	int rootfd = -1, dfd = -1, fd = -1, tfd = -1, rv = -1, changed = 0;
	struct kpy_tmpfile t = { .fd = -1, .tmp = "" };
	struct kpy_err te = KPY_ERR_INIT;
	char *out = NULL, name[512];
	size_t outlen = 0;
	const char *base;
	struct stat st;

	snprintf(name, sizeof(name), "%s", rel); /* printers escape it */
	if ((rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    open_parent(rootfd, rel, &dfd, &base) < 0) {
		kpy_err_sys(e, errno, "cannot relocate %s in %s", name, root);
		goto out;
	}
	fd = openat(dfd, base, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ELOOP) /* a symlink: relocated when it was extracted */
			rv = 0;
		else
			kpy_err_sys(e, errno, "cannot relocate %s in %s", name, root);
		goto out;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (!moves(r) && !reprompts(rel, r))) {
		rv = 0;
		goto out;
	}
	if (kpy_is_activate(rel)) {
		changed = relocate_whole(fd, rel, r, &out, &outlen);
		if (changed < 0 && errno == EFBIG) {
			kpy_err_set(e, KPY_EFAIL, "cannot relocate %s in %s: an activation script larger than %d bytes is not one venv wrote",
				    name, root, ACTIVATE_MAX);
			goto out;
		}
		if (changed < 0) {
			kpy_err_sys(e, errno, "cannot read %s/%s", root, name);
			goto out;
		}
		if (changed == 0) {
			rv = 0;
			goto out;
		}
	}
	if (kpy_tmpfile_open(&t, dfd, base, 0600, &te) < 0) {
		kpy_err_set(e, te.code, "cannot rewrite %s/%s (%s)", root, name, te.msg);
		goto out;
	}
	tfd = t.fd;
	if (out != NULL) {
		if (kpy_write_full(tfd, out, outlen) < 0) {
			kpy_err_sys(e, errno, "cannot rewrite %s/%s", root, name);
			goto out;
		}
	} else {
		errno = 0;
		int elf = relocate_stream(fd, tfd, rel, r, &changed);
		if (elf < 0) {
			/* errno from read(2) or write(2); 0 means out of memory */
			kpy_err_sys(e, errno != 0 ? errno : ENOMEM, "cannot relocate %s/%s", root, name);
			goto out;
		}
		if (elf == 1 || !changed) {
			rv = 0;
			goto out;
		}
	}
	if (fchmod(tfd, st.st_mode & 07777) < 0) {
		kpy_err_sys(e, errno, "cannot rewrite %s/%s", root, name);
		goto out;
	}
	struct timespec ts[2] = { st.st_atim, st.st_mtim };
	futimens(tfd, ts);
	if (kpy_tmpfile_publish(&t, 0, &te) < 0) {
		kpy_err_set(e, te.code, "cannot rewrite %s/%s (%s)", root, name, te.msg);
		goto out;
	}
	rv = 0;
out:
	kpy_tmpfile_discard(&t); /* nothing once published */
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	if (rootfd >= 0)
		close(rootfd);
	free(out);
	return rv;
}
