/* slurmd.c: slurmd itself: check the plugstack arguments when the daemon starts, so
 * a bad plugstack.conf line shows in its log at once. */
#include "autoconfig.h"
#include "slurmd.h"

#include "args.h"

int kpy_slurmd_init(spank_t sp, int ac, char **av)
{
	struct kpy_plugin_config c;

	return kpy_args_parse(ac, av, &c);
}
