/* envarchive.h: saving an environment to NAME.tar.zst and restoring it elsewhere. */
#ifndef KPY_ENVARCHIVE_H
#define KPY_ENVARCHIVE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "manifest.h"

struct kpy_progress; /* progress.h */

/* What a save wrote, so that the caller need not read the archive again. */
struct kpy_save_result {
	struct kpy_manifest manifest; /* the archive's manifest; kpy_manifest_free it */
	uint64_t size;                /* bytes of the archive */
	size_t frames;                /* its zstd frames (the seek table not counted) */
};

struct kpy_save_opts {
	const char *name;   /* saved name (recorded, and the new prompt) */
	const char *kind;   /* KPY_KIND_VENV (default) or KPY_KIND_UV */
	int force;          /* replace an existing archive */
	int level;          /* zstd level; 0 means 3 */
	int threads;        /* compression threads; 0: kpy_threads_pick's default */
	struct kpy_progress *progress; /* given the totals once the tree is listed, then
					* told of bytes and files done; or NULL */
	struct kpy_save_result *result; /* filled on success (zeroed on failure), or NULL */
	const char *script;   /* recorded in the manifest (kpy run's envs), or NULL */
	const char *requires; /* the same */
};

/* Archive the directory SRC to DEST (a .tar.zst path): written to a temporary file
 * beside DEST, fsync'd and renamed, so DEST is either the old or the new archive.
 * The archive is zstd's seekable format (zseek.h): independent frames of at most
 * KPY_ZS_FRAME_DEFAULT bytes of tar, each starting at an entry unless it continues a
 * file too big for one frame, and the seek table in a skippable frame at the end, so
 * it stays a plain .tar.zst for tar --zstd, bsdtar and zstd -d.
 * Regular files, directories and symlinks are archived; sockets, fifos and devices
 * are left out. For a venv, the live env's prompt then becomes opts->name and
 * SRC/.kpy/ gets the new manifest and package list (nothing else in SRC changes);
 * if that fails the save still succeeds and WARN says what went wrong. */
int kpy_archive_save(const char *src, const char *dest, const struct kpy_save_opts *opts,
		     struct kpy_err *warn, struct kpy_err *e);

/* Restore ARCHIVE to the directory DEST, which must not exist; its parent must. The
 * archive is extracted to a temporary directory beside DEST, relocated to DEST's path
 * (and the prompt changed to O->prompt unless NULL), then renamed to DEST. On failure
 * nothing is left behind. The archive's manifest is returned in M if not NULL.
 * Frames of a seekable archive (one with a seek table) are decoded on several threads
 * and files written on several (kpy/zpar.h, kpy/xtract.h); an archive without one is
 * streamed. Directory modes and mtimes are set last. */
struct kpy_restore_opts {
	const char *prompt; /* the restored env's prompt; NULL keeps the saved one */
	int threads;        /* threads to decode and write with; 0: kpy_threads_pick's default */
	struct kpy_progress *progress; /* told of bytes and files done, or NULL */
};
/* O may be NULL: the defaults. */
int kpy_archive_restore(const char *archive, const char *dest, const struct kpy_restore_opts *o,
			struct kpy_manifest *m, struct kpy_err *e);

/* Read only the manifest (the first entry) of ARCHIVE. */
int kpy_archive_manifest(const char *archive, struct kpy_manifest *m, struct kpy_err *e);

#endif
