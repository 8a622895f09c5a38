/* scratch.h: the per-job scratch the plugin makes when a job has no SLURM_TMPDIR:
 * <tmpdir>/kpy-jobs/<jobid>.<uid>, under a base only root can write to. */
#ifndef KPY_PLUGIN_SCRATCH_H
#define KPY_PLUGIN_SCRATCH_H

#include <stdint.h>
#include <sys/types.h>

#include "error.h"

#define KPY_SCRATCH_BASE "kpy-jobs"

/* <tmpdir>/kpy-jobs/<jobid>.<uid>; malloc'd, NULL when out of memory. */
char *kpy_scratch_path(const char *tmpdir, uint32_t jobid, uid_t uid);

/* 1 if PATH lies in <tmpdir>/kpy-jobs/ (a scratch the plugin made for some job). */
int kpy_scratch_is_ours(const char *tmpdir, const char *path);

/* As root: make (or accept, when another step made it) the job's scratch, owned by
 * UID:GID, mode 0700. The base <tmpdir>/kpy-jobs is made root-owned, mode 0711; if
 * another user squatted its name (a directory, file or symlink), that entry is moved
 * aside to kpy-jobs.squatted.XXXXXX, never followed or deleted, and NOTE (of SIZE
 * bytes) says so; NOTE is "" otherwise. Nothing is followed: every step works
 * through directory fds with O_NOFOLLOW. */
int kpy_scratch_make(const char *tmpdir, uint32_t jobid, uid_t uid, gid_t gid,
		     char *note, size_t size, struct kpy_err *e);

/* As root, in the job epilog: remove the job's scratch if the base is root's and the
 * entry is a directory of UID; touch nothing else. 1 if removed, 0 if there was none
 * (or it was left alone, with a reason in E), -1 on error. */
int kpy_scratch_remove(const char *tmpdir, uint32_t jobid, uid_t uid, struct kpy_err *e);

#endif
