#!/bin/bash
# save.sh: what kpy save writes (zstd's seekable format: many frames and a seek table,
# still one .tar.zst for tar --zstd, bsdtar and zstd -d), old single-stream archives
# still loading, -j/--jobs and the threads setting checked, and the progress line
# (KPY_PROGRESS=always; nothing off a terminal by default; on a real pty via script).
. "$KPY_SRCDIR/tests/lib/common.sh"

need_venv_tools
command -v bsdtar > /dev/null || skip_all "bsdtar not installed (apt-get install libarchive-tools)"
mkvenv() { "$KPY_TEST_PYTHON" -m venv --without-pip "$1" > /dev/null; }
# gen FILE MIB SEED: text that compresses about 3x, the same for the same seed
gen() {
	"$KPY_TEST_PYTHON" -c 'import random, sys
r = random.Random(int(sys.argv[3])); w = [("w%d" % i).encode() for i in range(3000)]
out = bytearray()
while len(out) < int(sys.argv[2]) << 20: out += b" ".join(r.choices(w, k=64)) + b"\n"
open(sys.argv[1], "wb").write(out[:int(sys.argv[2]) << 20])' "$1" "$2" "$3"
}

V=$T/v
mkvenv "$V"
mkdir -p "$V/lib/data"
gen "$V/lib/data/big.bin" 9 1
for i in $(seq 1 40); do tail -c $((i * 3001)) "$V/lib/data/big.bin" > "$V/lib/data/f$i.py"; done
export VIRTUAL_ENV=$V
A=$ARCH/s1.tar.zst

ok "save -j 2" quiet "$KPY" save -j 2 s1
frames() { zstd -lv "$1" 2> /dev/null | sed -n 's/^# Zstandard Frames: //p'; }
skips() { zstd -lv "$1" 2> /dev/null | sed -n 's/^# Skippable Frames: //p'; }
ok "the archive is several zstd frames (big.bin is 9 MiB: at least 3)" test "$(frames "$A")" -ge 3
ok "  ... and one skippable frame, the seek table" same "$(skips "$A")" 1
ok "  ... whose footer ends the file (seekable magic 0x8F92EAB1)" \
	same "$(tail -c 4 "$A" | od -An -tx1 | tr -d ' ')" b1ea928f
ok "zstd -t checks every frame" quiet zstd -q -t "$A"
mkdir -p "$T/x1" "$T/x2"
ok "tar --zstd -xf extracts it" tar --zstd -xf "$A" -C "$T/x1"
ok "bsdtar -xf extracts it" bsdtar -xf "$A" -C "$T/x2"
ok "  ... the two alike" diff -r --no-dereference "$T/x1" "$T/x2"
ok "  ... with the env's data" cmp "$T/x1/lib/data/big.bin" "$V/lib/data/big.bin"
ok "load restores it" quiet "$KPY" load s1
ok "  ... byte for byte" cmp "$LIVE/s1/lib/data/big.bin" "$V/lib/data/big.bin"

