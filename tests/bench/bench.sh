#!/bin/bash
# bench.sh: the save/restore benchmark run by `make bench` (tests/bench/README.md).
# For each env size and each place (tmpfs, disk) it generates an ML-shaped venv
# (mkenv.py), then times, in alternating runs so drift hits all methods alike:
#   save:    kpy save  vs  tar -cf - | zstd -3 -T0
#   restore: kpy load, kpy export, tar -I zstd -xf, Python tarfile+gzip extractall,
#            mkfiles (the file-creation limit) at 1, 2 and N threads,
#            srun --kpy-env=NAME true minus srun true (root, Slurm and the plugin only)
# and prints medians, peak RSS of kpy save/load, and the ratios to the issue's
# targets, as Markdown (also written to $BENCH_OUT/results.md, with restore.svg).
#
# Environment (defaults in brackets):
#   KPY [_build/kpy/kpy], KPY_PLUGIN [beside KPY, plugin/.libs/spank_kpy.so],
#   MKFILES [beside KPY, tests/bench/mkfiles]
#   BENCH_SIZES ["small medium large"], BENCH_RUNS [5], BENCH_DIRS ["tmpfs disk"],
#   BENCH_TMPFS [/dev/shm], BENCH_DISK [/var/tmp], BENCH_THREADS [nproc],
#   BENCH_OUT [the source's tests/bench], BENCH_DROP [1: drop the page cache between
#   runs when root], BENCH_PLUGIN [1: the srun row when possible], BENCH_SEED [1]
set -eu
SRCDIR=$(cd "$(dirname "$0")/../.." && pwd)
B=$SRCDIR/tests/bench
KPY=${KPY:-$SRCDIR/_build/kpy/kpy}
BUILD=$(cd "$(dirname "$KPY")/.." && pwd)
KPY_PLUGIN=${KPY_PLUGIN:-$BUILD/plugin/.libs/spank_kpy.so}
MKFILES=${MKFILES:-$BUILD/tests/bench/mkfiles}
PYTHON=${BENCH_PYTHON:-/usr/bin/python3}
SIZES=${BENCH_SIZES:-small medium large}
RUNS=${BENCH_RUNS:-5}
DIRS=${BENCH_DIRS:-tmpfs disk}
NTHREADS=${BENCH_THREADS:-$(nproc)}
OUT=${BENCH_OUT:-$B}
SEED=${BENCH_SEED:-1}
export KPY_PLUGIN

die() { echo "bench: $*" >&2; exit 1; }
note() { echo "bench: $*" >&2; }
for t in "$KPY" "$MKFILES"; do [ -x "$t" ] || die "$t missing: build it (make bench builds both)"; done
command -v zstd > /dev/null || die "zstd missing: apt-get install zstd"
[ -x /usr/bin/time ] || die "/usr/bin/time missing: apt-get install time"
command -v gnuplot > /dev/null || note "gnuplot missing (apt-get install gnuplot-nox): no restore.svg"
"$PYTHON" -c 'import venv' 2> /dev/null || die "$PYTHON has no venv module: apt-get install python3-venv"
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

DROP=no
if [ "${BENCH_DROP:-1}" = 1 ] && [ "$(id -u)" -eq 0 ] && sync && echo 3 2> /dev/null > /proc/sys/vm/drop_caches; then
	DROP=yes
fi
drop() { sync; [ $DROP = no ] || echo 3 > /proc/sys/vm/drop_caches; }

place_root() { case $1 in tmpfs) echo "${BENCH_TMPFS:-/dev/shm}" ;; disk) echo "${BENCH_DISK:-/var/tmp}" ;; *) die "BENCH_DIRS: unknown place $1" ;; esac; }
size_mib() { case $1 in small) echo 210 ;; medium) echo 900 ;; large) echo 2500 ;; *) die "BENCH_SIZES: unknown size $1" ;; esac; }

R=$(mktemp -d /tmp/kpy-bench.XXXXXX)   # results and scratch of the harness itself
chmod 0755 "$R"
CLUSTER=no
cleanup() {
	[ $CLUSTER = no ] || cluster_stop > /dev/null 2>&1 || true
	cd /
	for p in $DIRS; do rm -rf "$(place_root "$p")/kpy-bench.$$"; done
	rm -rf "$R"
}
trap cleanup EXIT
RES=$R/results.tsv     # size place method run seconds rss_kib
: > "$RES"
: > "$R/envs"
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

# Isolate kpy from the user's settings and live envs.
export HOME=$R/home XDG_CONFIG_HOME=$R/home/.config XDG_DATA_HOME=$R/home/.local/share \
	XDG_STATE_HOME=$R/home/.local/state TMPDIR=$R/tmp
