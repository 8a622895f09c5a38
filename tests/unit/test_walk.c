/* test_walk.c: kpy/walk.c: the tree a save lists: depth first, each directory sorted
 * by bytes, the root's .kpy left out (a nested one kept), names with a newline
 * refused, hard links pointed at their first entry, the package list. */
#include "helpers.h"
#include "walk.h"

static char *d;

static void setup(void)
{
	d = mk_tmpdir();
}

static void teardown(void)
{
	rm_tmpdir(d);
}

TestSuite(walk, .init = setup, .fini = teardown);

static int walk(struct kpy_walk *w, struct kpy_err *e)
{
	int fd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	cr_assert(fd >= 0);
	return kpy_walk_dir(w, fd, "", d, e);
}

static void mk(const char *rel, int dir)
{
	char p[PATH_MAX];

	PATHF(p, "%s/%s", d, rel);
	if (dir)
		cr_assert_eq(mkdir(p, 0755), 0, "%s", p);
	else
		put(p, "x", 0644);
}

Test(walk, sorted_depth_first_and_the_root_kpy_left_out)
{
	struct kpy_err e = KPY_ERR_INIT;
	struct kpy_walk w = { 0 };
	static const char *const want[] = { "B", "B/z", "a", "a/.kpy", "a/.kpy/m", "a/b", "a/b/c",
					    "a/b2", "a-", "z", NULL };
	char p[PATH_MAX];

	mk("z", 0); mk("a", 1); mk("a-", 0); mk("B", 1); mk("B/z", 0); mk("a/b", 1);
	mk("a/b/c", 0); mk("a/b2", 0); mk(".kpy", 1); mk(".kpy/manifest.ini", 0);
	mk("a/.kpy", 1); mk("a/.kpy/m", 0);
	PATHF(p, "%s/zlink", d);
	cr_assert_eq(symlink("a", p), 0);
	cr_assert_eq(walk(&w, &e), 0, "%s", e.msg);
	size_t i;
	for (i = 0; want[i] != NULL; i++) {
		cr_assert(i < w.n);
		cr_assert_str_eq(w.v[i].rel, want[i], "entry %zu", i);
		cr_assert_null(w.v[i].link);
	}
	cr_assert_eq(w.n, i + 1, "and the symlink, not followed");
	cr_assert_str_eq(w.v[i].rel, "zlink");
	cr_assert(S_ISLNK(w.v[i].st.st_mode), "lstat, not stat");
	kpy_walk_free(&w);
}

Test(walk, a_newline_in_a_name_is_refused_by_name)
{
	struct kpy_err e = KPY_ERR_INIT;
	struct kpy_walk w = { 0 };

	mk("ok", 1);
	mk("ok/bad\nname", 0);
	cr_assert_eq(walk(&w, &e), -1);
	cr_assert_eq(e.code, KPY_EINVAL);
	cr_assert(strstr(e.msg, "newline") && strstr(e.msg, "ok/bad") && strstr(e.msg, "rename it"), "%s", e.msg);
	kpy_walk_free(&w);
}

Test(walk, hard_links_point_at_their_first_entry)
{
	struct kpy_err e = KPY_ERR_INIT;
	struct kpy_walk w = { 0 };
	char a[PATH_MAX], b[PATH_MAX], c[PATH_MAX];

	mk("d", 1);
	mk("d/a", 0);
	mk("solo", 0);
	PATHF(a, "%s/d/a", d);
	PATHF(b, "%s/z", d);
	PATHF(c, "%s/d/b", d);
	cr_assert_eq(link(a, b), 0);
	cr_assert_eq(link(a, c), 0);
	cr_assert_eq(walk(&w, &e), 0, "%s", e.msg);
	cr_assert_eq(kpy_walk_links(&w, &e), 0, "%s", e.msg);
	for (size_t i = 0; i < w.n; i++) {
		const char *r = w.v[i].rel, *l = w.v[i].link;
		if (strcmp(r, "d/b") == 0 || strcmp(r, "z") == 0)
			cr_assert(l != NULL && strcmp(l, "d/a") == 0, "%s -> %s", r, l ? l : "(none)");
		else
			cr_assert_null(l, "%s", r);
	}
	kpy_walk_free(&w);
}

Test(walk, package_list_names_only_dist_info_of_site_packages)
{
	struct kpy_err e = KPY_ERR_INIT;
	struct kpy_walk w = { 0 };
	size_t len = 99;

	mk("lib", 1); mk("lib/python3.11", 1); mk("lib/python3.11/site-packages", 1);
	mk("lib/python3.11/site-packages/numpy-1.26.dist-info", 1);
	mk("lib/python3.11/site-packages/attrs-23.1.dist-info", 1);
	mk("lib/python3.11/site-packages/numpy", 1);
	mk("lib/python3.11/site-packages/numpy/inner.dist-info", 1);
	mk("lib/python3.11/site-packages/file.dist-info-not", 0);
	mk("lib/other", 1); mk("lib/other/site-packages", 1);
	mk("lib/other/site-packages/x-1.dist-info", 1);
	cr_assert_eq(walk(&w, &e), 0, "%s", e.msg);
	char *list = kpy_package_list(&w, &len);
	cr_assert_not_null(list);
	cr_assert_str_eq(list, "attrs-23.1.dist-info\nnumpy-1.26.dist-info\n");
	cr_assert_eq(len, strlen(list));
	free(list);
	kpy_walk_free(&w);
	struct kpy_walk empty = { 0 };
	cr_assert_not_null(list = kpy_package_list(&empty, &len));
	cr_assert_eq(len, 0);
	free(list);
}
