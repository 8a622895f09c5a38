/* test_relocate.c: kpy/relocate.c: shebangs, trampolines, activate scripts, text. */
#include "helpers.h"
#include "relocate.h"

#include <dirent.h>
#include <errno.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static const struct kpy_reloc R = { "/old/env", "/new/place/env", "env", "env" };

static char *run(const char *rel, const char *in, const struct kpy_reloc *r)
{
	char *out = NULL;
	size_t n;
	int rc = kpy_relocate_buf(rel, in, strlen(in), r, &out, &n);

	cr_assert(rc >= 0);
	if (rc == 0)
		return strdup(in);
	cr_assert_eq(strlen(out), n);
	return out;
}

Test(relocate, whole_paths_only)
{
	const char *t = "a /old/env b";
	cr_assert_eq(kpy_find_prefix(t, strlen(t), "/old/env"), 2);
	t = "/old/envx /old/env2 /x/old/env";
	cr_assert_eq(kpy_find_prefix(t, strlen(t), "/old/env"), -1);
	t = "/old/env/lib";
	cr_assert_eq(kpy_find_prefix(t, strlen(t), "/old/env"), 0);
	t = "file:///old/env/x";
	cr_assert_eq(kpy_find_prefix(t, strlen(t), "/old/env"), 7);
	t = "/old/env";
	cr_assert_eq(kpy_find_prefix(t, strlen(t), "/old/env"), 0);
}

Test(relocate, plain_shebang)
{
	char *o = run("bin/tool", "#!/old/env/bin/python3\nimport x  # /old/env/y\n", &R);
	cr_assert_str_eq(o, "#!/new/place/env/bin/python3\nimport x  # /new/place/env/y\n");
	free(o);
	o = run("bin/tool", "#!/old/env/bin/python3 -E\nprint()\n", &R);
	cr_assert_str_eq(o, "#!/new/place/env/bin/python3 -E\nprint()\n");
	free(o);
}

Test(relocate, long_shebang_becomes_trampoline)
{
	char newp[200];
	struct kpy_reloc r = R;

	memset(newp, 'd', sizeof(newp));
	newp[0] = '/';
	newp[150] = '\0';
	r.new_prefix = newp;
	char *o = run("bin/tool", "#!/old/env/bin/python3\nimport sys\n", &r);
	char want[512];
	PATHF(want, "#!/bin/sh\n'''exec' \"%s/bin/python3\" \"$0\" \"$@\"\n' '''\nimport sys\n", newp);
	cr_assert_str_eq(o, want);
	free(o);
	/* not python: left a long shebang rather than a trampoline that cannot work */
	o = run("bin/sh-tool", "#!/old/env/bin/bash\necho\n", &r);
	cr_assert(strncmp(o, "#!/dddd", 7) == 0, "%s", o);
	free(o);
}

Test(relocate, space_gives_trampoline_and_existing_trampoline_is_rewritten)
{
	struct kpy_reloc r = { "/old/env", "/new dir/env", NULL, NULL };
	char *o = run("bin/tool", "#!/old/env/bin/python\nx\n", &r);
	cr_assert_str_eq(o, "#!/bin/sh\n'''exec' \"/new dir/env/bin/python\" \"$0\" \"$@\"\n' '''\nx\n");
	free(o);
	struct kpy_reloc back = { "/new dir/env", "/third/env", NULL, NULL };
	const char *tr = "#!/bin/sh\n'''exec' \"/new dir/env/bin/python\" \"$0\" \"$@\"\n' '''\nx\n";
	o = run("bin/tool", tr, &back);
	cr_assert_str_eq(o, "#!/bin/sh\n'''exec' \"/third/env/bin/python\" \"$0\" \"$@\"\n' '''\nx\n");
	free(o);
	const char *tr2 = "#!/bin/sh\n'''exec' '/old/env/bin/python' \"$0\" \"$@\"\n' '''\ny\n";
	o = run("bin/tool", tr2, &r);
	cr_assert_str_eq(o, "#!/bin/sh\n'''exec' \"/new dir/env/bin/python\" \"$0\" \"$@\"\n' '''\ny\n");
	free(o);
}

