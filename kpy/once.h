/* once.h: restore a saved env once per directory, however many processes ask at once. */
#ifndef KPY_ONCE_H
#define KPY_ONCE_H

#include "error.h"

/* Take the lock that serialises every restore, replace and removal of DEST: an
 * exclusive flock on <parent>/.<base>.lock, a regular file made if missing (NFS and
 * Lustre grant flock only on files open for writing), waiting for the holder
 * (a signal that sets kpy_interrupted ends the wait: -1, "interrupted").
 * Returns the fd, or -1. Release it with kpy_unlock_target. */
int kpy_lock_target(const char *dest, struct kpy_err *e);
/* Remove the lock file (while still holding it, so a waiter that got the removed
 * file takes the next one) and release FD: nothing is left beside DEST. */
void kpy_unlock_target(const char *dest, int fd);

/* If DEST exists, do nothing (*restored = 0). Otherwise take an exclusive lock on
 * <parent>/.<base>.lock (waiting for another restorer), check again, and restore
 * ARCHIVE into DEST (*restored = 1). A failed restore leaves no DEST. */
struct kpy_restore_opts; /* envarchive.h; NULL: the defaults */
int kpy_restore_once(const char *archive, const char *dest, const struct kpy_restore_opts *o,
		     int *restored, struct kpy_err *e);

/* The kpy load form: restore ARCHIVE into DEST (with O: its prompt, NULL keeps the saved
 * one; threads, progress) unless DEST already exists (*restored = 0), and record the archive's manifest
 * in DEST/.kpy/manifest.ini (the save it holds). It takes kpy_lock_target's lock, the
 * one the plugin's kpy_restore_once takes too, so each DEST is restored once however
 * many processes (commands and job steps) ask at once. With REPLACE an
 * existing DEST is replaced (moved aside, restored, then removed; put back if the
 * restore fails). */
int kpy_load_once(const char *archive, const char *dest, const struct kpy_restore_opts *o,
		  int replace, int *restored, struct kpy_err *e);

#endif
