#!/bin/sh
# zseek.sh: kpy/zseek.c's writer against `zstd -3 -T0` on one tar: size and time at
# 1 and 2 threads, frames of 1, 4 and 8 MiB, cut by size or also at entry boundaries.
#   tests/bench/zseek.sh BENCH_BINARY IN.tar [RUNS]
# BENCH_BINARY is tests/bench/zseek_bench.c built by hand (see its header). Each figure
# is the best of RUNS (default 3): the machine is shared. Prints a Markdown table.
set -eu
bin=$1 tar=$2 runs=${3:-3}
out=${TMPDIR:-/tmp}/zseek-bench.$$.zst
trap 'rm -f "$out"' EXIT
best() { sort -n | head -1; }
ref=$(zstd -q -3 -T0 -c < "$tar" | wc -c)
echo "| writer | threads | frame | frames | bytes | x zstd -3 -T0 | wall s | cpu s |"
echo "|---|---|---|---|---|---|---|---|"
for t in 0 1; do
	w= c=
	for r in $(seq "$runs"); do
		s=$( { /usr/bin/time -f '%e %U %S' zstd -q -3 -T$t -c < "$tar" > "$out"; } 2>&1)
		w="$w $(echo "$s" | awk '{print $1}')"; c="$c $(echo "$s" | awk '{print $2 + $3}')"
	done
	echo "| zstd -3 -T$t | $( [ $t = 0 ] && nproc || echo 1) | stream | 1 | $(wc -c < "$out") | $(echo "$(wc -c < "$out") $ref" | awk '{printf "%.4f", $1 / $2}') | $(echo $w | tr ' ' '\n' | best) | $(echo $c | tr ' ' '\n' | best) |"
done
for f in 1 4 8; do
	for e in "" -e; do
		for t in 1 2; do
			w= c= line=
			for r in $(seq "$runs"); do
				line=$("$bin" -l 3 -t "$t" -f "$f" $e "$tar" "$out")
				w="$w $(echo "$line" | sed 's/.*bytes, \([0-9.]*\) s.*/\1/')"
				c="$c $(echo "$line" | sed 's/.*cpu \([0-9.]*\) s.*/\1/')"
			done
			frames=$(echo "$line" | sed 's/.*: \([0-9]*\) frames.*/\1/')
			bytes=$(wc -c < "$out")
			echo "| zseek${e:+ + entry ends} | $t | $f MiB | $frames | $bytes | $(echo "$bytes $ref" | awk '{printf "%.4f", $1 / $2}') | $(echo $w | tr ' ' '\n' | best) | $(echo $c | tr ' ' '\n' | best) |"
		done
	done
done
