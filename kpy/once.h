/* once.h: restore a saved env once per directory, however many processes ask at once. */
#ifndef KPY_ONCE_H
#define KPY_ONCE_H

#include "error.h"

/* If DEST exists, do nothing (*restored = 0). Otherwise take an exclusive lock on
 * <parent>/.<base>.lock (waiting for another restorer), check again, and restore
 * ARCHIVE into DEST (*restored = 1). A failed restore leaves no DEST. */
int kpy_restore_once(const char *archive, const char *dest, int *restored,
		     struct kpy_err *e);

/* The kpy load form: restore ARCHIVE into DEST (prompt PROMPT, NULL keeps the saved
 * one) unless DEST already exists (*restored = 0), and record the archive's manifest
 * in DEST/.kpy/manifest.ini (the save it holds). The lock is DEST's parent directory
 * itself (flock), so nothing is left beside DEST; restores into one directory, by any
 * number of processes, are serialised and each DEST is restored once. With REPLACE an
 * existing DEST is replaced (moved aside, restored, then removed; put back if the
 * restore fails). */
int kpy_load_once(const char *archive, const char *dest, const char *prompt, int replace,
		  int *restored, struct kpy_err *e);

#endif
