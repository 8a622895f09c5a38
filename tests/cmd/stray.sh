#!/bin/bash
# stray.sh: a pipdir whose archive directory holds only files that are not saved
# environments (an interrupted save's temp file, a foreign name): the commands that
# list the saved names say "none", exit 1, and (under ASan or valgrind) leak nothing.
. "$KPY_SRCDIR/tests/lib/common.sh"

mkdir -p "$ARCH"
: > "$ARCH/.snap.tar.zst"
: > "$ARCH/bad name.tar.zst"
# one_line: $T/err holds the one message and nothing else (no sanitizer report)
one_line() {
	same "$(wc -l < "$T/err")" 1 && return 0
	sed 's/^/#   /' "$T/err" | head -20
	return 1
}
ok "rm of a missing env with only stray files says none" \
	expect_fail 1 "no saved environment named 'nosuch'.*saved: none" "$KPY" rm nosuch
ok "... in one line" one_line
ok "load of a missing env with only stray files says none" \
	expect_fail 1 "saved: none" "$KPY" load nosuch
ok "... in one line" one_line
ok "list with only stray files" quiet "$KPY" list
ok "the stray files are left alone" test -e "$ARCH/.snap.tar.zst" -a -e "$ARCH/bad name.tar.zst"

done_testing