Test(relocate, activate_quotes_bare_paths_and_renames_the_prompt)
{
	struct kpy_reloc r = { "/old/env", "/new dir/env", "env", "other" };
	const char *act = "VIRTUAL_ENV=/old/env\nexport VIRTUAL_ENV\n"
			  "PS1='(env) '\"${PS1:-}\"\nVIRTUAL_ENV_PROMPT='(env) '\n"
			  "if [ \"x(env) \" != x ] ; then\n";
	char *o = run("bin/activate", act, &r);
	cr_assert_str_eq(o, "VIRTUAL_ENV='/new dir/env'\nexport VIRTUAL_ENV\n"
			    "PS1='(other) '\"${PS1:-}\"\nVIRTUAL_ENV_PROMPT='(other) '\n"
			    "if [ \"x(other) \" != x ] ; then\n");
	free(o);
	o = run("bin/activate.csh", "setenv VIRTUAL_ENV /old/env\n", &r);
	cr_assert_str_eq(o, "setenv VIRTUAL_ENV '/new dir/env'\n");
	free(o);
	o = run("bin/activate.fish", "set -gx VIRTUAL_ENV \"/old/env\"\n", &r);
	cr_assert_str_eq(o, "set -gx VIRTUAL_ENV \"/new dir/env\"\n");
	free(o);
	/* 3.12-style: VIRTUAL_ENV_PROMPT=env */
	o = run("bin/activate", "VIRTUAL_ENV_PROMPT=env\nexport VIRTUAL_ENV_PROMPT\nenvironment\n", &r);
	cr_assert_str_eq(o, "VIRTUAL_ENV_PROMPT=other\nexport VIRTUAL_ENV_PROMPT\nenvironment\n");
	free(o);
}

Test(relocate, pth_and_other_text)
{
	char *o = run("lib/python3.11/site-packages/x.pth", "/old/env/src\n/old/environ\n", &R);
	cr_assert_str_eq(o, "/new/place/env/src\n/old/environ\n");
	free(o);
	char *out;
	size_t n;
	cr_assert_eq(kpy_relocate_buf("pyvenv.cfg", "home = /usr/bin\n", 16, &R, &out, &n), 0);
}

Test(relocate, file_keeps_mode_and_mtime_and_refuses_symlinked_dirs)
{
	struct kpy_err e = KPY_ERR_INIT;
	char *d = mk_tmpdir(), p[PATH_MAX], *text;
	struct stat before, after;

	PATHF(p, "%s/bin", d);
	mkdir(p, 0755);
	PATHF(p, "%s/bin/tool", d);
	put(p, "#!/old/env/bin/python3\n", 0751);
	struct timespec ts[2] = { { 1000000, 0 }, { 1000000, 0 } };
	utimensat(AT_FDCWD, p, ts, 0);
	stat(p, &before);
	cr_assert_eq(kpy_relocate_file(d, "bin/tool", &R, &e), 0, "%s", e.msg);
	stat(p, &after);
	text = get(p);
	cr_assert_str_eq(text, "#!/new/place/env/bin/python3\n");
	free(text);
	cr_assert_eq(after.st_mode & 07777, 0751);
	cr_assert_eq(after.st_mtime, 1000000);

	/* a listed path through a symlink to elsewhere is refused, elsewhere untouched */
	char outside[PATH_MAX];
	PATHF(outside, "%s/outside", d);
	mkdir(outside, 0755);
	PATHF(p, "%s/outside/victim", d);
	put(p, "/old/env\n", 0644);
	PATHF(p, "%s/link", d);
	cr_assert_eq(symlink(outside, p), 0);
	cr_assert_eq(kpy_relocate_file(d, "link/victim", &R, &e), -1);
	PATHF(p, "%s/outside/victim", d);
	text = get(p);
	cr_assert_str_eq(text, "/old/env\n");
	free(text);
	rm_tmpdir(d);
}

Test(relocate, elf_is_left_alone)
{
	struct kpy_err e = KPY_ERR_INIT;
	char *d = mk_tmpdir(), p[PATH_MAX], *text;

	PATHF(p, "%s/lib.so", d);
	put(p, "\177ELF /old/env/x", 0644);
	cr_assert_eq(kpy_relocate_file(d, "lib.so", &R, &e), 0);
	text = get(p);
	cr_assert_str_eq(text, "\177ELF /old/env/x");
	free(text);
	rm_tmpdir(d);
}

