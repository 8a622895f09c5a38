/* progress.c: a progress line for long saves and restores. */
#include "autoconfig.h"
#include "progress.h"
#include "fdio.h"
#include "text.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SHOW_AFTER_NS 1000000000LL /* AUTO: nothing for work done within a second */
#define TTY_EVERY_NS 100000000LL   /* redraws on a terminal */
#define LOG_EVERY_NS 1000000000LL  /* lines elsewhere (ALWAYS) */

struct kpy_progress {
	int fd, tty;
	enum kpy_progress_mode mode;
	char *verb, *what;
	uint64_t total_bytes, total_files;
	long long start;
	_Atomic uint64_t bytes, files;
	_Atomic long long next;  /* when the line is next due */
	_Atomic int shown;       /* a line was drawn on the terminal */
};

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

enum kpy_progress_mode kpy_progress_mode_of(const char *s)
{
	if (s != NULL && strcmp(s, "always") == 0)
		return KPY_PROGRESS_ALWAYS;
	if (s != NULL && strcmp(s, "never") == 0)
		return KPY_PROGRESS_NEVER;
	return KPY_PROGRESS_AUTO;
}

static void duration(char *buf, size_t size, double s)
{
	if (s < 60)
		snprintf(buf, size, "%.0f s", s < 1 ? 1 : s);
	else if (s < 3600)
		snprintf(buf, size, "%d min %02d s", (int)s / 60, (int)s % 60);
	else
		snprintf(buf, size, "%d h %02d min", (int)s / 3600, (int)s % 3600 / 60);
}

void kpy_progress_format(char *buf, size_t size, const char *verb, const char *what,
			 uint64_t done_bytes, uint64_t total_bytes, uint64_t done_files,
			 uint64_t total_files, double secs)
{
	char db[32], tb[32], rate[32], left[32];
	double r = secs > 0 ? (double)done_bytes / secs : 0;
	int n;

	kpy_human_size(db, sizeof(db), (double)done_bytes);
	kpy_human_size(tb, sizeof(tb), (double)total_bytes);
	kpy_human_size(rate, sizeof(rate), r);
	n = snprintf(buf, size, "%s %s: %s", verb, what, db);
	if (total_bytes > 0 && n >= 0 && (size_t)n < size)
		n += snprintf(buf + n, size - (size_t)n, " of %s", tb);
	if (n >= 0 && (size_t)n < size)
		n += snprintf(buf + n, size - (size_t)n, ", %llu", (unsigned long long)done_files);
	if (total_files > 0 && n >= 0 && (size_t)n < size)
		n += snprintf(buf + n, size - (size_t)n, " of %llu", (unsigned long long)total_files);
	if (n >= 0 && (size_t)n < size)
		n += snprintf(buf + n, size - (size_t)n, " files, %s/s", rate);
	if (total_bytes > done_bytes && r > 0 && n >= 0 && (size_t)n < size) {
		duration(left, sizeof(left), (double)(total_bytes - done_bytes) / r);
		snprintf(buf + n, size - (size_t)n, ", %s left", left);
	}
}

struct kpy_progress *kpy_progress_new(int fd, enum kpy_progress_mode mode, const char *verb,
				      const char *what, uint64_t total_bytes, uint64_t total_files)
{
	struct kpy_progress *p;
	int tty = isatty(fd);

	if (mode == KPY_PROGRESS_NEVER || (mode == KPY_PROGRESS_AUTO && !tty))
		return NULL;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	p->verb = strdup(verb ? verb : "");
	p->what = strdup(what ? what : "");
	if (p->verb == NULL || p->what == NULL) {
		free(p->verb);
		free(p->what);
		free(p);
		return NULL;
	}
	p->fd = fd;
	p->tty = tty;
	p->mode = mode;
	p->total_bytes = total_bytes;
	p->total_files = total_files;
	p->start = now_ns();
	atomic_init(&p->bytes, 0);
	atomic_init(&p->files, 0);
	atomic_init(&p->next, p->start + (mode == KPY_PROGRESS_AUTO ? SHOW_AFTER_NS : 0));
	atomic_init(&p->shown, 0);
	return p;
}

void kpy_progress_totals(struct kpy_progress *p, uint64_t total_bytes, uint64_t total_files)
{
	if (p == NULL)
		return;
	p->total_bytes = total_bytes;
	p->total_files = total_files;
}

static void draw(struct kpy_progress *p, long long t)
{
	char line[512];
	size_t n;

	kpy_progress_format(line, sizeof(line) - 8, p->verb, p->what, atomic_load(&p->bytes),
			    p->total_bytes, atomic_load(&p->files), p->total_files,
			    (double)(t - p->start) / 1e9);
	n = strlen(line);
	if (p->tty) {
		/* \r, the line, then erase what a longer earlier line left */
		memmove(line + 1, line, n + 1);
		line[0] = '\r';
		memcpy(line + n + 1, "\033[K", 4);
		n += 4;
		atomic_store(&p->shown, 1);
	} else {
		line[n++] = '\n';
		line[n] = '\0';
	}
	kpy_write_full(p->fd, line, n);
}

void kpy_progress_add(struct kpy_progress *p, uint64_t bytes, uint64_t files)
{
	long long t, due;

	if (p == NULL)
		return;
	atomic_fetch_add_explicit(&p->bytes, bytes, memory_order_relaxed);
	atomic_fetch_add_explicit(&p->files, files, memory_order_relaxed);
	t = now_ns();
	due = atomic_load_explicit(&p->next, memory_order_relaxed);
	if (t < due)
		return;
	/* one thread wins the redraw: the others see the new time */
	if (atomic_compare_exchange_strong(&p->next, &due, t + (p->tty ? TTY_EVERY_NS : LOG_EVERY_NS)))
		draw(p, t);
}

void kpy_progress_end(struct kpy_progress *p)
{
	if (p == NULL)
		return;
	if (p->tty && atomic_load(&p->shown))
		kpy_write_full(p->fd, "\r\033[K", 4);
	else if (!p->tty && p->mode == KPY_PROGRESS_ALWAYS)
		draw(p, now_ns()); /* the last figures, for a log */
	free(p->verb);
	free(p->what);
	free(p);
}
