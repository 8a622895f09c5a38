#!/bin/sh
# demo.sh: the README's quick start. On a fresh Debian 12 machine, as root: install
# the dependencies, build kpy, start a throwaway one-node Slurm on 127.0.0.1, make
# and save a demo venv, run `srun --kpy-env=demo ...` to show it restored and
# offline, and stop the cluster. Nothing is installed outside the source tree
# except the Debian packages.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
[ "${1:-}" = --no-deps ] || sh "$top/tests/deps.sh"
cd "$top"
./bootstrap >/dev/null 2>&1 || ./bootstrap
mkdir -p _build
(cd _build && { [ -f Makefile ] || ../configure >configure.out 2>&1 || { cat configure.out; exit 1; }; } &&
 make -j"$(nproc)" >make.out 2>&1 || { cat make.out; exit 1; })
KPY=$top/_build/kpy/kpy KPY_PLUGIN=$top/_build/plugin/.libs/spank_kpy.so KPY_SRCDIR=$top \
	exec bash "$top/tests/slurm/demo.sh"
