/* slurmd.c: slurmd itself: check the plugstack arguments when the daemon starts, so
 * a bad plugstack.conf line shows in its log at once. */
#include "autoconfig.h"
#include "slurmd.h"

#include "args.h"
#include "fanout.h"
#include "log.h"

int kpy_slurmd_init(spank_t sp, int ac, char **av)
{
	struct kpy_plugin_config c;
	struct kpy_err e = KPY_ERR_INIT;

	if (kpy_args_parse(ac, av, &c) < 0)
		return -1;
	/* as root, before any job: where sbcast puts the broadcast copies (fanout.h) */
	if (kpy_fanout_base_make(c.tmpdir, &e) < 0)
		kpy_log_error("kpy: %s", e.msg);
	return 0;
}
