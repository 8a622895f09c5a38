/* zseek.h: zstd's seekable format: independent frames plus a seek table at the end, so
 * an archive stays a plain .tar.zst and can still be decompressed frame by frame in parallel. */
#ifndef KPY_ZSEEK_H
#define KPY_ZSEEK_H

#include <archive.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* The format (facebook/zstd, contrib/seekable_format): zstd frames, then one skippable
 * frame (magic 0x184D2A5E) holding an entry per frame (compressed size, decompressed
 * size, low 32 bits of the XXH64 of the data; u32 LE each) and a 9-byte footer (frame
 * count u32 LE, descriptor byte, magic 0x8F92EAB1). zstd -d, tar --zstd and bsdtar skip
 * the table. */

/* Largest frame (decompressed) kpy writes or accepts: a reader allocates that much per
 * thread, so a hostile table must not ask for more. */
#define KPY_ZS_FRAME_LIMIT (256u << 20)
/* Default frame size: the writer ends a frame when it holds this much. */
#define KPY_ZS_FRAME_DEFAULT (4u << 20)
/* Most frames in one file (16 TiB at the default size); also bounds a reader's memory. */
#define KPY_ZS_MAX_FRAMES (1u << 22)

/* --- writer --- */

/* Compresses what it is given into FD as independent frames, each with zstd's content
 * checksum, on THREADS threads with their own zstd contexts; the frames reach FD in
 * order. It holds about 2 * THREADS frames of data and their compressed forms. Not
 * thread-safe: one caller thread drives it. Errors stick: after a failure every call
 * returns -1 with the first error. */
struct kpy_zs_writer;

/* A writer onto FD (stays the caller's; written at its offset, sequentially) at zstd
 * LEVEL, compressing on THREADS (< 1: 1) threads, ending a frame when it holds
 * FRAME_MAX bytes (0: KPY_ZS_FRAME_DEFAULT; at most KPY_ZS_FRAME_LIMIT). *W gets it, to
 * free with kpy_zs_free. -1 (*W NULL) when out of memory, threads cannot start or an
 * argument is bad. */
int kpy_zs_open(int fd, int level, int threads, size_t frame_max, struct kpy_zs_writer **w,
		struct kpy_err *e);
/* Add LEN bytes of data; frames of FRAME_MAX are handed to the threads as they fill.
 * May block while every buffer is being compressed; writes finished frames to FD. */
int kpy_zs_write(struct kpy_zs_writer *w, const void *buf, size_t len, struct kpy_err *e);
/* End the current frame here, so that the next byte starts a new one (a frame
 * boundary at a tar entry). Nothing to end (an empty frame) is not an error. */
int kpy_zs_end_frame(struct kpy_zs_writer *w, struct kpy_err *e);
/* Bytes in the current, unended frame: lets a caller end frames only once they are
 * big enough to compress well. */
size_t kpy_zs_pending(const struct kpy_zs_writer *w);
/* End the last frame, write every frame and then the seek table to FD. The file is a
 * whole .tar.zst only once this returned 0; later calls return the same result. */
int kpy_zs_finish(struct kpy_zs_writer *w, struct kpy_err *e);
/* Frames written and bytes in and out so far (any may be NULL). */
void kpy_zs_stats(const struct kpy_zs_writer *w, size_t *frames, uint64_t *in, uint64_t *out);
/* Stop the threads and free W (NULL is fine); without kpy_zs_finish the file has no
 * seek table and is not a complete stream: the caller removes it. */
void kpy_zs_free(struct kpy_zs_writer *w);

/* Open A (a fresh archive_write with its format set) onto W: libarchive's bytes go to
 * kpy_zs_write, and archive_write_close calls kpy_zs_finish. Sets A's bytes per block
 * to 0, so that every byte of an entry has reached W when archive_write_finish_entry
 * returns and kpy_zs_end_frame then ends the frame at the entry boundary. W stays the
 * caller's: free A (archive_write_free) before W. libarchive ignores what a close
 * callback returns, so check kpy_zs_finish after archive_write_close. */
int kpy_zs_archive_open(struct archive *a, struct kpy_zs_writer *w, struct kpy_err *e);

/* --- reader --- */

struct kpy_zs_frame {
	uint64_t coff;     /* offset of the frame in the file */
	uint64_t doff;     /* offset of its data in the decompressed stream */
	uint32_t csize;    /* compressed size: the frame's bytes in the file */
	uint32_t dsize;    /* decompressed size, at most KPY_ZS_FRAME_LIMIT */
	uint32_t checksum; /* low 32 bits of XXH64 of the data; 0 without checksums */
};

struct kpy_zs_index {
	struct kpy_zs_frame *frames; /* malloc'd, n of them (NULL when n is 0) */
	size_t n;
	int checksums;     /* the table has checksums */
	uint64_t dsize;    /* the decompressed stream's size: sum of frames' dsize */
	uint64_t table_off; /* where the seek table frame starts: the frames end there */
	uint32_t dmax;     /* largest frame dsize */
};

#define KPY_ZS_NOINDEX 1

/* Read and check the seek table at the end of FD (read with pread; the size from
 * fstat). 0 with *IX filled (the caller frees it with kpy_zs_index_free); KPY_ZS_NOINDEX
 * when the file does not end with the seekable magic (a plain zstd stream: read it as a
 * stream), E untouched; -1 with KPY_EDAMAGED for a table that does not describe the
 * file exactly (sizes that do not add up, reserved bits, frames that are too big or too
 * many), or KPY_EFAIL for I/O and memory. NAME (may be NULL) names the file in
 * messages. On failure *IX is zeroed. Thread-safe (shares only FD). */
int kpy_zs_index_read(int fd, const char *name, struct kpy_zs_index *ix, struct kpy_err *e);
void kpy_zs_index_free(struct kpy_zs_index *ix);

/* A frame decoder: one zstd decompression context and an input buffer. Each thread
 * uses its own; decoders share nothing, so threads may decode frames of one FD at once.
 * NULL when out of memory. */
struct kpy_zs_dec;
struct kpy_zs_dec *kpy_zs_dec_new(void);
void kpy_zs_dec_free(struct kpy_zs_dec *d);

/* Decompress frame I of IX (an index read from FD) into DST, which has room for the
 * frame's dsize bytes (DST may be NULL when that is 0). The frame must be one zstd
 * frame of exactly csize bytes whose header gives dsize as its content size and has a
 * content checksum, equal to the table's checksum when it has them; zstd checks the
 * data against it. 0, or -1 with KPY_EDAMAGED (anything else in the frame), KPY_EINVAL
 * (no frame I) or KPY_EFAIL (I/O, memory). IX is only read, so threads share it. */
int kpy_zs_dec_frame(struct kpy_zs_dec *d, int fd, const char *name, const struct kpy_zs_index *ix,
		     size_t i, void *dst, struct kpy_err *e);

#endif
