/* test_progress.c: kpy/progress.c: the line's words, nothing off a terminal unless asked,
 * counts from many threads at once, and kpy/threads.c's choice of thread count. */
#include "helpers.h"
#include <pthread.h>
#include "progress.h"
#include "threads.h"

Test(progress, line_names_what_and_how_far)
{
	char b[256];

	kpy_progress_format(b, sizeof(b), "restoring", "torch", 1200000000ull, 2400000000ull, 812, 1400, 3.0);
	cr_assert(strstr(b, "restoring torch: ") == b, "%s", b);
	cr_assert(strstr(b, " of ") != NULL && strstr(b, "812 of 1400 files") != NULL, "%s", b);
	cr_assert(strstr(b, "/s") != NULL, "%s", b);
	/* half done in 3 s: 3 s left */
	cr_assert(strstr(b, ", 3 s left") != NULL, "%s", b);
	/* unknown totals: no "of", no time left */
	kpy_progress_format(b, sizeof(b), "saving", "x", 100, 0, 2, 0, 1.0);
	cr_assert(strstr(b, " of ") == NULL && strstr(b, "left") == NULL, "%s", b);
	cr_assert(strstr(b, "2 files") != NULL, "%s", b);
	/* a buffer too small is cut, not overrun */
	char small[12];
	memset(small, 'x', sizeof(small));
	kpy_progress_format(small, 8, "restoring", "torch", 1, 2, 3, 4, 1.0);
	cr_assert_eq(small[8], 'x');
	cr_assert_eq(strlen(small), 7);
}

Test(progress, modes)
{
	cr_assert_eq(kpy_progress_mode_of("always"), KPY_PROGRESS_ALWAYS);
	cr_assert_eq(kpy_progress_mode_of("never"), KPY_PROGRESS_NEVER);
	cr_assert_eq(kpy_progress_mode_of(NULL), KPY_PROGRESS_AUTO);
	cr_assert_eq(kpy_progress_mode_of("sometimes"), KPY_PROGRESS_AUTO);
}

Test(progress, nothing_off_a_terminal)
{
	int p[2];

	cr_assert_eq(pipe(p), 0);
	cr_assert_null(kpy_progress_new(p[1], KPY_PROGRESS_AUTO, "saving", "x", 10, 1));
	cr_assert_null(kpy_progress_new(p[1], KPY_PROGRESS_NEVER, "saving", "x", 10, 1));
	/* NULL is a progress that shows nothing */
	kpy_progress_add(NULL, 1, 1);
	kpy_progress_end(NULL);
	close(p[0]);
	close(p[1]);
}

struct adder {
	struct kpy_progress *p;
};

static void *add_many(void *arg)
{
	struct adder *a = arg;

	for (int i = 0; i < 10000; i++)
		kpy_progress_add(a->p, 3, 1);
	return NULL;
}

Test(progress, counts_from_threads_add_up)
{
	int p[2];
	pthread_t t[4];
	struct adder a;
	char buf[4096];
	ssize_t n;

	cr_assert_eq(pipe(p), 0);
	a.p = kpy_progress_new(p[1], KPY_PROGRESS_ALWAYS, "restoring", "env", 120000, 40000);
	cr_assert_not_null(a.p);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, add_many, &a), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	kpy_progress_end(a.p);
	close(p[1]);
	n = read(p[0], buf, sizeof(buf) - 1);
	close(p[0]);
	cr_assert_gt(n, 0);
	buf[n] = '\0';
	/* the last line, written at the end, has every file */
	cr_assert(strstr(buf, "40000 of 40000 files") != NULL, "%s", buf);
	cr_assert(strstr(buf, "left") == NULL || strstr(buf, "\n") != NULL, "%s", buf);
}

static const char *vars(const char *name, const void *arg)
{
	for (const char *const *v = arg; *v; v += 2)
		if (strcmp(v[0], name) == 0)
			return v[1];
	return NULL;
}

Test(threads, asked_for_wins_then_setting_then_job)
{
	const char *none[] = { NULL };
	const char *job[] = { "SLURM_JOB_ID", "7", "SLURM_CPUS_ON_NODE", "1", NULL };
	const char *bad[] = { "SLURM_JOB_ID", "7", "SLURM_CPUS_ON_NODE", "x1", NULL };
	const char *nojob[] = { "SLURM_CPUS_ON_NODE", "1", NULL };
	int all = kpy_cpus_usable();

	cr_assert_geq(all, 1);
	cr_assert_eq(kpy_threads_pick(5, 3, vars, job), 5);
	cr_assert_eq(kpy_threads_pick(0, 3, vars, job), 3);
	cr_assert_eq(kpy_threads_pick(1000, 0, vars, none), KPY_THREADS_MAX);
	cr_assert_eq(kpy_threads_pick(0, 0, vars, job), 1);
	cr_assert_eq(kpy_threads_pick(0, 0, vars, none), all > KPY_THREADS_MAX ? KPY_THREADS_MAX : all);
	/* outside a job SLURM_CPUS_ON_NODE means nothing; a bad one is ignored */
	cr_assert_eq(kpy_threads_pick(0, 0, vars, nojob), kpy_threads_pick(0, 0, vars, none));
	cr_assert_eq(kpy_threads_pick(0, 0, vars, bad), kpy_threads_pick(0, 0, vars, none));
}
