#!/bin/bash
# demo.sh: the README quick start. In a built tree (as root): start a throwaway one-node
# Slurm, build and save a demo env, run `srun --kpy-env=demo` to show it restored and
# offline on the node, stop the cluster.
# usage: tests/slurm/demo.sh [BUILDDIR]   (default: the current directory)
# KPY and KPY_PLUGIN override the kpy binary and spank_kpy.so found in BUILDDIR.
set -eu
SRCDIR=$(cd "$(dirname "$0")/../.." && pwd)
BUILDDIR=$(cd "${1:-.}" && pwd)
KPY=${KPY:-$BUILDDIR/kpy/kpy}
KPY_PLUGIN=${KPY_PLUGIN:-$BUILDDIR/plugin/.libs/spank_kpy.so}
PYTHON=${KPY_TEST_PYTHON:-/usr/bin/python3}
export KPY_PLUGIN

[ "$(id -u)" -eq 0 ] || { echo "demo.sh: run this as root (it starts slurmctld, slurmd, munged): in a root shell, or with sudo if there is one" >&2; exit 1; }
for f in "$KPY" "$KPY_PLUGIN"; do
	[ -e "$f" ] || { echo "demo.sh: $f not found: build first (./configure && make)" >&2; exit 1; }
done

D=$(mktemp -d /tmp/kpy-demo.XXXXXX)
chmod 0755 "$D"
. "$SRCDIR/tests/slurm/cluster.sh"
trap 'cluster_stop; rm -rf "$D"' EXIT
export HOME=$D/home XDG_CONFIG_HOME=$D/home/.config XDG_DATA_HOME=$D/home/.local/share
export KPY_PIPDIR=$D/pipdir TMPDIR=$D/tmp
mkdir -p "$HOME" "$TMPDIR"
cd "$D"

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

echo "== starting a one-node Slurm in $D/cluster"
mkdir -m 1777 "$D/scratch"
cluster_start "$D/cluster" tmpdir="$D/scratch"
sinfo

echo "== building a demo env with one package and saving it"
"$PYTHON" "$SRCDIR/tests/lib/mkwheel.py" "$D/wheels" hello 1.0 > /dev/null
step "$PYTHON -m venv $D/venvs/demo"
"$PYTHON" -m venv "$D/venvs/demo"
step "$D/venvs/demo/bin/pip install --no-index --find-links $D/wheels hello"
"$D/venvs/demo/bin/pip" install -q --no-index --find-links "$D/wheels" hello
step "VIRTUAL_ENV=$D/venvs/demo kpy save demo"
VIRTUAL_ENV=$D/venvs/demo "$KPY" save demo
step "kpy list"
"$KPY" list

echo
echo "== running it through Slurm: restored on the node's scratch, activated, offline"
step "srun --kpy-env=demo sh -c 'which hello; hello; python -c \"import sys; print(sys.prefix)\"; env | grep -E \"^(PIP_NO_INDEX|PIP_FIND_LINKS|UV_)\" | sort'"
srun --kpy-env=demo sh -c 'which hello; hello; python -c "import sys; print(sys.prefix)"; env | grep -E "^(PIP_NO_INDEX|PIP_FIND_LINKS|UV_)" | sort'
echo
echo "== one allocation, three steps: restored by the first, found in place by the others"
cluster_wait_idle 10    # the first job's epilog removes its scratch
step "salloc --kpy-env=demo sh -c 'srun hello; srun hello; srun hello'"
salloc -Q --kpy-env=demo sh -c 'srun hello; srun hello; srun hello'
echo
echo "== from the slurmd log:"
grep -E "kpy: (restored|.* already restored)" "$CLUSTER_SLURMD_LOG" | sed 's/^\[[^]]*\] //'
echo
echo "== stopping the cluster"
