#!/bin/sh
# demo.sh: the README's quick start. On a fresh Debian 12 machine, as root: install
# the dependencies, build kpy, start a throwaway one-node Slurm on 127.0.0.1, make
# and save a demo venv, run `srun --kpy-env=demo ...` to show it restored and
# offline, and stop the cluster. Nothing is installed outside the source tree
# except the Debian packages.
#   tests/demo.sh            install the packages first (apt-get), then the demo
#   tests/demo.sh --no-deps  the packages are already there
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
case ${1:-} in
''|--no-deps) ;;
*) echo "usage: tests/demo.sh [--no-deps]" >&2; exit 2 ;;
esac
if [ "$(id -u)" -ne 0 ]; then
	echo "demo.sh: run this as root: it installs Debian packages and starts slurmctld, slurmd and munged." >&2
	if command -v sudo >/dev/null 2>&1; then
		echo "  sudo $0 ${1:-}" >&2
	else
		echo "  there is no sudo here: become root (su -, or log in as root) and run $0 ${1:-}" >&2
	fi
	exit 1
fi
[ "${1:-}" = --no-deps ] || sh "$top/tests/deps.sh"
cd "$top"
./bootstrap >/dev/null 2>&1 || ./bootstrap
# where to build: _build, unless ./configure was run in the source tree itself, which
# makes configure refuse a separate build directory: then build in place
if [ -f "$top/config.status" ]; then
	build=$top
	echo "== the source tree is configured in place (./configure was run in $top): building there"
	echo "   (for a separate build in _build, run 'make distclean' in $top first)"
	make -j"$(nproc)" >make.out 2>&1 || { cat make.out; exit 1; }
else
	build=$top/_build
	mkdir -p _build
	(cd _build && { [ -f Makefile ] || ../configure >configure.out 2>&1 || { cat configure.out; exit 1; }; } &&
	 make -j"$(nproc)" >make.out 2>&1 || { cat make.out; exit 1; })
fi
if [ ! -e "$build/plugin/.libs/spank_kpy.so" ]; then
	echo "demo.sh: $build has no Slurm plugin (plugin/.libs/spank_kpy.so): it was configured" >&2
	echo "  --without-slurm, or libslurm-dev was missing. Install the packages (tests/deps.sh)," >&2
	echo "  then run 'make distclean' in $build and this script again." >&2
	exit 1
fi
KPY=$build/kpy/kpy KPY_PLUGIN=$build/plugin/.libs/spank_kpy.so KPY_SRCDIR=$top \
	exec bash "$top/tests/slurm/demo.sh"
