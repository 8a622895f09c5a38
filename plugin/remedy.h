/* remedy.h: what the plugin tells a job's user to do about a failed restore. */
#ifndef KPY_PLUGIN_REMEDY_H
#define KPY_PLUGIN_REMEDY_H

#include "error.h"

/* The one remedy for a failure of CODE (a kpy_code), SITE_PIPDIR when the pipdir came
 * from plugstack.conf; NULL when the message says all there is to say. Static. */
const char *kpy_plugin_remedy(int code, int site_pipdir);

#endif
