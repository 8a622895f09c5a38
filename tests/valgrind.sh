#!/bin/sh
# valgrind.sh: stands in for the kpy binary in `make check-valgrind` (KPY points here):
# runs KPY_REAL under valgrind, failing on any memory error or definite leak. Each run
# logs to KPY_VALGRIND_LOGS/kpy.PID.log, empty when clean, which check-valgrind checks.
: "${KPY_REAL:?run through make check-valgrind}"
logs=${KPY_VALGRIND_LOGS:-${TMPDIR:-/tmp}}
mkdir -p "$logs" 2> /dev/null
# valgrind keeps files of its own in TMPDIR; where a test points TMPDIR at a
# directory this user cannot write (a refused live root, a test as another user),
# or the logs cannot be written, kpy runs as is: valgrind would not start
if [ ! -w "${TMPDIR:-/tmp}" ] || [ ! -w "$logs" ]; then
	exec "$KPY_REAL" "$@"
fi
# valgrind makes and removes files of its own in TMPDIR, which changes its mtime;
# tests that check that kpy leaves TMPDIR untouched would see that. So when the
# names in TMPDIR are the same afterwards, its mtime is put back (such tests still
# see any file kpy leaves; one made and removed by kpy itself is caught by the same
# tests in the plain and ASan passes).
tmp=${TMPDIR:-/tmp}
names=$(ls -A "$tmp")
mtime=$(stat -c %.9Y "$tmp")
# exit 97 is what no kpy code path returns, so a test that expects 1 or 2 sees it
"${VALGRIND:-valgrind}" -q --error-exitcode=97 --leak-check=full \
	--show-leak-kinds=definite --errors-for-leak-kinds=definite \
	--child-silent-after-fork=yes --track-origins=yes \
	--log-file="$logs/kpy.%p.log" "$KPY_REAL" "$@"
rc=$?
[ "$(ls -A "$tmp")" = "$names" ] && touch -m -d "@$mtime" "$tmp"
exit "$rc"
