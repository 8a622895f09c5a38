/* remedy.c: the plugin's one remedy for each kind of failed restore. The core's
 * message says what failed; what a job's user can do about it differs from what the
 * command would advise (no 'kpy save -f' in the middle of a job, no 'kpy config' for a
 * pipdir the admin set in plugstack.conf), so the plugin keeps its own table. */
#include "autoconfig.h"
#include "remedy.h"

#include <stddef.h>

static const struct {
	int code;
	int site;          /* -1 any; 0 the user's pipdir; 1 the pipdir of plugstack.conf */
	const char *text;
} remedies[] = {
	{ KPY_ENOSPC, -1, "the job's scratch is full: ask for nodes with more local disk "
			  "(sbatch --tmp=SIZE), or make the env smaller" },
	{ KPY_EDAMAGED, -1, "save it again on a login node ('kpy save -f NAME'), or restore the "
			    "file from a backup" },
	{ KPY_ENOPYTHON, -1, "recreate the env with a Python every compute node has (for example "
			     "one from the cluster's modules), or ask your admin" },
	{ KPY_ENOSAVED, -1, "save it first on a login node ('kpy save NAME', or 'kpy save "
			    "--uv-cache NAME' for a uv cache)" },
	{ KPY_EPIPDIR, 0, "make it a directory you can read, or set another with 'kpy config "
			  "pipdir PATH' before you submit" },
	{ KPY_EPIPDIR, 1, "it is set in plugstack.conf (pipdir=): ask your admin" },
	{ KPY_ECONFIG, -1, "fix it on a login node ('kpy config' shows your settings), or ask your "
			   "admin when it is in the site file" },
	{ KPY_ESITE, -1, "the site store is set by your admin (site_pipdir in plugstack.conf or "
			 "the site kpy.conf): ask them, or use an env of your own" },
	{ KPY_ENEWER, -1, "ask your admin to upgrade kpy on the compute nodes" },
};

const char *kpy_plugin_remedy(int code, int site_pipdir)
{
	for (size_t i = 0; i < sizeof(remedies) / sizeof(remedies[0]); i++)
		if (remedies[i].code == code && (remedies[i].site < 0 || remedies[i].site == !!site_pipdir))
			return remedies[i].text;
	return NULL;
}
