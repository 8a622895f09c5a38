/* safety.h: the rules an entry of an archive meets before it is written anywhere. */
#ifndef KPY_SAFETY_H
#define KPY_SAFETY_H

/* NAME as a safe relative entry name, normalised (no leading "./"); NULL if it is
 * empty, absolute or has a ".." component. */
const char *kpy_safe_name(const char *name);

#endif
