/* epilog.c: the job epilog (slurmd's job script context, as root): remove the
 * scratch the plugin made for the job. */
#include "autoconfig.h"
#include "epilog.h"

#include "args.h"
#include "error.h"
#include "fanout.h"
#include "log.h"
#include "scratch.h"

int kpy_job_epilog(spank_t sp, int ac, char **av)
{
	struct kpy_plugin_config c;
	struct kpy_err e = KPY_ERR_INIT;
	uint32_t jobid;
	uid_t uid;
	int rc;

	if (kpy_args_parse(ac, av, &c) < 0)
		return 0;
	if (spank_get_item(sp, S_JOB_ID, &jobid) != ESPANK_SUCCESS ||
	    spank_get_item(sp, S_JOB_UID, &uid) != ESPANK_SUCCESS) {
		kpy_log_error("kpy: epilog: cannot read the job id and user from Slurm");
		return 0;
	}
	rc = kpy_scratch_remove(c.tmpdir, jobid, uid, &e);
	if (rc < 0)
		kpy_log_error("kpy: epilog: %s", e.msg);
	else if (rc > 0)
		kpy_log_info("kpy: removed job scratch %s/" KPY_SCRATCH_BASE "/%u.%u", c.tmpdir,
			     jobid, (unsigned)uid);
	else if (e.code != KPY_OK)
		kpy_log_info("kpy: epilog: %s", e.msg);
	/* the broadcast copies of the job (fanout.h) */
	kpy_err_clear(&e);
	rc = kpy_fanout_remove(c.tmpdir, jobid, uid, &e);
	if (rc < 0)
		kpy_log_error("kpy: epilog: %s", e.msg);
	else if (rc > 0)
		kpy_log_info("kpy: removed %d broadcast cop%s of job %u from %s/" KPY_FANOUT_DIR,
			     rc, rc == 1 ? "y" : "ies", jobid, c.tmpdir);
	return 0;
}
