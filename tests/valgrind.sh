#!/bin/sh
# valgrind.sh: stands in for the kpy binary in `make check-valgrind` (KPY points here):
# runs KPY_REAL under valgrind, failing on any memory error or definite leak. Each run
# logs to KPY_VALGRIND_LOGS/kpy.PID.log, empty when clean, which check-valgrind checks.
: "${KPY_REAL:?run through make check-valgrind}"
logs=${KPY_VALGRIND_LOGS:-${TMPDIR:-/tmp}}
mkdir -p "$logs"
# exit 97 is what no kpy code path returns, so a test that expects 1 or 2 sees it
exec "${VALGRIND:-valgrind}" -q --error-exitcode=97 --leak-check=full \
	--show-leak-kinds=definite --errors-for-leak-kinds=definite \
	--child-silent-after-fork=yes --track-origins=yes \
	--log-file="$logs/kpy.%p.log" "$KPY_REAL" "$@"
