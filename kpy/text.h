/* text.h: strings from files and users made safe to print, and "did you mean". */
#ifndef KPY_TEXT_H
#define KPY_TEXT_H

#include <stddef.h>

/* A printable copy of S: control bytes (a newline, ESC, DEL, ...) become \n, \t, \r,
 * \\ or \xNN, so a name or manifest string cannot forge lines or drive a terminal.
 * Valid UTF-8 is kept, except C1 controls (U+0080..U+009F); any other byte >= 0x80
 * becomes \xNN. Malloc'd; NULL when out of memory. */
char *kpy_escape(const char *s);

/* The same into BUF of SIZE bytes (always terminated; cut short if it must be). */
void kpy_escape_to(char *buf, size_t size, const char *s);

/* The candidate closest to WORD by edit distance (insert, delete, substitute, swap
 * two neighbours), if close enough to be a typo of it: distance <= 1 for words of up
 * to 4 bytes, <= 2 up to 8, else <= 3. NULL if none is; CANDS ends with NULL. The
 * result points into CANDS. */
const char *kpy_suggest(const char *word, const char *const *cands);

/* BYTES as a person reads it: "512B", "1.5K", "20.3M", "2.4G" (powers of 1024), into
 * BUF of SIZE bytes. */
void kpy_human_size(char *buf, size_t size, double bytes);

#endif
