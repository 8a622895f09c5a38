/* test_publish.c: kpy/publish.c, kpy/fdio.c and kpy/buf.c: files replaced whole or not
 * at all, the temporaries of dead writers swept, reads and writes that finish, growing
 * buffers. */
#include "helpers.h"
#include "buf.h"
#include "fdio.h"
#include "publish.h"

#include <dirent.h>
#include <errno.h>
#include <sys/file.h>
#include <sys/wait.h>

static int entries(const char *dir)
{
	DIR *d = opendir(dir);
	int n = 0;

	cr_assert_not_null(d);
	for (struct dirent *de; (de = readdir(d)) != NULL; )
		n += de->d_name[0] != '.' || (de->d_name[1] != '\0' && strcmp(de->d_name, "..") != 0);
	closedir(d);
	return n;
}

Test(publish, write_file_replaces_keeps_mode_and_refuses_with_noreplace)
{
	struct kpy_err e = KPY_ERR_INIT;
	char *d = mk_tmpdir(), p[PATH_MAX], *text;
	struct stat st;

	PATHF(p, "%s/f", d);
	put(p, "old", 0640);
	cr_assert_eq(kpy_write_file(AT_FDCWD, p, "new!", 4, 0600, KPY_PUBLISH_SYNC | KPY_PUBLISH_KEEPMODE, &e), 0, "%s", e.msg);
	cr_assert_eq(kpy_read_file(p, 100, 0, &text, NULL, NULL, &e), 0);
	cr_assert_str_eq(text, "new!");
	free(text);
	cr_assert_eq(stat(p, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0640, "the old mode is kept");
	cr_assert_eq(kpy_write_file(AT_FDCWD, p, "x", 1, 0644, KPY_PUBLISH_NOREPLACE, &e), -1);
	cr_assert_eq(e.code, KPY_EEXIST, "%s", e.msg);
	cr_assert_eq(kpy_read_file(p, 100, 0, &text, NULL, NULL, &e), 0);
	cr_assert_str_eq(text, "new!", "NOREPLACE left the target alone");
	free(text);
	cr_assert_eq(entries(d), 1, "no temporary left");
	/* relative to a directory fd */
	int dfd = open(d, O_RDONLY | O_DIRECTORY);
	kpy_err_clear(&e);
	cr_assert_eq(kpy_write_file(dfd, "g", "g", 1, 0644, 0, &e), 0, "%s", e.msg);
	close(dfd);
	PATHF(p, "%s/g", d);
	cr_assert_eq(access(p, F_OK), 0);
	/* a directory that cannot be written: an error naming the target, nothing made */
	PATHF(p, "%s/missing/f", d);
	kpy_err_clear(&e);
	cr_assert_eq(kpy_write_file(AT_FDCWD, p, "x", 1, 0644, 0, &e), -1);
	cr_assert(strstr(e.msg, p) != NULL, "%s", e.msg);
	rm_tmpdir(d);
}

Test(publish, temp_names_fit_name_max_and_dead_writers_are_swept)
{
	struct kpy_err e = KPY_ERR_INIT;
	char *d = mk_tmpdir(), base[300], tmp[PATH_MAX], p[PATH_MAX];

	memset(base, 'b', 255);
	base[255] = '\0';
	cr_assert_eq(kpy_temp_name(tmp, sizeof(tmp), d, base, KPY_TEMP_MARK, &e), 0, "%s", e.msg);
	cr_assert(strlen(strrchr(tmp, '/') + 1) <= NAME_MAX, "%s", tmp);
	cr_assert_str_eq(tmp + strlen(tmp) - 6, "XXXXXX");

	/* a writer that died: its temporary goes; ours (alive) and foreign names stay */
	pid_t pid = fork();
	if (pid == 0) {
		char t[PATH_MAX];
		struct kpy_err ce = KPY_ERR_INIT;
		if (kpy_temp_name(t, sizeof(t), d, "a.tar.zst", KPY_TEMP_MARK, &ce) < 0 || mkstemp(t) < 0)
			_exit(1);
		_exit(0);
	}
	int status;
	waitpid(pid, &status, 0);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	struct kpy_tmpfile t;
	PATHF(p, "%s/b.tar.zst", d);
	cr_assert_eq(kpy_tmpfile_open(&t, AT_FDCWD, p, 0644, &e), 0, "%s", e.msg);
	PATHF(p, "%s/.c.tar.zst.otherhost-1-abcdef", d);
	put(p, "x", 0644);
	cr_assert_eq(entries(d), 3);
	kpy_temp_sweep(d, ".tar.zst" KPY_TEMP_MARK, 0);
	cr_assert_eq(entries(d), 2, "only the dead writer's temporary is gone");
	cr_assert_eq(access(t.tmp, F_OK), 0, "a live writer's stays");
	kpy_tmpfile_discard(&t);
	cr_assert_eq(entries(d), 1);
	rm_tmpdir(d);
}

Test(publish, full_reads_and_writes_through_a_pipe)
{
	int fds[2];
	char big[200000], got[200001];

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)('a' + i % 26);
	cr_assert_eq(pipe(fds), 0);
	pid_t pid = fork();
	if (pid == 0) { /* writes in pieces larger than the pipe holds */
		close(fds[0]);
		_exit(kpy_write_full(fds[1], big, sizeof(big)) == 0 ? 0 : 1);
	}
	close(fds[1]);
	cr_assert_eq(kpy_read_full(fds[0], got, sizeof(got)), (ssize_t)sizeof(big), "reads until end of file");
	cr_assert_eq(memcmp(got, big, sizeof(big)), 0);
	close(fds[0]);
	int status;
	waitpid(pid, &status, 0);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	/* kpy_read_file: cut at MAX, and says so */
	struct kpy_err e = KPY_ERR_INIT;
	char *d = mk_tmpdir(), p[PATH_MAX], *text;
	size_t len;
	int truncated;
	PATHF(p, "%s/f", d);
	put(p, "0123456789", 0644);
	cr_assert_eq(kpy_read_file(p, 4, 0, &text, &len, &truncated, &e), 0);
	cr_assert(len == 4 && truncated && strcmp(text, "0123") == 0);
	free(text);
	cr_assert_eq(kpy_read_file(p, 10, 0, &text, &len, &truncated, &e), 0);
	cr_assert(len == 10 && !truncated);
	free(text);
	PATHF(p, "%s/nope", d);
	cr_assert_eq(kpy_read_file(p, 10, 0, &text, &len, NULL, &e), -1);
	cr_assert(errno == ENOENT && text == NULL && strstr(e.msg, p));
	rm_tmpdir(d);
}

Test(publish, buffers_and_arrays_grow)
{
	struct kpy_buf b = KPY_BUF_INIT;
	size_t cap = 0;
	int *v = NULL;

	for (int i = 0; i < 1000; i++)
		kpy_buf_addf(&b, "%d,", i);
	kpy_buf_adds(&b, "end");
	cr_assert(!b.oom);
	cr_assert_eq(strlen(b.p), b.len);
	cr_assert(strncmp(b.p, "0,1,2,", 6) == 0 && strcmp(b.p + b.len - 7, "999,end") == 0);
	kpy_buf_free(&b);
	cr_assert_null(b.p);
	for (size_t i = 0; i < 5000; i++) {
		int *nv = kpy_grow(v, &cap, i, sizeof(*v), 16);
		cr_assert_not_null(nv);
		v = nv;
		v[i] = (int)i;
	}
	cr_assert(cap >= 5000 && v[4999] == 4999 && v[0] == 0);
	size_t c2 = cap;
	cr_assert_eq(kpy_grow(v, &c2, (size_t)-1 / 2, sizeof(*v), 16), NULL, "an impossible size fails");
	cr_assert_eq(c2, cap, "and changes nothing");
	free(v);
}
