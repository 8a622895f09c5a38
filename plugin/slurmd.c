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
	switch (kpy_fanout_base_make(c.tmpdir, &e)) {
	case -1:
		kpy_log_error("kpy: %s", e.msg);
		break;
	case 1:
		kpy_log_info("kpy: %s/" KPY_FANOUT_DIR " was not root's: moved aside to "
			     KPY_FANOUT_DIR ".squatted.*", c.tmpdir);
		break;
	}
	return 0;
}
