#!/bin/sh
# deps.sh: install, from Debian 12's packages, everything kpy needs to build, to be
# tested (with the fuzzers, valgrind and the static analyzers), and to run a
# throwaway local Slurm. Run as root.
set -eu
if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: run as root (it uses apt-get)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
	build-essential autoconf automake libtool pkg-config \
	libarchive-dev libzstd-dev libiniparser-dev libcriterion-dev libslurm-dev \
	slurmctld slurmd slurm-client munge \
	python3 python3-venv zstd tar procps passwd hostname ca-certificates \
	clang libclang-rt-14-dev valgrind cppcheck clang-tidy >/dev/null
