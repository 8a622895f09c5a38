/* xtract.h: writing an archive's entries into a fresh directory on several threads,
 * refusing every entry that would write outside it.
 *
 * One thread (the one reading the archive) calls every function below in the order of
 * the entries. It checks each entry and creates directories, symlinks and hard links
 * itself; regular files go to writer threads (small ones whole: open, write, mode,
 * mtime, close; large ones as positioned writes on one descriptor, closed by the last
 * piece). Directory modes and mtimes are set last (kpy_xt_fixup), deepest first.
 *
 * The rules: names are relative and have no ".." (after dropping "." and empty
 * components); every parent of an entry is a directory this extraction created (an
 * entry's own directory or one made for it), never a symlink and never a file, so no
 * write goes through a symlink; files are opened with O_CREAT|O_EXCL|O_NOFOLLOW and,
 * where the kernel has openat2, RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS as a second guard;
 * a name appears once (a directory may repeat); a hard link leads to a regular file
 * written before it. Setuid and setgid bits are dropped. */
#ifndef KPY_XTRACT_H
#define KPY_XTRACT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

struct kpy_progress;

struct kpy_xt_opts {
	int threads;                     /* writer threads (< 1: 1) */
	struct kpy_progress *progress;   /* told of bytes and files written; may be NULL */
	/* gives back a REF passed to kpy_xt_data, once its bytes are written (any thread) */
	void (*release)(void *ctx, void *ref);
	void *release_ctx;
};

struct kpy_xt;

/* An extraction into the directory DIRFD (stays the caller's; empty, made by the
 * caller). NULL when out of memory or threads cannot start (errno set). */
struct kpy_xt *kpy_xt_new(int dirfd, const struct kpy_xt_opts *o);

/* The entries. Each returns 0, or -1 once anything has failed (this entry or an
 * earlier write on a thread): kpy_xt_error says what. MTIME NULL: not kept. */
int kpy_xt_dir(struct kpy_xt *x, const char *name, mode_t perm, const struct timespec *mtime);
int kpy_xt_symlink(struct kpy_xt *x, const char *name, const char *target,
		   const struct timespec *mtime);
int kpy_xt_hardlink(struct kpy_xt *x, const char *name, const char *target);
/* A regular file of SIZE bytes; its data follows in kpy_xt_data calls, then
 * kpy_xt_file_end. */
int kpy_xt_file(struct kpy_xt *x, const char *name, mode_t perm, uint64_t size,
		const struct timespec *mtime);
/* LEN bytes of the current file at offset OFF (gaps stay holes). REF not NULL: the
 * bytes stay valid until the release callback gets REF (always called, also on
 * failure), and are written from where they are; NULL: they are copied. At most a
 * bounded amount of data waits for the threads: this blocks while more would. */
int kpy_xt_data(struct kpy_xt *x, const void *p, size_t len, uint64_t off, void *ref);
int kpy_xt_file_end(struct kpy_xt *x);

/* Wait until everything handed to the threads is written: 0, or -1 (kpy_xt_error). */
int kpy_xt_wait(struct kpy_xt *x);
/* After kpy_xt_wait: give directories their modes and mtimes, deepest first. */
int kpy_xt_fixup(struct kpy_xt *x);

/* The first failure: KPY_EDAMAGED with WHY saying which rule an entry broke ("it holds
 * two entries with the same name"), or a system error: *ERRNUM the errno, WHY what
 * failed. 0 when nothing failed. */
int kpy_xt_error(const struct kpy_xt *x, int *errnum, const char **why);

/* Stop the threads (what is queued is dropped) and free X; NULL is fine. The files
 * stay: the caller removes the directory. */
void kpy_xt_free(struct kpy_xt *x);

/* For the tests: the most bytes of copied data ever waiting at once. */
size_t kpy_xt_peak_copied(const struct kpy_xt *x);
/* The most copied bytes that may wait for the threads. */
#define KPY_XT_COPY_MAX (16u << 20)

#endif
