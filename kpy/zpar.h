/* zpar.h: a seekable archive's frames decoded ahead on several threads and handed to
 * libarchive's tar reader in order, from a bounded pool of frame buffers. */
#ifndef KPY_ZPAR_H
#define KPY_ZPAR_H

#include <archive.h>
#include <stddef.h>

#include "error.h"
#include "zseek.h"

/* Most bytes of frame buffers one reader holds: with big frames (a hostile or a
 * hand-made table may claim up to KPY_ZS_FRAME_LIMIT) the pool shrinks, down to 2. */
#define KPY_ZPAR_BUDGET (192u << 20)

struct kpy_zpar;
/* A held frame buffer: data handed out by the reader stays valid until released. */
struct kpy_zpar_hold;

/* Open A (an archive_read with formats set) on the frames of IX (read from FD, which
 * both stay the caller's and must outlive the reader), decoding on THREADS (< 1: 1)
 * threads into a pool of min(2 * THREADS + 2, KPY_ZPAR_BUDGET / largest frame)
 * buffers (at least 2). NAME names the file in messages. *ZP gets the reader: free it
 * with kpy_zpar_free after archive_read_free, once every hold is released. -1 with E
 * set (out of memory, threads) or, when libarchive finds no tar in the first frame, E
 * KPY_EDAMAGED with kpy_zpar_why saying why. */
int kpy_zpar_open(struct archive *a, int fd, const char *name, const struct kpy_zs_index *ix,
		  int threads, struct kpy_zpar **zp, struct kpy_err *e);

/* If [P, P + LEN) lies in the frame libarchive reads now (what archive_read_data_block
 * just returned, say), keep that buffer from reuse until kpy_zpar_release: the hold.
 * NULL when it does not (the data is libarchive's own copy: copy it). Thread-safe with
 * kpy_zpar_release; call it from the thread that reads the archive. */
struct kpy_zpar_hold *kpy_zpar_hold(struct kpy_zpar *zp, const void *p, size_t len);
/* Give a hold back; any thread. */
void kpy_zpar_release(struct kpy_zpar *zp, struct kpy_zpar_hold *h);

/* Decode every frame libarchive did not ask for (after the tar's end), so that damage
 * there is found too: 0, or -1 with kpy_zpar_why saying what is wrong. */
int kpy_zpar_drain(struct archive *a, struct kpy_zpar *zp);
/* Why reading failed: a frame that did not decode ("frame 3 is corrupt: ..."); NULL
 * when no frame failed. *CODE (may be NULL) gets the error's code (KPY_EDAMAGED for
 * damage, else an I/O or memory failure). */
const char *kpy_zpar_why(const struct kpy_zpar *zp, int *code);
/* The pool's size and the most buffers ever in use at once (for the tests). */
void kpy_zpar_stats(const struct kpy_zpar *zp, size_t *slots, size_t *peak);
/* Stop the threads, free the buffers. NULL is fine. */
void kpy_zpar_free(struct kpy_zpar *zp);

#endif
