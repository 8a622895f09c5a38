#!/bin/sh
# check.sh: the whole test suite from a fresh checkout, as CI runs it: install the
# Debian packages, bootstrap, build with warnings as errors, run `make check` (unit
# tests, command tests with real venvs, Slurm tests on a throwaway local cluster),
# and print "N passed, N failed". Run as root on Debian 12.
#   tests/check.sh            the suite
#   tests/check.sh --asan     also the unit and command tests under ASan+UBSan
#   tests/check.sh --no-deps  skip apt-get (dependencies already installed)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
asan=no deps=yes
for a in "$@"; do
	case $a in
	--asan) asan=yes ;;
	--no-deps) deps=no ;;
	*) echo "usage: tests/check.sh [--asan] [--no-deps]" >&2; exit 2 ;;
	esac
done
[ "$deps" = no ] || sh "$top/tests/deps.sh"
cd "$top"
./bootstrap >/dev/null 2>&1 || ./bootstrap
jobs=$(nproc 2>/dev/null || echo 2)

# summary FILE...: add up automake's counts from test-suite.log files
summary() {
	awk '/^# PASS:/ {p += $3} /^# FAIL:/ {f += $3} /^# ERROR:/ {f += $3}
	     /^# XPASS:/ {f += $3} /^# SKIP:/ {s += $3}
	     END { printf "%d passed, %d failed", p, f; if (s) printf ", %d skipped", s; printf "\n" }' "$@"
}

rc=0
mkdir -p _build
(cd _build && ../configure --enable-werror >configure.out 2>&1 || { cat configure.out; exit 1; }
 make -j"$jobs" >make.out 2>&1 || { cat make.out; exit 1; })
(cd _build && make -j"$jobs" check) || rc=1
logs=_build/test-suite.log
if [ "$rc" -ne 0 ]; then
	# show what failed, compactly
	grep -hE '^(FAIL|ERROR)' _build/tests/*/*.log _build/test-suite.log 2>/dev/null | head -40 || true
fi
if [ "$asan" = yes ]; then
	mkdir -p _asan
	(cd _asan && ../configure --enable-werror --without-slurm \
		CFLAGS="-g -O1 -fsanitize=address,undefined -fno-omit-frame-pointer" \
		LDFLAGS="-fsanitize=address,undefined" >configure.out 2>&1 &&
	 make -j"$jobs" >make.out 2>&1 &&
	 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ASAN_OPTIONS=detect_leaks=1 \
		make -j"$jobs" check SLURM_TESTS=) || rc=1
	logs="$logs _asan/test-suite.log"
fi
# shellcheck disable=SC2086
summary $logs
exit "$rc"
