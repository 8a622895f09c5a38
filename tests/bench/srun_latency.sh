#!/bin/bash
# srun_latency.sh: what --kpy-env adds to a job step once the env is restored on the
# node (median of N `srun --kpy-env=NAME true` against N plain `srun true` inside one
# allocation), and how long the restore of the demo env takes.
# usage: tests/bench/srun_latency.sh [BUILDDIR]   (as root; N=20 by default)
set -eu
SRCDIR=$(cd "$(dirname "$0")/../.." && pwd)
BUILDDIR=$(cd "${1:-.}" && pwd)
KPY=${KPY:-$BUILDDIR/kpy/kpy}
KPY_PLUGIN=${KPY_PLUGIN:-$BUILDDIR/plugin/.libs/spank_kpy.so}
PYTHON=${KPY_TEST_PYTHON:-/usr/bin/python3}
N=${N:-20}
export KPY_PLUGIN

[ "$(id -u)" -eq 0 ] || { echo "srun_latency.sh: run as root" >&2; exit 1; }
D=$(mktemp -d /tmp/kpy-bench.XXXXXX)
chmod 0755 "$D"
. "$SRCDIR/tests/slurm/cluster.sh"
trap 'cluster_stop; rm -rf "$D"' EXIT
export HOME=$D/home XDG_CONFIG_HOME=$D/home/.config XDG_DATA_HOME=$D/home/.local/share
export KPY_PIPDIR=$D/pipdir TMPDIR=$D/tmp
mkdir -p "$HOME" "$TMPDIR" "$D/scratch"
cd "$D"

cluster_start "$D/cluster" tmpdir="$D/scratch" > /dev/null
"$PYTHON" "$SRCDIR/tests/lib/mkwheel.py" "$D/wheels" hello 1.0 > /dev/null
"$PYTHON" -m venv "$D/venvs/demo"
"$D/venvs/demo/bin/pip" install -q --no-index --find-links "$D/wheels" hello
VIRTUAL_ENV=$D/venvs/demo "$KPY" save demo

# Everything runs inside one allocation, so the plain and the --kpy-env steps pay the
# same step-launch cost and the env is restored once, by the first step.
cat > "$D/steps.sh" <<'EOF'
#!/bin/bash
ms() { echo $(( $(date +%s%N) / 1000000 )); }
srun --kpy-env=demo true    # the restore
for i in $(seq "$1"); do
	t0=$(ms); srun true; t1=$(ms)
	srun --kpy-env=demo true; t2=$(ms)
	echo "$((t1 - t0)) $((t2 - t1))"
done
EOF
chmod +x "$D/steps.sh"
env -u KPY_ENV salloc -n 1 "$D/steps.sh" "$N" > "$D/times" 2> /dev/null

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
plain=$(cut -d' ' -f1 "$D/times" | median)
kpy=$(cut -d' ' -f2 "$D/times" | median)
restore=$(grep -oE 'kpy: restored demo into .* in [0-9]+ ms' "$CLUSTER_SLURMD_LOG" | grep -oE '[0-9]+ ms$')
files=$(tar --zstd -tf "$KPY_PIPDIR/venv_archives/demo.tar.zst" | wc -l)
size=$(du -h "$KPY_PIPDIR/venv_archives/demo.tar.zst" | cut -f1)
echo "srun true, median of $N:                 $plain ms"
echo "srun --kpy-env=demo true, median of $N:  $kpy ms (env already restored)"
awk -v a="$plain" -v b="$kpy" 'BEGIN { printf "added by --kpy-env:                      %.1f ms (ratio %.2f)\n", b - a, b / a }'
echo "restore of the demo env ($files entries, $size archive): $restore"
