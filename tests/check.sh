#!/bin/sh
# check.sh: the whole test suite from a fresh checkout, as CI runs it: install the
# Debian packages, bootstrap, build with warnings as errors, run `make check` (unit
# tests, command tests with real venvs, Slurm tests on a throwaway local cluster),
# and print "N passed, N failed". Run as root on Debian 12.
#   tests/check.sh              the suite
#   tests/check.sh --asan       also the unit and command tests under ASan+UBSan
#   tests/check.sh --valgrind   also the command tests with kpy under valgrind
#   tests/check.sh --static     also cppcheck, clang-tidy and gcc -fanalyzer
#   tests/check.sh --fuzz SECS  also each libFuzzer target for SECS seconds
#   tests/check.sh --no-deps    skip apt-get (dependencies already installed)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
asan=no deps=yes valgrind=no static=no fuzz=
usage() { echo "usage: tests/check.sh [--asan] [--valgrind] [--static] [--fuzz SECONDS] [--no-deps]" >&2; exit 2; }
while [ $# -gt 0 ]; do
	case $1 in
	--asan) asan=yes ;;
	--valgrind) valgrind=yes ;;
	--static) static=yes ;;
	--fuzz) [ $# -ge 2 ] || usage; fuzz=$2; shift ;;
	--fuzz=*) fuzz=${1#--fuzz=} ;;
	--no-deps) deps=no ;;
	*) usage ;;
	esac
	shift
done
case $fuzz in *[!0-9]*) usage ;; esac
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
# stage NAME LOG COMMAND...: run an extra pass, time it; LOG (automake-style counts)
# gets one failure if COMMAND failed without writing it
stage() {
	st_name=$1 st_log=$2 st_rc=0; shift 2
	echo "== $st_name"
	rm -f "$st_log"
	st_t0=$(date +%s)
	"$@" || st_rc=1
	echo "== $st_name: $(($(date +%s) - st_t0)) s"
	if [ "$st_rc" -ne 0 ]; then
		[ -s "$st_log" ] || printf '# PASS: 0\n# FAIL: 1\n' > "$st_log"
		return 1
	fi
}
if [ "$static" = yes ]; then
	stage static _build/static-suite.log sh tests/static.sh -b _build || rc=1
	logs="$logs _build/static-suite.log"
fi
if [ "$valgrind" = yes ]; then
	stage valgrind _build/tests/valgrind-scan.log sh -c 'cd _build && make -j"$1" check-valgrind' sh "$jobs" || rc=1
	[ -f _build/tests/valgrind-suite.log ] && logs="$logs _build/tests/valgrind-suite.log"
	logs="$logs _build/tests/valgrind-scan.log"
fi
if [ -n "$fuzz" ]; then
	# a fixed seed: CI's short pass repeats what a longer run before it tried
	stage fuzz _build/fuzz/fuzz-suite.log sh -c 'cd _build && make fuzz FUZZ_SECONDS="$1" FUZZ_SEED=1' sh "$fuzz" || rc=1
	logs="$logs _build/fuzz/fuzz-suite.log"
fi
# shellcheck disable=SC2086
summary $logs
exit "$rc"