/* pip writes "#!OLD/bin/python3" for a wheel's .data/scripts even when OLD holds a
 * space: the interpreter is OLD/bin/python3 whole, not cut at the first space. */
Test(relocate, space_in_old_prefix)
{
	struct kpy_reloc r = { "/home/u/my envs/sp", "/new/sp", NULL, NULL };
	char *o = run("bin/tool", "#!/home/u/my envs/sp/bin/python3\nprint(1)\n", &r);
	cr_assert_str_eq(o, "#!/new/sp/bin/python3\nprint(1)\n");
	free(o);
	o = run("bin/tool", "#!/home/u/my envs/sp/bin/python3 -E\nprint(1)\n", &r);
	cr_assert_str_eq(o, "#!/new/sp/bin/python3 -E\nprint(1)\n");
	free(o);
	struct kpy_reloc r2 = { "/home/u/my envs/sp", "/scratch/a b/sp", NULL, NULL };
	o = run("bin/tool", "#!/home/u/my envs/sp/bin/python3\nprint(1)\n", &r2);
	cr_assert_str_eq(o, "#!/bin/sh\n'''exec' \"/scratch/a b/sp/bin/python3\" \"$0\" \"$@\"\n' '''\nprint(1)\n");
	free(o);
	/* a prefix with a space and a short line: no wrap-around anywhere */
	struct kpy_reloc r3 = { "/a b", "/c", NULL, NULL };
	o = run("bin/x", "#!/a b", &r3);
	cr_assert_str_eq(o, "#!/c");
	free(o);
	o = run("bin/x", "#!/a bc\n", &r3);
	cr_assert_str_eq(o, "#!/a bc\n");
	free(o);
}

/* pip's trampoline with its interpreter's closing quote missing: not a trampoline */
Test(relocate, trampoline_with_unterminated_quote)
{
	struct kpy_reloc r = { "/tmp/tr", "/new/tr", NULL, NULL };
	const char *in = "#!/bin/sh\n'''exec' \"/tmp/tr/bin/python\n' '''\n";
	char *o = run("bin/tramp", in, &r);
	cr_assert_str_eq(o, "#!/bin/sh\n'''exec' \"/new/tr/bin/python\n' '''\n");
	free(o);
	o = run("bin/tramp", "#!/bin/sh\n'''exec' '/tmp/tr/bin/python\n' '''\n", &r);
	cr_assert_str_eq(o, "#!/bin/sh\n'''exec' '/new/tr/bin/python\n' '''\n");
	free(o);
}

Test(relocate, trampoline_keeps_options_and_quotes_specials)
{
	struct kpy_reloc r = { "/old/env", "/new \"$x\"/env", NULL, NULL };
	char *o = run("bin/t", "#!/bin/sh\n'''exec' \"/old/env/bin/python\" -E \"$0\" \"$@\"\n' '''\nz\n", &r);
	cr_assert_str_eq(o, "#!/bin/sh\n'''exec' \"/new \\\"\\$x\\\"/env/bin/python\" -E \"$0\" \"$@\"\n' '''\nz\n");
	/* and back: the escaped interpreter is read as the path it stands for */
	struct kpy_reloc back = { "/new \"$x\"/env", "/third", NULL, NULL };
	char *o2 = run("bin/t", o, &back);
	cr_assert_str_eq(o2, "#!/bin/sh\n'''exec' \"/third/bin/python\" -E \"$0\" \"$@\"\n' '''\nz\n");
	free(o);
	free(o2);
}

/* argcomplete's activate-global-python-argcomplete is a script, not an activate script */
Test(relocate, only_real_activate_scripts)
{
	static const char *const yes[] = { "bin/activate", "bin/activate.csh", "bin/activate.fish",
		"bin/activate.nu", "bin/activate.ps1", "bin/Activate.ps1", "bin/activate.bat", NULL };
	static const char *const no[] = { "bin/activate-global-python-argcomplete",
		"bin/activate.sh", "bin/activate_this.py", "bin/activatex", "lib/activate",
		"bin/x/activate", "activate", "bin/activate/x", NULL };
	for (int i = 0; yes[i]; i++)
		cr_assert_eq(kpy_is_activate(yes[i]), 1, "%s", yes[i]);
	for (int i = 0; no[i]; i++)
		cr_assert_eq(kpy_is_activate(no[i]), 0, "%s", no[i]);

	char newp[200];
	struct kpy_reloc r = { "/old/env", newp, NULL, NULL };
	memset(newp, 'd', sizeof(newp));
	newp[0] = '/';
	newp[150] = '\0';
	char *o = run("bin/activate-global-python-argcomplete", "#!/old/env/bin/python3\nimport x\n", &r);
	cr_assert(strncmp(o, "#!/bin/sh\n'''exec' \"/ddd", 24) == 0, "%s", o);
	free(o);
}

