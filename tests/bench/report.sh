#!/bin/bash
# report.sh: bench.sh's results as Markdown (medians per method and size/place, the
# ratios to the issue's targets, the machine) and the data file restore.gp plots.
#   report.sh RESULTS.tsv ENVS LOGDIR DROP PLUGIN_WHY NTHREADS DIRS COMMIT VERSION FSTYPES OUT.md OUT.dat LOAD
# RESULTS.tsv lines: size place method run seconds rss_kib (sizes in bytes for size-*).
set -eu
res=$1 envs=$2 logs=$3 drop=$4 why=$5 nth=$6 dirs=$7 commit=$8 version=$9
fstypes=${10} md=${11} dat=${12} load=${13}

# medians: "size place method median_seconds median_rss"
med=$(sort -k1,1 -k2,2 -k3,3 -k5,5n "$res" | awk '
	{ k = $1 " " $2 " " $3; n[k]++; v[k, n[k]] = $5; r[k, n[k]] = $6; if (!(k in seen)) { seen[k] = 1; ord[++m] = k } }
	END { for (i = 1; i <= m; i++) { k = ord[i]; c = n[k]
		mv = (c % 2) ? v[k, (c + 1) / 2] : (v[k, c / 2] + v[k, c / 2 + 1]) / 2
		# RSS: the median of the runs too (sorted separately)
		for (j = 1; j <= c; j++) rr[j] = r[k, j]
		for (a = 1; a <= c; a++) for (b = a + 1; b <= c; b++) if (rr[b] < rr[a]) { t = rr[a]; rr[a] = rr[b]; rr[b] = t }
		mr = (c % 2) ? rr[(c + 1) / 2] : (rr[c / 2] + rr[c / 2 + 1]) / 2
		print k, mv, mr, c } }')
cols=$(awk '{ print $1 " " $2 }' "$res" | awk '!s[$0]++')   # in the order they ran
sizes=$(echo "$cols" | awk '{ print $1 }' | awk '!s[$0]++')
runs=$(echo "$med" | awk '$3 == "load-kpy" { print $6 }' | sort -n | tail -1)

get() { echo "$med" | awk -v s="$1" -v p="$2" -v m="$3" -v f="$4" '$1 == s && $2 == p && $3 == m { print $f; exit }'; }
# row LABEL METHOD FIELD SCALE FORMAT: one table row over all columns
row() {
	local line="| $1 |" s p v
	while read -r s p; do
		v=$(get "$s" "$p" "$2" "$3")
		if [ -z "$v" ]; then line="$line – |"
		else line="$line $(awk -v v="$v" -v k="$4" -v f="$5" 'BEGIN { printf f, v / k }') |"; fi
	done <<< "$cols"
	echo "$line"
}
# ratio LABEL A B TARGET FIELD [FORMAT]: A / B per column, marked against TARGET (ratio <= TARGET)
ratio() {
	local line="| $1 |" s p a b f=${6:-%.2f}
	while read -r s p; do
		a=$(get "$s" "$p" "$2" "$5") b=$(get "$s" "$p" "$3" "$5")
		if [ -z "$a" ] || [ -z "$b" ] || [ "$b" = 0 ]; then line="$line – |"
		else line="$line $(awk -v a="$a" -v b="$b" -v t="$4" -v f="$f" 'BEGIN { r = a / b; printf f "%s", r, t == "" ? "" : (r <= t ? " ok" : " **miss**") }') |"; fi
	done <<< "$cols"
	echo "$line"
}
# limit LABEL METHOD MIB: peak RSS against a limit
limit() {
	local line="| $1 |" s p v
	while read -r s p; do
		v=$(get "$s" "$p" "$2" 5)
		if [ -z "$v" ]; then line="$line – |"
		else line="$line $(awk -v v="$v" -v l="$3" 'BEGIN { printf "%.1f MiB%s", v / 1024, v / 1024 <= l ? " ok" : " **miss**" }') |"; fi
	done <<< "$cols"
	echo "$line"
}

{
echo "# kpy benchmark results"
echo
echo "$(date -u '+%Y-%m-%d %H:%M UTC'); $version (commit $commit); median of $runs alternating runs"
echo "(save-pytar: one run); page cache $( [ "$drop" = yes ] && echo "dropped before every run" || echo "warm (not root: not dropped)")."
echo
echo "Machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo),"
echo "Linux $(uname -r); file systems $fstypes; load average $load."
echo
echo "| env | files | directories | MiB | zstd -3 ratio, text | zstd -3 ratio, binaries |"
echo "|---|---|---|---|---|---|"
for s in $sizes; do
	read -r _ mib files ndirs < <(grep "^$s " "$envs" | head -1)
	t=$(sed -n 's/^mkenv: text: .* ratio \([0-9.]*\).*/\1/p' "$logs/mkenv.$s" 2> /dev/null || true)
	b=$(sed -n 's/^mkenv: binary: .* ratio \([0-9.]*\).*/\1/p' "$logs/mkenv.$s" 2> /dev/null || true)
	echo "| $s | $files | $ndirs | $mib | ${t:-–} | ${b:-–} |"
done
echo
hdr="| seconds (median) |" sep="|---|"
while read -r s p; do hdr="$hdr $s, $p |" sep="$sep---|"; done <<< "$cols"
echo "$hdr"; echo "$sep"
row "save: kpy save" save-kpy 4 1 %.2f
row "save: kpy save, 1 thread" save-kpy-1 4 1 %.2f
row "save: tar -cf - \| zstd -3 -T0" save-tar 4 1 %.2f
row "save: Python tarfile + gzip" save-pytar 4 1 %.2f
row "archive MiB: kpy" size-kpy 4 1048576 %.1f
row "archive MiB: tar + zstd -3" size-tar 4 1048576 %.1f
row "archive MiB: tarfile + gzip" size-pytar 4 1048576 %.1f
row "restore: kpy load" load-kpy 4 1 %.2f
row "restore: kpy load, 1 thread" load-kpy-1 4 1 %.2f
[ "$nth" = 2 ] || row "restore: kpy load, 2 threads" load-kpy-2 4 1 %.2f
row "restore: kpy load, $nth threads (all cores)" "load-kpy-$nth" 4 1 %.2f
row "restore: kpy export" export-kpy 4 1 %.2f
row "restore: tar -I zstd -xf" load-tar 4 1 %.2f
row "restore: Python tarfile + gzip" load-pytar 4 1 %.2f
row "file-creation limit, 1 thread" mkfiles-1 4 1 %.2f
[ "$nth" = 2 ] || row "file-creation limit, 2 threads" mkfiles-2 4 1 %.2f
row "file-creation limit, $nth threads (all cores)" "mkfiles-$nth" 4 1 %.2f
if [ -z "$why" ]; then
	row "restore: srun --kpy-env=NAME true − srun true" srun-kpy 4 1 %.2f
	row "restore: the plugin's own (slurmd log)" srun-restore 4 1 %.2f
	row "srun true" srun-plain 4 1 %.2f
fi
row "peak RSS MiB: kpy save" save-kpy 5 1024 %.1f
row "peak RSS MiB: kpy load" load-kpy 5 1024 %.1f
row "peak RSS MiB: tar -I zstd -xf (tar only)" load-tar 5 1024 %.1f
echo
hdr="| ratio (target) |" sep="|---|"
while read -r s p; do hdr="$hdr $s, $p |" sep="$sep---|"; done <<< "$cols"
echo "$hdr"; echo "$sep"
ratio "kpy load / tar -I zstd -xf (≤ 0.5)" load-kpy load-tar 0.5 4
ratio "kpy load, 1 thread / tar -I zstd -xf" load-kpy-1 load-tar "" 4
ratio "kpy load, 1 thread / file-creation limit, 1 thread" load-kpy-1 mkfiles-1 "" 4
[ "$nth" = 2 ] || ratio "kpy load / file-creation limit, 2 threads (≤ 2)" load-kpy mkfiles-2 2 4
ratio "kpy load / file-creation limit, $nth threads$([ "$nth" = 2 ] && echo " = 2 cores") (≤ 2)" load-kpy "mkfiles-$nth" 2 4
ratio "kpy save / tar \| zstd -3 -T0, time (≤ 1.0)" save-kpy save-tar 1.0 4 %.3f
ratio "kpy archive / tar + zstd -3, size (≤ 1.0)" size-kpy size-tar 1.0 4 %.4f
[ -n "$why" ] || ratio "srun --kpy-env / kpy load" srun-kpy load-kpy "" 4
limit "peak RSS, kpy save (≤ 64 MiB)" save-kpy 64
limit "peak RSS, kpy load (≤ 64 MiB)" load-kpy 64
echo
[ -z "$why" ] || echo "No srun --kpy-env row: $why."
echo "The RSS target is for the large env; the file-creation limit is tests/bench/mkfiles.c"
echo "(the same tree created from memory, no archive, no compression)."
} > "$md"

# restore.dat for restore.gp (tab-separated): env MiB, then one column per method and place
labels="kpy load|tar -I zstd -xf|tarfile + gzip|file creation, 1 thread|file creation, $nth threads|srun --kpy-env"
{
	printf 'MiB'
	for p in $dirs; do
		echo "$labels" | tr '|' '\n' | while read -r l; do printf '\t%s (%s)' "$l" "$p"; done
	done
	echo
	for s in $sizes; do
		printf '%s' "$(grep "^$s " "$envs" | head -1 | cut -d' ' -f2)"
		for p in $dirs; do for m in load-kpy load-tar load-pytar mkfiles-1 "mkfiles-$nth" srun-kpy; do
			v=$(get "$s" "$p" "$m" 4); printf '\t%s' "${v:-?}"
		done; done
		echo
	done
} > "$dat"
