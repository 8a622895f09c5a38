/* seekify.c: rewrite a kpy archive as a seekable one (frames at entry boundaries, big
 * files split), as kpy save will write them: for measuring the parallel restore.
 *     seekify SRC DST [FRAME_MAX [THREADS]] */
#include "autoconfig.h"
#include <stdlib.h>
#include "../unit/seekify.h"

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: seekify SRC DST [FRAME_MAX [THREADS]]\n");
		return 2;
	}
	size_t fm = argc > 3 ? strtoul(argv[3], NULL, 0) : KPY_ZS_FRAME_DEFAULT;
	int t = argc > 4 ? atoi(argv[4]) : 2;
	return seekify(argv[1], argv[2], fm, t, -1) < 0 ? 1 : 0;
}