Test(relocate, adjacent_and_edge_prefixes)
{
	struct kpy_reloc r = { "/a", "/bb", NULL, NULL };
	/* "/a/a" is NEW/a: the second "/a" is inside the path, not a path of its own */
	char *o = run("x.pth", "/a/a /a\n/a", &r);
	cr_assert_str_eq(o, "/bb/a /bb\n/bb");
	free(o);
	struct kpy_reloc empty = { "", "/x", NULL, NULL };
	o = run("bin/t", "#!/usr/bin/python3\n/ y\n", &empty);
	cr_assert_str_eq(o, "#!/usr/bin/python3\n/ y\n");
	free(o);
	struct kpy_reloc root = { "/", "/x", NULL, NULL };
	o = run("bin/t", "#!/usr/bin/python3\n/ y\n", &root);
	cr_assert_str_eq(o, "#!/usr/bin/python3\n/x y\n");
	free(o);
	char *out;
	size_t n;
	cr_assert_eq(kpy_relocate_buf("bin/t", NULL, 0, &r, &out, &n), 0);
	cr_assert_eq(kpy_relocate_buf("bin/activate", "(env)", 5, &(struct kpy_reloc){ "/a", "/a", "env", "e2" }, &out, &n), 1);
	cr_assert_eq(n, 4);
	cr_assert(memcmp(out, "(e2)", 4) == 0);
	free(out);
	/* a NUL is not a quote or a line end */
	cr_assert_eq(kpy_relocate_buf("bin/activate", "PROMPT=\0env\0", 12, &(struct kpy_reloc){ "/a", "/a", "env", "e2" }, &out, &n), 0);
}

/* A read error fails the relocation and leaves the file as it was. */
static ino_t fail_ino;
static int fail_after;

ssize_t read(int fd, void *buf, size_t n)
{
	struct stat st;

	if (fail_ino != 0 && fstat(fd, &st) == 0 && st.st_ino == fail_ino) {
		if (fail_after-- <= 0) {
			errno = EIO;
			return -1;
		}
		if (n > (1 << 20)) /* a short read, as a kernel may give */
			n = 1 << 20;
	}
	return syscall(SYS_read, fd, buf, n);
}

Test(relocate, read_error_leaves_the_file)
{
	struct kpy_err e = KPY_ERR_INIT;
	char *d = mk_tmpdir(), p[PATH_MAX], *text;
	struct stat st;
	size_t n = 3 << 20;
	char *big = malloc(n + 1);

	memset(big, 'x', n);
	memcpy(big, "/old/env\n", 9);
	big[n] = '\0';
	PATHF(p, "%s/big.txt", d);
	put(p, big, 0644);
	stat(p, &st);
	fail_ino = st.st_ino;
	fail_after = 1;
	cr_assert_eq(kpy_relocate_file(d, "big.txt", &R, &e), -1);
	fail_ino = 0;
	cr_assert(strstr(e.msg, "big.txt") != NULL, "%s", e.msg);
	text = get(p);
	cr_assert(text != NULL && strcmp(text, big) == 0, "the file was changed");
	free(text);
	free(big);
	DIR *dir = opendir(d);
	struct dirent *de;
	int files = 0;
	while ((de = readdir(dir)) != NULL)
		files += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
	closedir(dir);
	cr_assert_eq(files, 1, "a temporary file was left behind");
	rm_tmpdir(d);
}

/* The file path streams in chunks; whatever the chunk size, it must write what
 * kpy_relocate_buf gives for the whole file. */
