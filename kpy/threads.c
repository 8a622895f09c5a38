/* threads.c: how many threads save and restore use. */
#include "autoconfig.h"
#include "threads.h"

#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

int kpy_cpus_usable(void)
{
	cpu_set_t set;
	int n = 0;

	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		n = CPU_COUNT(&set);
	if (n < 1)
		n = (int)sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n;
}

static const char *env_get(const char *name, const void *arg)
{
	(void)arg;
	return getenv(name);
}

/* A positive decimal number up to KPY_THREADS_MAX in S, else 0. */
static int count(const char *s)
{
	char *end;
	long v;

	if (s == NULL || *s < '0' || *s > '9')
		return 0;
	v = strtol(s, &end, 10);
	if (*end != '\0' || v < 1)
		return 0;
	return v > KPY_THREADS_MAX ? KPY_THREADS_MAX : (int)v;
}

int kpy_threads_pick(int req, int cfg_threads, kpy_getenv_fn *get, const void *arg)
{
	int usable = kpy_cpus_usable(), n;

	if (req > 0 || cfg_threads > 0) {
		n = req > 0 ? req : cfg_threads;
		return n > KPY_THREADS_MAX ? KPY_THREADS_MAX : n;
	}
	if (get == NULL)
		get = env_get;
	n = usable;
	if (get("SLURM_JOB_ID", arg) != NULL) {
		int job = count(get("SLURM_CPUS_ON_NODE", arg));
		if (job > 0 && job < n)
			n = job;
	}
	return n > KPY_THREADS_MAX ? KPY_THREADS_MAX : n;
}
