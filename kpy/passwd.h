/* passwd.h: a user's home directory and login name from the user database. */
#ifndef KPY_PASSWD_H
#define KPY_PASSWD_H

#include <sys/types.h>

/* Look UID up in the user database (getpwuid_r): *HOME its home directory and *USER
 * its login name, malloc'd copies the caller frees; either pointer may be NULL (not
 * wanted). 0, or -1 when UID has no entry or memory ran out (nothing is set then). */
int kpy_passwd(uid_t uid, char **home, char **user);

#endif