static void same_as_buf(const char *d, const char *rel, const char *in, size_t len,
			const struct kpy_reloc *r)
{
	struct kpy_err e = KPY_ERR_INIT;
	char p[PATH_MAX], *want, *got;
	size_t wlen;
	int rc = kpy_relocate_buf(rel, in, len, r, &want, &wlen);

	cr_assert(rc >= 0);
	if (rc == 0) {
		want = malloc(len + 1);
		memcpy(want, in, len);
		wlen = len;
	}
	PATHF(p, "%s/%s", d, rel);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, in, len), (ssize_t)len);
	close(fd);
	cr_assert_eq(kpy_relocate_file(d, rel, r, &e), 0, "%s", e.msg);
	got = get(p);
	struct stat st;
	stat(p, &st);
	cr_assert(got != NULL && (size_t)st.st_size == wlen && memcmp(got, want, wlen) == 0,
		  "chunk %zu, %s: [%.*s] gave [%s], want [%.*s]", kpy_relocate_chunk, rel,
		  (int)len, in, got, (int)wlen, want);
	free(got);
	free(want);
}

Test(relocate, chunk_boundaries_agree_with_the_whole_buffer)
{
	static const char *const texts[] = {
		"#!/old/env/bin/python3\n/old/env /old/envx x/old/env /old/env/old/env\n",
		"#!/bin/sh\n'''exec' \"/old/env/bin/python\" \"$0\" \"$@\"\n' '''\n/old/env\n",
		"file:///old/env/a //old/env ///old/env a/old/env /old/env",
		"/old/env/old/env/old/env//old/env",
		"#!/old/env",
		"/old/en",
		"",
	};
	struct kpy_reloc rs[] = { R, { "/old/env", "/n", NULL, NULL },
				  { "/old/env", "/a b c/env", NULL, NULL } };
	char *d = mk_tmpdir(), p[PATH_MAX];
	size_t saved = kpy_relocate_chunk;

	PATHF(p, "%s/bin", d);
	mkdir(p, 0755);
	for (size_t c = 1; c <= 40; c++) {
		kpy_relocate_chunk = c;
		for (size_t t = 0; t < sizeof(texts) / sizeof(texts[0]); t++)
			for (size_t k = 0; k < sizeof(rs) / sizeof(rs[0]); k++) {
				same_as_buf(d, "bin/tool", texts[t], strlen(texts[t]), &rs[k]);
				same_as_buf(d, "data.txt", texts[t], strlen(texts[t]), &rs[k]);
			}
	}
	kpy_relocate_chunk = saved;
	rm_tmpdir(d);
}

/* A 200 MiB file (sparse: zeros) with the prefix at and across every 1 MiB
 * boundary is relocated right in a few MiB of memory. */
struct tok {
	off_t at;
	const char *in, *out;
};

static size_t big_tokens(struct tok *t, size_t max)
{
	static const char *const ins[] = { "/old/env/lib", "/old/envx", "x/old/env", "file:///old/env" };
	static const char *const outs[] = { "/new/place/env/lib", "/old/envx", "x/old/env", "file:///new/place/env" };
	size_t n = 0;

	for (off_t k = 1; k < 200 && n < max; k++) {
		int kind = (int)(k % 4);
		off_t shift = kind == 2 ? 1 : kind == 3 ? 7 : 0; /* where "/old/env" starts in the token */
		t[n].at = k * (1 << 20) + (k % 14) - 11 - shift;
		t[n].in = ins[kind];
		t[n].out = outs[kind];
		n++;
	}
	return n;
}