# the message's figures come from the save itself, and agree with the archive
run "$KPY" save -f s1
files=$(( $(tar --zstd -tf "$A" | wc -l) - 3 )) # less manifest, packages, relocate
ok "save says how many files it archived" grep -q "^kpy: saved s1 to $A ($files files, " "$T/err"
size=$(stat -c %s "$A")
human=$("$KPY_TEST_PYTHON" -c 'import sys
v = float(sys.argv[1]); u = ["B", "K", "M", "G", "T"]; i = 0
while v >= 1024 and i < 4: v /= 1024; i += 1
print(("%.0f%s" if i == 0 else "%.1f%s") % (v, u[i]))' "$size")
ok "  ... and the archive's size ($size bytes)" grep -q -- "-> $human) in " "$T/err"

# --- archives of kpy before the seekable format: one zstd stream ------------------------
zstd -q -dc "$A" | zstd -q -3 -o "$ARCH/old.tar.zst"
ok "a single-stream archive (no seek table)" same "$(frames "$ARCH/old.tar.zst") $(skips "$ARCH/old.tar.zst")" "1 "
ok "  ... loads" quiet "$KPY" load old
ok "  ... byte for byte" cmp "$LIVE/old/lib/data/big.bin" "$V/lib/data/big.bin"
ok "  ... and lists" bash -c '"$1" list | grep -q "^old "' _ "$KPY"

# --- threads: -j N, --jobs N, the threads setting, KPY_THREADS --------------------------
ok "save --jobs=1" quiet "$KPY" save -f --jobs=1 s2
ok "load --jobs 3" quiet "$KPY" load --jobs 3 s2
for bad in 0 65 x 2x -1 ""; do
	ok "save -j '$bad': a usage error naming it" says 2 "-j needs a number of threads from 1 to 64, not '$bad'" \
		"$KPY" save -f -j "$bad" s2
	ok "load -j '$bad' too" says 2 "-j needs a number of threads from 1 to 64, not '$bad'" "$KPY" load -f -j "$bad" s2
done
ok "save -j without a number" says 2 "-j needs a number of threads" "$KPY" save s2 -j
ok "load -j x --sh prints false for eval" bash -c '[ "$("$1" load s2 -j x --sh 2> /dev/null)" = false ]' _ "$KPY"
ok "load -j 2 without a NAME: a usage error" says 2 "give the NAME of a saved" "$KPY" load -j 2
ok "run -j x: a usage error" says 2 "-j needs a number of threads from 1 to 64, not 'x'" "$KPY" run -j x "$T/none.py"
ok "KPY_THREADS=abc: the setting and its source are named" \
	says 1 "threads 'abc' (from KPY_THREADS) is not a number from 1 to 64" env KPY_THREADS=abc "$KPY" save -f s2
ok "config threads: auto by default" same "$("$KPY" config threads)" auto
ok "config threads 4" quiet "$KPY" config threads 4
ok "  ... read back" same "$("$KPY" config threads)" 4
ok "  ... save still works with it" quiet "$KPY" save -f s2
ok "config threads 100: refused" says 1 "threads '100'" "$KPY" config threads 100
quiet "$KPY" config --unset threads
ok "completion offers -j and --jobs for save" \
	bash -c 'eval "$("$1" bash)"; COMP_WORDS=(kpy save -); COMP_CWORD=2; __kpy_complete; echo " ${COMPREPLY[*]} "' _ "$KPY" |
	grep -q -- " -j .*--jobs "
ok "  ... and offers no names as the value of -j" \
	same "$(bash -c 'eval "$("$1" bash)"; COMP_WORDS=(kpy load -j ""); COMP_CWORD=3; __kpy_complete; echo ${COMPREPLY[*]}' _ "$KPY")" ""

# --- progress -----------------------------------------------------------------------
run "$KPY" save -f s1
ok "save: no progress off a terminal by default" lacks "saving s1:"
run env KPY_PROGRESS=always "$KPY" save -f s1
ok "save with KPY_PROGRESS=always: progress lines on stderr" grep -Eq '^saving s1: .* of .*, [0-9]+ of [0-9]+ files, .*/s' "$T/err"
ok "  ... the last one says all is done" \
	bash -c 'l=$(grep "^saving s1:" "$1" | tail -1); b=${l#saving s1: }; b=${b%% of *}; t=${l#* of }; t=${t%%,*}; [ "$b" = "$t" ]' _ "$T/err"
ok "  ... and the save still says what it did" grep -q "^kpy: saved s1 to " "$T/err"
run env KPY_PROGRESS=never "$KPY" save -f s1
ok "KPY_PROGRESS=never: none" lacks "saving s1:"
run "$KPY" load -f s1
ok "load: no progress off a terminal by default" lacks "loading s1:"
run env KPY_PROGRESS=always "$KPY" load -f s1
ok "load with KPY_PROGRESS=always: a progress line with the manifest's totals" \
	grep -Eq "^loading s1: .* of .*, [0-9]+ of $files files" "$T/err"

if command -v script > /dev/null; then
	# a real terminal: a slow save (level 19, one thread) draws the line and erases it
	run script -qec "env KPY_LEVEL=19 VIRTUAL_ENV='$V' '$KPY' save -f -j 1 s3" /dev/null
	ok "on a pty a save taking over a second draws a progress line" grep -q $'\rsaving s3: ' "$T/out"
	ok "  ... redrawn in place and erased at the end" grep -q $'\r\033\\[K' "$T/out"
	# (a timing: not under valgrind, which makes every save slow)
	if [ "$KPY" = "${KPY_REAL:-$KPY}" ]; then
		mkvenv "$T/small"
		run script -qec "env VIRTUAL_ENV='$T/small' '$KPY' save -f small 2>&1" /dev/null
		ok "  ... a quick save shows none" bash -c '! grep -q "saving small:" "$1" && grep -q "saved small" "$1"' _ "$T/out"
	fi
else
	diag "script (util-linux) not installed: no pty test"
fi

done_testing
