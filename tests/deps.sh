#!/bin/sh
# deps.sh: install, from Debian 12's packages, everything kpy needs to build, to be
# tested (with the fuzzers, valgrind and the static analyzers), and to run a
# throwaway local Slurm. Run as root.
set -eu
if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: run this as root (it installs Debian packages with apt-get):" >&2
	if command -v sudo >/dev/null 2>&1; then
		echo "  sudo $0" >&2
	else
		echo "  there is no sudo here: become root (su -, or log in as root) and run $0" >&2
	fi
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# wait (up to 10 minutes) for another apt or unattended-upgrades to finish: install
# waits through DPkg::Lock::Timeout; update, which locks the package lists, is retried
wait_lock="-o DPkg::Lock::Timeout=600"
tries=0
while ! apt-get $wait_lock update -qq 2>/tmp/kpy-deps.err.$$; do
	if ! grep -qi 'lock' /tmp/kpy-deps.err.$$ || [ "$tries" -ge 60 ]; then
		cat /tmp/kpy-deps.err.$$ >&2; rm -f /tmp/kpy-deps.err.$$; exit 1
	fi
	[ "$tries" -gt 0 ] || echo "deps.sh: another apt holds its lock; waiting for it (up to 10 minutes)" >&2
	tries=$((tries + 1))
	sleep 10
done
cat /tmp/kpy-deps.err.$$ >&2
rm -f /tmp/kpy-deps.err.$$
apt-get $wait_lock install -y -qq --no-install-recommends \
	build-essential autoconf automake libtool pkg-config \
	libarchive-dev libzstd-dev libiniparser-dev libcriterion-dev libslurm-dev \
	slurmctld slurmd slurm-client munge \
	python3 python3-venv zstd tar libarchive-tools procps passwd hostname ca-certificates \
	clang libclang-rt-14-dev valgrind cppcheck clang-tidy >/dev/null