Test(relocate, big_file_streams_in_bounded_memory, .timeout = 120)
{
	struct kpy_err e = KPY_ERR_INIT;
	char *d = mk_tmpdir(), p[PATH_MAX];
	struct tok t[256];
	size_t nt = big_tokens(t, 256);
	off_t size = (off_t)200 << 20;

	PATHF(p, "%s/big.txt", d);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	cr_assert(fd >= 0);
	for (size_t i = 0; i < nt; i++)
		cr_assert_eq(pwrite(fd, t[i].in, strlen(t[i].in), t[i].at), (ssize_t)strlen(t[i].in));
	cr_assert_eq(ftruncate(fd, size), 0);
	close(fd);

	int pfd[2];
	cr_assert_eq(pipe(pfd), 0);
	pid_t pid = fork();
	if (pid == 0) {
		struct rusage ru0, ru1;
		getrusage(RUSAGE_SELF, &ru0);
		int rc = kpy_relocate_file(d, "big.txt", &R, &e);
		getrusage(RUSAGE_SELF, &ru1);
		long kb[2] = { ru0.ru_maxrss, ru1.ru_maxrss };
		if (write(pfd[1], kb, sizeof(kb)) != sizeof(kb))
			_exit(3);
		_exit(rc == 0 ? 0 : 2);
	}
	long kb[2];
	int status;
	close(pfd[1]);
	cr_assert_eq(read(pfd[0], kb, sizeof(kb)), (ssize_t)sizeof(kb));
	close(pfd[0]);
	waitpid(pid, &status, 0);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "relocation failed");
	fprintf(stderr, "# relocating a 200 MiB file: peak RSS %ld KiB (%ld KiB before)\n", kb[1], kb[0]);
	cr_assert_lt(kb[1] - kb[0], 16 * 1024, "relocation grew RSS by %ld KiB", kb[1] - kb[0]);
#if !defined(__SANITIZE_ADDRESS__)
	cr_assert_lt(kb[1], 40 * 1024, "peak RSS %ld KiB", kb[1]);
#endif

	/* the output: zeros, and each token's replacement where it moved to */
	FILE *f = fopen(p, "rb");
	cr_assert_not_null(f);
	static char buf[1 << 16];
	off_t shift = 0, pos = 0;
	size_t ti = 0, bad = 0;
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		for (size_t j = 0; j < n; j++, pos++) {
			char want = 0;
			while (ti < nt && pos >= t[ti].at + shift + (off_t)strlen(t[ti].out)) {
				shift += (off_t)strlen(t[ti].out) - (off_t)strlen(t[ti].in);
				ti++;
			}
			if (ti < nt && pos >= t[ti].at + shift)
				want = t[ti].out[pos - t[ti].at - shift];
			if (buf[j] != want && bad++ < 5)
				cr_log_error("byte %lld is %d, want %d", (long long)pos, buf[j], want);
		}
	}
	fclose(f);
	cr_assert_eq(bad, 0);
	while (ti < nt) {
		shift += (off_t)strlen(t[ti].out) - (off_t)strlen(t[ti].in);
		ti++;
	}
	cr_assert_eq(pos, size + shift);
	rm_tmpdir(d);
}

/* Around the 16 KiB where interpreter lines are looked for: a first line that does
 * not end there is not one; whatever the chunk size, file and buffer agree. */
Test(relocate, head_limit)
{
	char *d = mk_tmpdir(), p[PATH_MAX];
	size_t saved = kpy_relocate_chunk, n = 16384 + 40;
	char *t = malloc(n + 1);

	PATHF(p, "%s/bin", d);
	mkdir(p, 0755);
	for (size_t at = 16384 - 30; at < 16384 + 12; at += 3) {
		memset(t, 'a', n);
		t[n] = '\0';
		memcpy(t, "#!/old/env/bin/python3 ", 23);
		memcpy(t + at, " /old/env/x\n", 12);
		for (size_t c = 1; c < 12; c += 5) {
			kpy_relocate_chunk = c;
			same_as_buf(d, "bin/tool", t, n, &R);
			same_as_buf(d, "bin/tool", t, n - (at < n - 12 ? 0 : 1), &R);
		}
		char *o = NULL;
		size_t olen;
		cr_assert_eq(kpy_relocate_buf("bin/tool", t, n, &R, &o, &olen), 1);
		/* the newline ends the (long: trampoline) first line within 16 KiB only
		 * when AT+11 < 16384; else it is only text, where the path moves too */
		const char *want = at + 11 < 16384 ? "#!/bin/sh\n'''exec' \"/new/place/env/bin/python3\" aaa"
						   : "#!/new/place/env/bin/python3 aaa";
		cr_assert(strncmp(o, want, strlen(want)) == 0, "at %zu: %.40s", at, o);
		cr_assert(strstr(o, " /new/place/env/x\n") != NULL || at + 11 < 16384);
		free(o);
	}
	kpy_relocate_chunk = saved;
	free(t);
	rm_tmpdir(d);
}
