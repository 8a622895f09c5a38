#!/bin/sh
# run.sh: run libFuzzer targets for a while each (make fuzz); one TAP line per target
# with its executions, a crash kept and how to reproduce it. Exits 1 on any crash.
#   fuzz/run.sh -t SECONDS [-S SEED] -b BUILD/fuzz -s SRC/fuzz TARGET...
# With -S the run is repeatable: the same seed explores the same inputs in the same
# order, so a shorter run (CI's) tries a prefix of what a longer one tried.
# BUILD/fuzz/bin/TARGET is the binary; seeds come from SRC/fuzz/corpus/TARGET (read
# only; a target without them fails) and SRC/fuzz/crashes/TARGET (past crashes); new
# inputs go to BUILD/fuzz/work/TARGET, crashes to BUILD/fuzz/artifacts/TARGET.
# BUILD/fuzz/fuzz-suite.log gets automake-style "# PASS:" / "# FAIL:" counts.
set -u
secs=60 bld=fuzz src=fuzz seed=
while getopts t:S:b:s: o; do
	case $o in
	t) secs=$OPTARG ;;
	S) seed=-seed=$OPTARG ;;
	b) bld=$OPTARG ;;
	s) src=$OPTARG ;;
	*) echo "usage: fuzz/run.sh -t SECONDS [-S SEED] -b BUILDDIR -s SRCDIR TARGET..." >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
n=0 pass=0 fail=0
for t in "$@"; do
	n=$((n + 1))
	bin=$bld/bin/$t work=$bld/work/$t art=$bld/artifacts/$t log=$bld/$t.log
	rm -rf "$art"; mkdir -p "$work" "$art"
	dict=
	[ -f "$src/$t.dict" ] && dict=-dict=$src/$t.dict
	# every target has seeds: one without them starts from nothing and, in a short
	# pass, never reaches the inputs that matter
	seeds=$src/corpus/$t
	if [ ! -d "$seeds" ]; then
		echo "not ok $n - $t: no seed corpus in $seeds"
		fail=$((fail + 1))
		continue
	fi
	# the inputs that once crashed it run first, with the seeds (read, never written)
	[ -d "$src/crashes/$t" ] && seeds="$seeds $src/crashes/$t"
	# the target's work dirs go here, and are removed even after a crash
	tmp=$bld/tmp/$t
	rm -rf "$tmp"; mkdir -p "$tmp"
	start=$(date +%s)
	# -timeout: an input taking longer is a hang, reported like a crash
	# shellcheck disable=SC2086
	TMPDIR=$tmp "$bin" $seed -max_total_time="$secs" -timeout=30 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$art/" $dict "$work" $seeds > "$log" 2>&1
	rc=$?
	took=$(($(date +%s) - start))
	rm -rf "$tmp"
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	crash=$(ls -t "$art" 2>/dev/null | head -1)
	if [ "$rc" -eq 0 ] && [ -z "$crash" ]; then
		pass=$((pass + 1))
		echo "ok $n - $t: ${execs:-?} executions in ${took} s, no crash"
	else
		fail=$((fail + 1))
		echo "not ok $n - $t: failed after ${execs:-?} executions in ${took} s (exit $rc)"
		# the error and the frames in kpy's own code
		grep -E '^(==[0-9]+==ERROR|SUMMARY|fuzz_[a-z]+: |ALARM|.*-timeout)|^    #[0-9]+ .* (/[^ ]*)?(kpy|fuzz)/[a-z_]+\.c:' "$log" |
			head -20 | sed -e 's/^/#   /' -e 's/ (BuildId: [0-9a-f]*)//'
		if [ -n "$crash" ]; then
			echo "#   input: $art/$crash"
			echo "#   reproduce: $bin $art/$crash"
		fi
		echo "#   full log: $log"
	fi
done
echo "1..$n"
printf '# PASS: %d\n# FAIL: %d\n' "$pass" "$fail" > "$bld/fuzz-suite.log"
[ "$fail" -eq 0 ]
