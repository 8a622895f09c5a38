/* cmd_remedy.c: the command's one remedy for each kind of failure. The core's messages
 * state what failed, on which object; what the user can do about it depends on the
 * front end (the plugin has its own table), so it is added here, keyed by the code. */
#include "autoconfig.h"
#include "cmd.h"

#include <stddef.h>

static const struct {
	int code;
	const char *text;     /* may hold one %s: the argument given to kpy_remedy_cli */
	const char *without;  /* the same, when there is no argument */
} remedies[] = {
	{ KPY_ENOSPC, "free space there (or raise the quota) and try again", NULL },
	{ KPY_EEXIST, "use 'kpy save -f %s' to replace it", "use 'kpy save -f NAME' to replace it" },
	{ KPY_ETAKEN, "remove it, or choose another name", NULL },
	{ KPY_EDAMAGED, "save it again, or restore the file from a backup", NULL },
	{ KPY_ENOPYTHON, "load the module that provides it (for example 'module load python'), "
			 "or recreate the env with a Python this machine has", NULL },
	{ KPY_EPIPDIR, "make it a directory you can use, or set another with 'kpy config pipdir PATH' "
		       "(or KPY_PIPDIR=PATH for one command)", NULL },
	{ KPY_ECONFIG, "fix it where it is set: a KPY_* variable (unset it), your own file ('kpy "
		       "config KEY VALUE'), or the site file (ask your admin)", NULL },
	{ KPY_ENOTVENV, "activate the env to save, or make one with 'kpy create'", NULL },
	{ KPY_ENEWER, "upgrade kpy", NULL },
	{ KPY_ESITE, "the site store is site_pipdir in the site file (KPY_SITE_CONFIG, or " SYSCONFDIR "/kpy.conf), "
		     "set by your admin: ask them", NULL },
	{ KPY_EBUSY, "save again when nothing writes to it (no pip or uv running there)", NULL },
};

const char *kpy_remedy_cli(int code, const char *arg)
{
	for (size_t i = 0; i < sizeof(remedies) / sizeof(remedies[0]); i++)
		if (remedies[i].code == code)
			return arg == NULL && remedies[i].without ? remedies[i].without : remedies[i].text;
	return NULL;
}
