/* passwd.c: the one place kpy reads the user database (getpwuid_r). */
#include "autoconfig.h"
#include "passwd.h"

#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int kpy_passwd(uid_t uid, char **home, char **user)
{
	struct passwd pw, *res = NULL;
	long hint = sysconf(_SC_GETPW_R_SIZE_MAX);
	size_t size = hint > 0 ? (size_t)hint : 4096;
	char *buf = NULL, *tmp, *h = NULL, *u = NULL;
	int rc, rv = -1;

	for (;;) {
		if ((tmp = realloc(buf, size)) == NULL)
			goto out;
		buf = tmp;
		rc = getpwuid_r(uid, &pw, buf, size, &res);
		if (rc != ERANGE || size >= 1 << 20)
			break;
		size *= 2;
	}
	if (rc != 0 || res == NULL)
		goto out;
	if ((home != NULL && (h = strdup(pw.pw_dir)) == NULL) ||
	    (user != NULL && (u = strdup(pw.pw_name)) == NULL))
		goto out;
	if (home != NULL)
		*home = h;
	if (user != NULL)
		*user = u;
	h = u = NULL;
	rv = 0;
out:
	free(h);
	free(u);
	free(buf);
	return rv;
}
