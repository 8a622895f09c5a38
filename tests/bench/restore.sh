#!/bin/bash
# restore.sh: how long save and load take for a real venv (pip + setuptools + a test
# wheel, ~1700 files), against GNU tar + zstd on the same tree. Prints medians and
# ratios; not part of `make check`.
#   KPY=_build/kpy/kpy KPY_SRCDIR=. tests/bench/restore.sh [RUNS]
set -eu
. "${KPY_SRCDIR:-.}/tests/lib/common.sh"
runs=${1:-7}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ms() { local t0 t1; t0=$(date +%s%N); "$@" >/dev/null 2>&1; t1=$(date +%s%N); echo $(((t1 - t0) / 1000000)); }

mkwheel "$T/wh" hello >/dev/null
"$KPY_TEST_PYTHON" -m venv "$T/tmp/kpy-$(id -un)/bench" 2>/dev/null || { mkdir -p "$T/tmp/kpy-$(id -un)"; "$KPY_TEST_PYTHON" -m venv "$T/tmp/kpy-$(id -un)/bench"; }
V=$T/tmp/kpy-$(id -un)/bench
"$V/bin/pip" install -q --no-index "$T"/wh/*.whl
files=$(find "$V" | wc -l); bytes=$(du -sb "$V" | cut -f1)
export VIRTUAL_ENV=$V
save=() tsave=() load=() tload=()
for i in $(seq "$runs"); do
	save+=("$(ms "$KPY" save -f bench)")
	tsave+=("$(ms tar --zstd -cf "$T/tar.tar.zst" -C "$V" .)")
done
unset VIRTUAL_ENV
A=$XDG_DATA_HOME/kpy/venv_archives/bench.tar.zst
for i in $(seq "$runs"); do
	rm -rf "$T/tmp/kpy-$(id -un)/b2" "$T/x"; mkdir -p "$T/x"
	sync; load+=("$(ms "$KPY" load bench --as b2)")
	tload+=("$(ms tar --zstd -xf "$A" -C "$T/x")")
done
s=$(printf '%s\n' "${save[@]}" | median); ts=$(printf '%s\n' "${tsave[@]}" | median)
l=$(printf '%s\n' "${load[@]}" | median); tl=$(printf '%s\n' "${tload[@]}" | median)
echo "env: $files files, $bytes bytes; archive $(stat -c %s "$A") bytes (tar+zstd: $(stat -c %s "$T/tar.tar.zst"))"
echo "save: kpy $s ms, tar --zstd $ts ms, ratio $(awk -v a="$s" -v b="$ts" 'BEGIN{printf "%.2f", a/b}')"
echo "load: kpy $l ms (extract + relocate + rename), tar --zstd -x $tl ms, ratio $(awk -v a="$l" -v b="$tl" 'BEGIN{printf "%.2f", a/b}')"
