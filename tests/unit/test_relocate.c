/* test_relocate.c: kpy/relocate.c: shebangs, trampolines, activate scripts, text. */
#include "helpers.h"
#include "relocate.h"

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
