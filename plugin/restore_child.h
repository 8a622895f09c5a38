/* restore_child.h: the restore child kpy_restore_run forks: everything that runs in
 * it, from the hygiene and the privilege drop to the restore and its reply. */
#ifndef KPY_PLUGIN_RESTORE_CHILD_H
#define KPY_PLUGIN_RESTORE_CHILD_H

#include <sys/types.h>

#include "args.h"
#include "restore.h"

/* In the child of fork(): restore NAME of KIND for J as kpy_restore_run describes,
 * write the struct kpy_reply to the pipe REPLY and _exit (0 restored, 1 failed,
 * 2 the reply could not be written, 3 hygiene failed, 4 PARENT, slurmstepd, died).
 * Frees, flushes and returns nothing of slurmstepd's. */
void kpy_restore_child(const struct kpy_job *j, const char *kind, const char *name,
		       const struct kpy_plugin_config *cfg, pid_t parent, int reply)
	__attribute__((noreturn));

#endif
