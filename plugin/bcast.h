/* bcast.h: the restore child's part of the fan-out (kpy/fanout.h): use the node's
 * broadcast copy when it is there and sound, and in a batch step send the archive to
 * every node of the job first. */
#ifndef KPY_PLUGIN_BCAST_H
#define KPY_PLUGIN_BCAST_H

#include "args.h"
#include "reply.h"
#include "restore.h"

/* As root, before the drop: make the base the copies go to, and look for the copy of
 * NAME of KIND of this job (named by the batch step's token in the job's environment,
 * else found by its name in the base, which only root may list). A squatter moved
 * aside is noted in OUT->note. */
void kpy_fanout_prepare(const struct kpy_job *j, const char *kind, const char *name,
			const struct kpy_plugin_config *cfg, struct kpy_reply *out);

/* As the job's user. When kpy_fanout_prepare found a copy and DEST is not restored yet: the checked local copy (malloc'd), with
 * OUT->from_copy set; else NULL, and OUT->note says why a copy there was not used. */
char *kpy_fanout_use(const struct kpy_job *j, const char *kind, const char *name,
		     const char *dest, const struct kpy_plugin_config *cfg, struct kpy_reply *out);

/* As the job's user, in a batch step with J->bcast: copy ARCHIVE (the pipdir's) into
 * the job's scratch, sbcast it to every node of the job and put the token in
 * OUT->fanout. The checked local copy to restore from (malloc'd), or NULL with
 * OUT->note saying why (restore from ARCHIVE then). */
char *kpy_fanout_batch(const struct kpy_job *j, const char *kind, const char *name,
		       const char *archive, const struct kpy_plugin_config *cfg,
		       struct kpy_reply *out);

#endif
