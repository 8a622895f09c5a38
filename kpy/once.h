/* once.h: restore a saved env once per directory, however many processes ask at once. */
#ifndef KPY_ONCE_H
#define KPY_ONCE_H

#include "error.h"

/* If DEST exists, do nothing (*restored = 0). Otherwise take an exclusive lock on
 * <parent>/.<base>.lock (waiting for another restorer), check again, and restore
 * ARCHIVE into DEST (*restored = 1). A failed restore leaves no DEST. */
int kpy_restore_once(const char *archive, const char *dest, int *restored,
		     struct kpy_err *e);

#endif
