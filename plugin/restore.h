/* restore.h: slurmstepd's side of a restore: fork the child (restore_child.c) that
 * does it as the job's user, and wait for its reply with a deadline. */
#ifndef KPY_PLUGIN_RESTORE_H
#define KPY_PLUGIN_RESTORE_H

#include <stdint.h>
#include <sys/types.h>

#include "args.h"
#include "reply.h"

struct kpy_job {
	uid_t uid;
	gid_t gid;
	gid_t *gids;            /* not owned */
	int ngids;
	uint32_t jobid;
	char **env;             /* not owned: slurmstepd's copy of the job environment */
	char *home, *user;      /* malloc'd; fallbacks when the job environment lacks them */
	char *scratch;          /* malloc'd: $SLURM_TMPDIR, or the per-job dir we make */
	char *root;             /* malloc'd: the live root in it (kpy_live_scratch_root);
				 * NAME of a kind goes to kpy_live_path(root, kind, NAME) */
	int make_scratch;       /* scratch is ours: create (or check) it */
	int bcast;              /* a batch step that sends the archive to the job's nodes */
};

/* Restore NAME of KIND (KPY_KIND_VENV or KPY_KIND_UV) for job J in a child: all descriptors but the reply pipe closed,
 * oom_score_adj 0, default signal handling (SIGTERM kills it), root only to make the
 * scratch, then the job's user for good, not dumpable, killed if slurmstepd dies,
 * its address space bounded by CFG->restore_memory and its run by
 * CFG->restore_timeout. 0 with OUT filled (OUT->code says whether the restore
 * worked); -1 when the child could not run or gave no reply, with *ERR a malloc'd
 * message for the user (not yet escaped). */
int kpy_restore_run(const struct kpy_job *j, const char *kind, const char *name,
		    const struct kpy_plugin_config *cfg, struct kpy_reply *out, char **err);

#endif