mkdir -p "$HOME" "$TMPDIR"
unset VIRTUAL_ENV SLURM_JOB_ID SLURM_TMPDIR KPY_ENV KPY_SITE_CONFIG KPY_LEVEL 2> /dev/null || true
export KPY_SITE_CONFIG=/nonexistent

# run SIZE PLACE METHOD RUN CMD...: time CMD (wall, ns clock) and its peak RSS.
run() {
	local s=$1 p=$2 m=$3 i=$4 t0 t1 rss
	shift 4
	t0=$(date +%s%N)
	if ! /usr/bin/time -f %M -o "$R/rss" "$@" > "$R/out" 2> "$R/err"; then
		cat "$R/err" >&2
		die "$m failed: $*"
	fi
	t1=$(date +%s%N)
	rss=$(tail -1 "$R/rss")
	echo "$s $p $m $i $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }') $rss" >> "$RES"
}
record() { echo "$1 $2 $3 $4 $5 ${6:-0}" >> "$RES"; }

# --- the plugin row needs root, Slurm and the built plugin ---
PLUGIN_WHY=
if [ "${BENCH_PLUGIN:-1}" != 1 ]; then PLUGIN_WHY="BENCH_PLUGIN=0"
elif [ "$(id -u)" -ne 0 ]; then PLUGIN_WHY="not root (the throwaway cluster needs root)"
elif ! command -v srun > /dev/null || ! command -v slurmd > /dev/null || ! command -v munged > /dev/null; then
	PLUGIN_WHY="Slurm (slurmctld, slurmd, munge) not installed"
elif [ ! -f "$KPY_PLUGIN" ]; then PLUGIN_WHY="plugin not built ($KPY_PLUGIN)"
fi
if [ -z "$PLUGIN_WHY" ]; then
	. "$SRCDIR/tests/slurm/cluster.sh"
	if cluster_start "$R/cluster" > "$R/cluster.log" 2>&1; then
		CLUSTER=yes
	else
		PLUGIN_WHY="the test cluster did not start ($(tail -1 "$R/cluster.log"))"
	fi
	cat > "$R/steps.sh" <<-'EOF'
	#!/bin/bash
	ns() { date +%s%N; }
	srun true
	t0=$(ns); srun true; t1=$(ns); srun --kpy-env=bench true; t2=$(ns)
	echo "$t0 $t1 $t2"
	EOF
	chmod +x "$R/steps.sh"
fi
[ -z "$PLUGIN_WHY" ] || note "no srun --kpy-env row: $PLUGIN_WHY"

