/* progress.h: a progress line on a terminal for saves and restores that take a while:
 * bytes and files done, the rate and the time left. */
#ifndef KPY_PROGRESS_H
#define KPY_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

enum kpy_progress_mode {
	KPY_PROGRESS_AUTO,   /* only on a terminal, once the work has taken more than 1 s */
	KPY_PROGRESS_ALWAYS, /* from the start, terminal or not (a line a second elsewhere) */
	KPY_PROGRESS_NEVER,
};

struct kpy_progress;

/* A progress report on FD of VERB ("restoring") WHAT ("torch"), out of TOTAL_BYTES and
 * TOTAL_FILES (0: not known). NULL when there is nothing to show (MODE NEVER, or AUTO
 * and FD is not a terminal) or no memory; every function takes NULL and does nothing. */
struct kpy_progress *kpy_progress_new(int fd, enum kpy_progress_mode mode, const char *verb,
				      const char *what, uint64_t total_bytes, uint64_t total_files);
/* The totals, once known (a save learns them after P was made): call it before P is
 * shared with other threads. */
void kpy_progress_totals(struct kpy_progress *p, uint64_t total_bytes, uint64_t total_files);
/* BYTES and FILES more are done. Thread-safe and cheap: counts with atomics; whichever
 * thread finds the line due (ten times a second on a terminal) redraws it. */
void kpy_progress_add(struct kpy_progress *p, uint64_t bytes, uint64_t files);
/* The work is over: the line (if shown) is erased on a terminal; P is freed. */
void kpy_progress_end(struct kpy_progress *p);
/* The mode the text S names: "auto", "always" or "never" (the KPY_PROGRESS variable);
 * NULL or anything else is AUTO. */
enum kpy_progress_mode kpy_progress_mode_of(const char *s);

/* The line for DONE_* of TOTAL_* after SECS seconds, into BUF (for the tests): "VERB
 * WHAT: 1.2 GB of 2.4 GB, 812 of 1400 files, 410 MB/s, 3 s left". */
void kpy_progress_format(char *buf, size_t size, const char *verb, const char *what,
			 uint64_t done_bytes, uint64_t total_bytes, uint64_t done_files,
			 uint64_t total_files, double secs);

#endif