for s in $SIZES; do
	for p in $DIRS; do
		root=$(place_root "$p")
		need=$(($(size_mib "$s") * 5))
		avail=$(df -Pm "$root" | awk 'NR == 2 { print $4 }')
		if [ "$avail" -lt "$need" ]; then
			note "skip $s on $p: $root has $avail MiB free, needs about $need"
			continue
		fi
		W=$root/kpy-bench.$$/$s
		mkdir -p "$W"
		note "$s on $p ($W): generating"
		# the zstd ratios of the contents are measured the first time a size is made
		nice "$PYTHON" "$B/mkenv.py" --size "$s" --seed "$SEED" --python "$PYTHON" \
			$([ ! -f "$R/mkenv.$s" ] || echo --no-measure) "$W/venv" > "$R/mkenv.out"
		cat "$R/mkenv.out" >&2
		[ -f "$R/mkenv.$s" ] || cp "$R/mkenv.out" "$R/mkenv.$s"
		echo "$s $(du -sm "$W/venv" | cut -f1) $(find "$W/venv" ! -type d | wc -l) $(find "$W/venv" -type d | wc -l)" >> "$R/envs"
		export KPY_PIPDIR=$W/pipdir
		A=$W/pipdir/venv_archives/bench.tar.zst

		# the original tool's archive: made once per size (gzip -9 is slow), copied
		if [ -f "$R/gz.$s" ]; then
			cp "$R/gz.$s" "$W/env.tar.gz"
		else
			note "$s on $p: tarfile + gzip save (once)"
			drop
			run "$s" "$p" save-pytar 1 "$PYTHON" "$B/pytar.py" c "$W/env.tar.gz" "$W/venv"
			cp "$W/env.tar.gz" "$R/gz.$s"
		fi

		note "$s on $p: save x $RUNS"
		for i in $(seq "$RUNS"); do
			drop
			VIRTUAL_ENV=$W/venv run "$s" "$p" save-kpy "$i" "$KPY" save -f bench
			drop
			KPY_THREADS=1 VIRTUAL_ENV=$W/venv run "$s" "$p" save-kpy-1 "$i" "$KPY" save -f bench
			drop
			run "$s" "$p" save-tar "$i" sh -c 'tar -C "$1" -cf - . | zstd -q -3 -T0 > "$2"' sh "$W/venv" "$W/env.tar.zst"
		done
		record "$s" "$p" size-kpy 1 "$(stat -c %s "$A")"
		record "$s" "$p" size-tar 1 "$(stat -c %s "$W/env.tar.zst")"
		record "$s" "$p" size-pytar 1 "$(stat -c %s "$W/env.tar.gz")"

		note "$s on $p: restore x $RUNS"
		th="1 $NTHREADS"
		[ "$NTHREADS" = 2 ] || th="1 2 $NTHREADS"
		for i in $(seq "$RUNS"); do
			rm -rf "$W/scratch"; mkdir -p "$W/scratch"; drop
			SLURM_TMPDIR=$W/scratch run "$s" "$p" load-kpy "$i" "$KPY" load bench --sh
			# the same with 1, 2 and N threads (KPY_THREADS; the row above is the default)
			for t in $th; do
				rm -rf "$W/scratch"; mkdir -p "$W/scratch"; drop
				KPY_THREADS=$t SLURM_TMPDIR=$W/scratch run "$s" "$p" "load-kpy-$t" "$i" "$KPY" load bench --sh
			done
			rm -rf "$W/scratch" "$W/export"; drop
			run "$s" "$p" export-kpy "$i" "$KPY" export bench "$W/export"
			rm -rf "$W/export" "$W/x"; mkdir -p "$W/x"; drop
			run "$s" "$p" load-tar "$i" tar -I zstd -xf "$W/env.tar.zst" -C "$W/x"
			rm -rf "$W/x"; drop
			run "$s" "$p" load-pytar "$i" "$PYTHON" "$B/pytar.py" x "$W/env.tar.gz" "$W/x"
			rm -rf "$W/x"
			for t in $th; do
				rm -rf "$W/m"; drop
				"$MKFILES" -j "$t" "$W/venv" "$W/m" > "$R/out"
				record "$s" "$p" "mkfiles-$t" "$i" "$(sed 's/.*: \([0-9.]*\) s$/\1/' "$R/out")"
			done
			rm -rf "$W/m"
		done

		if [ $CLUSTER = yes ]; then
			note "$s on $p: srun --kpy-env x $RUNS"
			mkdir -p "$W/plugin-tmp"
			cluster_plugstack "pipdir=$W/pipdir" "tmpdir=$W/plugin-tmp"
			for i in $(seq "$RUNS"); do
				drop
				: > "$R/steps.out"
				env -u KPY_ENV -u KPY_PIPDIR salloc -n 1 -c "$NTHREADS" "$R/steps.sh" > "$R/steps.out" 2> "$R/steps.err" ||
					{ cat "$R/steps.err" >&2; die "srun --kpy-env failed"; }
				read -r t0 t1 t2 < "$R/steps.out"
				record "$s" "$p" srun-plain "$i" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')"
				record "$s" "$p" srun-kpy "$i" "$(awk -v a="$t0" -v b="$t1" -v c="$t2" 'BEGIN { printf "%.3f", ((c - b) - (b - a)) / 1e9 }')"
				ms=$(grep -oE 'kpy: restored bench into .* in [0-9]+ ms' "$CLUSTER_SLURMD_LOG" | tail -1 | grep -oE '[0-9]+ ms$' | cut -d' ' -f1)
				record "$s" "$p" srun-restore "$i" "$(awk -v m="${ms:-0}" 'BEGIN { printf "%.3f", m / 1000 }')"
			done
		fi
		rm -rf "$W"
	done
done

# --- the report ---
cp "$RES" "$OUT/results.tsv"
for s in $SIZES; do [ ! -f "$R/mkenv.$s" ] || sed "s/^/$s /" "$R/mkenv.$s"; done > "$OUT/results.mkenv"
bash "$B/report.sh" "$RES" "$R/envs" "$R" "$DROP" "${PLUGIN_WHY:-}" "$NTHREADS" "$DIRS" \
	"$(cd "$SRCDIR" && git describe --always --dirty 2> /dev/null || echo unknown)" "$("$KPY" --version 2>&1 | head -1)" \
	"$(for p in $DIRS; do printf '%s: %s, ' "$p" "$(findmnt -no FSTYPE -T "$(place_root "$p")" | head -1)"; done | sed 's/, $//')" \
	"$OUT/results.md" "$OUT/restore.dat" "$LOAD0 at start, $(cut -d' ' -f1-3 /proc/loadavg) at end"
cat "$OUT/results.md"
if command -v gnuplot > /dev/null; then
	gnuplot -e "datafile='$OUT/restore.dat'; outfile='$OUT/restore.svg'" "$B/restore.gp" &&
		note "wrote $OUT/results.md, $OUT/restore.svg"
fi
