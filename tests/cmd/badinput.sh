#!/bin/bash
# badinput.sh: bad names refused before anything is written; hostile archives
# refused without writing outside the target; truncated and corrupted archives
# reported as damaged with nothing left; pipdir problems; save without a venv;
# --as an existing name; a base interpreter missing at load time.
. "$KPY_SRCDIR/tests/lib/common.sh"

need_venv_tools
mkdir -p "$T/pybin"
ln -s "$KPY_TEST_PYTHON" "$T/pybin/python3"
export PATH="$T/pybin:$PATH"

# snapshot: every path under $T with type, size and mtime (directories too, so
# a temporary file made and removed shows), minus the scratch files out/err
# and the bulk of venvs (lib/python3.*, which kpy never writes in place).
: > "$T/out"; : > "$T/err"
snapshot() {
	find "$T" \( -path "$T/out" -o -path "$T/err" -o -path '*/lib/python3*' \) -prune \
		-o -printf '%p %y %s %T@\n' | LC_ALL=C sort
}
# unchanged COMMAND...: COMMAND changes nothing under $T
unchanged() {
	local before after rc
	before=$(snapshot)
	"$@"; rc=$?
	after=$(snapshot)
	[ "$before" = "$after" ] || { diag "files changed:"; diff <(printf '%s\n' "$before") \
		<(printf '%s\n' "$after") | sed 's/^/#   /'; return 1; }
	return "$rc"
}
# none_like WORD: no entry of $T (hidden ones too) has WORD in its name
none_like() {
	local f
	for f in "$T"/* "$T"/.[!.]*; do
		case ${f##*/} in *"$1"*) [ -e "$f" ] || [ -L "$f" ] && { diag "leftover: $f"; return 1; } ;; esac
	done
	return 0
}
# the live env names kpy activate offers, space-separated
live() { "$KPY" activate 2> /dev/null | tr '\n' ' '; }

# --- one good env and archive to work with ---------------------------------------
"$KPY" create good > /dev/null 2>&1
VIRTUAL_ENV=$LIVE/good "$KPY" save good > /dev/null 2>&1
ok "setup: env good saved" test -f "$ARCH/good.tar.zst"
# a small one (no pip) for the many hostile variants: quick to extract
"$KPY_TEST_PYTHON" -m venv --without-pip "$T/smallvenv"
VIRTUAL_ENV=$T/smallvenv "$KPY" save small > /dev/null 2>&1
ok "setup: env small saved" test -f "$ARCH/small.tar.zst"

# --- bad names ------------------------------------------------------------------
long=$(printf 'a%.0s' $(seq 1 65))
ok "a 64-byte name is fine" quiet "$KPY" create "${long:1}"
rm -rf "${LIVE:?}/${long:1}"
i=0
for bad in '../x' 'a/b' '' $'a\nb' '-x' '.x' "$long" 'a b' 'x*' '..' '.'; do
	i=$((i + 1))
	shown=$(printf '%q' "$bad")
	pat='name|option'
	ok "create $shown refused" unchanged fails "$pat" "$KPY" create "$bad"
	ok "create 3.11 $shown refused" unchanged fails "$pat" "$KPY" create 3.11 "$bad"
	ok "save $shown refused" unchanged fails "$pat" env VIRTUAL_ENV="$LIVE/good" "$KPY" save "$bad"
	ok "save -f $shown refused" unchanged fails "$pat" env VIRTUAL_ENV="$LIVE/good" "$KPY" save -f "$bad"
	ok "load $shown refused" unchanged fails "$pat" "$KPY" load "$bad"
	ok "load good --as $shown refused" unchanged fails "$pat" "$KPY" load good --as "$bad"
	ok "activate $shown refused" unchanged fails "$pat" "$KPY" activate "$bad"
	ok "rm $shown refused" unchanged fails "$pat" "$KPY" rm "$bad"
	ok "export $shown refused" unchanged fails "$pat" "$KPY" export "$bad" "$T/exp$i"
done
ok "no env made by any bad name" same "$(live)" "good "
ok "good archives still there, alone" same "$(ls -A "$ARCH" | tr '\n' ' ')" "good.tar.zst small.tar.zst "

# --- hostile archives -------------------------------------------------------------
# rebuild a real archive (small) with extra entries before .kpy/relocate
OUT=$T/outside
mkdir -p "$OUT"
echo original > "$OUT/victim"
zstd -q -d -c "$ARCH/small.tar.zst" > "$T/small.tar"
cat > "$T/evil.py" << 'EOF'
import io, re, sys, tarfile
src, dst, kind, out = sys.argv[1:5]
deep = "../" * 40 + out.lstrip("/")        # climbs to / then down into OUT
def reg(name, data=b"pwned\n"):
    ti = tarfile.TarInfo(name); ti.size = len(data); ti.mode = 0o644; return ti, data
def link(name, target, typ):
    ti = tarfile.TarInfo(name); ti.type = typ; ti.linkname = target; return ti, None
extra = {
    "none": [],
    "abs": [reg(out + "/abs")],
    "dotdot": [reg("lib/" + deep + "/dotdot")],
    "sibling": [reg("../sibling")],
    "sym": [link("lib/esc", out, tarfile.SYMTYPE), reg("lib/esc/sym")],
    "symrel": [link("lib/esc", deep, tarfile.SYMTYPE), reg("lib/esc/symrel")],
    "symdir": [link("esc", out, tarfile.SYMTYPE), reg("esc/symdir")],
    "hard": [link("bin/hl", out + "/victim", tarfile.LNKTYPE)],
    "hardrel": [link("bin/hl", deep + "/victim", tarfile.LNKTYPE)],
    "hardsym": [link("lib/esc", out, tarfile.SYMTYPE),
                link("bin/hl", "lib/esc/victim", tarfile.LNKTYPE)],
}[kind]
with tarfile.open(src) as t, tarfile.open(dst, "w", format=tarfile.PAX_FORMAT) as o:
    members = t.getmembers()
    for m in members:
        name = m.name[2:] if m.name.startswith("./") else m.name
        if name == ".kpy/relocate":
            for ti, data in extra:
                o.addfile(ti, io.BytesIO(data) if data is not None else None)
        f = t.extractfile(m) if m.isreg() else None
        if name == ".kpy/manifest.ini":
            text = f.read().decode()
            text = re.sub(r"(?m)^(files\s*=\s*)(\d+)",
                          lambda g: g.group(1) + str(int(g.group(2)) + len(extra)), text)
            data = text.encode(); m.size = len(data); f = io.BytesIO(data)
        o.addfile(m, f)
EOF
evil() { # evil KIND: pipdir/venv_archives/evil_KIND.tar.zst
	"$KPY_TEST_PYTHON" "$T/evil.py" "$T/small.tar" "$T/evil_$1.tar" "$1" "$OUT" &&
		zstd -q --check -f "$T/evil_$1.tar" -o "$ARCH/evil_$1.tar.zst" && rm -f "$T/evil_$1.tar"
}
outside_intact() {
	same "$(ls -A "$OUT" | tr '\n' ' ')" "victim " &&
		same "$(cat "$OUT/victim")" original &&
		same "$(stat -c %h "$OUT/victim")" 1 &&
		same "$(ls -A "$TMPDIR" | tr '\n' ' ')" "kpy-$U " &&
		same "$(ls -A "$LIVE" | tr '\n' ' ')" "good "
}
ok "the rebuilt archive without extras is still good (control)" evil none
ok "control: it loads" quiet "$KPY" load evil_none
ok "control: loaded env works" "$LIVE/evil_none/bin/python" -c 'import sys'
rm -rf "$LIVE/evil_none"
for kind in abs dotdot sibling sym symrel symdir hard hardrel hardsym; do
	ok "build hostile archive evil_$kind" evil "$kind"
	ok "load evil_$kind refused, naming it" fails "evil_$kind" "$KPY" load "evil_$kind"
	ok "evil_$kind: nothing written outside, no env left" outside_intact
	ok "evil_$kind: activate offers nothing new" same "$(live)" "good "
	ok "export evil_$kind refused" fails "evil_$kind" "$KPY" export "evil_$kind" "$T/exp_$kind"
	ok "evil_$kind: export left nothing" test ! -e "$T/exp_$kind"
	ok "evil_$kind: nothing written outside after export" outside_intact
	ok "evil_$kind: nothing beside the export target" none_like "exp_$kind"
done

# --- truncated and corrupted archives ---------------------------------------------
size=$(stat -c %s "$ARCH/good.tar.zst")
head -c $((size / 2)) "$ARCH/good.tar.zst" > "$ARCH/trunc.tar.zst"
cp "$ARCH/good.tar.zst" "$ARCH/corrupt.tar.zst"
"$KPY_TEST_PYTHON" - "$ARCH/corrupt.tar.zst" << 'EOF'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
i = len(b) * 2 // 3
b[i] ^= 0xFF
open(p, "wb").write(b)
EOF
head -c $((size - 9)) "$ARCH/good.tar.zst" > "$ARCH/tail.tar.zst"
# each case extracts the whole (big) archive before failing: a few operations each
for bad in trunc corrupt tail; do
	ok "load $bad: archive $bad is damaged" \
		expect_fail 1 "archive .*$bad.* damaged" "$KPY" load "$bad"
	ok "load $bad: nothing left" same "$(ls -A "$LIVE" | tr '\n' ' ')" "good "
	ok "load $bad: activate offers nothing new" same "$(live)" "good "
	[ "$bad" = trunc ] || continue
	ok "load $bad --as other: damaged too" \
		expect_fail 1 "archive .*$bad.* damaged" "$KPY" load "$bad" --as "x$bad"
	ok "export $bad: damaged" expect_fail 1 "archive .*$bad.* damaged" \
		"$KPY" export "$bad" "$T/exp_$bad"
	ok "export $bad: target not made" test ! -e "$T/exp_$bad"
	ok "export $bad: nothing beside the target" none_like "exp_$bad"
	ok "load $bad inside a job: damaged, nothing left" bash -c '
		mkdir -p "$1/job" && SLURM_TMPDIR=$1/job "$2" load "$3" 2> /dev/null
		[ $? -eq 1 ] && [ -z "$(ls -A "$1/job/kpy" 2> /dev/null)" ]' _ "$T" "$KPY" "$bad"
done
printf 'this is not zstd\n' > "$ARCH/garbage.tar.zst"
ok "load of a non-zstd file: damaged" expect_fail 1 "archive .*garbage.* damaged" \
	"$KPY" load garbage
ok "list still works with damaged archives around" quiet "$KPY" list
ok "rm of a damaged archive works" quiet "$KPY" rm garbage

# --- pipdir problems ------------------------------------------------------------------
ok "load from a missing pipdir fails naming it" \
	fails "$T/nopipdir" env KPY_PIPDIR="$T/nopipdir" "$KPY" load good
ok "missing pipdir not created by load" test ! -e "$T/nopipdir"
ok "save makes a missing pipdir" quiet env KPY_PIPDIR="$T/newpd/sub" VIRTUAL_ENV="$LIVE/good" "$KPY" save g2
ok "made pipdir holds the archive" test -f "$T/newpd/sub/venv_archives/g2.tar.zst"
echo file > "$T/afile"
ok "save to a pipdir that is a file fails naming it" \
	expect_fail 1 "$T/afile" env KPY_PIPDIR="$T/afile" VIRTUAL_ENV="$LIVE/good" "$KPY" save g3
ok "load from a pipdir that is a file fails naming it" \
	expect_fail 1 "$T/afile" env KPY_PIPDIR="$T/afile" "$KPY" load good
ok "list from a pipdir that is a file fails naming it" \
	expect_fail 1 "$T/afile" env KPY_PIPDIR="$T/afile" "$KPY" list
ok "the file is untouched" same "$(cat "$T/afile")" file

# not writable: as root, run as nobody (root writes anywhere)
mkdir -p "$T/ro/venv_archives" "$T/pub"
"$KPY_TEST_PYTHON" -m venv --without-pip "$T/pub/venv"
if [ "$(id -u)" -eq 0 ]; then
	cp "$KPY" "$T/kpy-copy"
	chown -R 65534:65534 "$T/pub"
	asuser() { setpriv --reuid=65534 --regid=65534 --clear-groups -- \
		env USER=nobody HOME="$T/pub" XDG_CONFIG_HOME="$T/pub/.config" "$@"; }
	ukpy=$T/kpy-copy
else
	chmod 0555 "$T/ro" "$T/ro/venv_archives"
	at_exit "chmod -R u+w '$T/ro'"
	asuser() { "$@"; }
	ukpy=$KPY
fi
ok "save to a read-only pipdir fails naming it" \
	expect_fail 1 "$T/ro" asuser env KPY_PIPDIR="$T/ro" VIRTUAL_ENV="$T/pub/venv" "$ukpy" save g4
ok "nothing written to the read-only pipdir" same "$(ls -A "$T/ro/venv_archives")" ""
ok "the venv is untouched by the refused save" test ! -e "$T/pub/venv/.kpy"

# --- the live root: a symlink, or another user's directory, is refused -------------------
mkdir -p "$T/tmp2" "$T/attacker"
ln -s "$T/attacker" "$T/tmp2/kpy-$U"
ok "live root that is a symlink: create refused" fails "$T/tmp2/kpy-$U" env TMPDIR="$T/tmp2" "$KPY" create s1
ok "live root that is a symlink: load refused" fails "$T/tmp2/kpy-$U" env TMPDIR="$T/tmp2" "$KPY" load good
ok "nothing written through the symlink" same "$(ls -A "$T/attacker")" ""
if [ "$(id -u)" -eq 0 ]; then
	mkdir -m 0777 "$T/tmp2/kpy-nobody"
	chmod 1777 "$T/tmp2" # like /tmp
	ok "live root taken by another user: a private one instead (jobs.sh)" \
		quiet asuser env TMPDIR="$T/tmp2" "$ukpy" load good
	ok "nothing written into it" same "$(ls -A "$T/tmp2/kpy-nobody")" ""
fi

# --- save without an active venv ---------------------------------------------------------
ok "save with no VIRTUAL_ENV fails" fails 'VIRTUAL_ENV|venv|activ' env -u VIRTUAL_ENV "$KPY" save x1
ok "save with VIRTUAL_ENV missing on disk fails" \
	fails "$T/gone" env VIRTUAL_ENV="$T/gone" "$KPY" save x2
mkdir -p "$T/notvenv"
ok "save with VIRTUAL_ENV not a venv fails" \
	fails "$T/notvenv" env VIRTUAL_ENV="$T/notvenv" "$KPY" save x3
ok "no archive written by those" bash -c '! ls "$1"/x[123].tar.zst 2> /dev/null' _ "$ARCH"

# --- --as an existing name ------------------------------------------------------------------
"$KPY" create taken > /dev/null 2>&1
touch "$LIVE/taken/marker"
ok "load good --as taken fails" expect_fail 1 'taken' "$KPY" load good --as taken
ok "the existing env is untouched" test -f "$LIVE/taken/marker"
# (the live good was saved again as g2 above: it no longer holds the save good)
ok "load good when the live good holds another save fails, suggesting -f" \
	expect_fail 1 "load -f good" "$KPY" load good
ok "load of an unknown name fails listing saved ones" expect_fail 1 'good' "$KPY" load nosuch
ok "create of a loaded name fails" expect_fail 1 'activate' "$KPY" create good

# --- base interpreter missing -------------------------------------------------------------------
# a venv made from a copy of python, saved; then the copy is removed
base=$(readlink -f "$KPY_TEST_PYTHON")
mkdir -p "$T/altpy/bin"
cp "$base" "$T/altpy/bin/"
alt=$T/altpy/bin/${base##*/}
"$alt" -m venv --without-pip "$T/altvenv"
ok "setup: venv from the copied python works" "$T/altvenv/bin/python" -c 'import sys'
ok "save the venv of the copied python" quiet env VIRTUAL_ENV="$T/altvenv" "$KPY" save nopy
rm -rf "$T/altpy" "$T/altvenv"
ok "load without its base interpreter fails naming it" \
	expect_fail 1 "$alt" "$KPY" load nopy
ok "no env left by it" same "$(live)" "good taken "
ok "export without its base interpreter fails naming it" \
	expect_fail 1 "$alt" "$KPY" export nopy "$T/nopy-exp"
ok "export left nothing" test ! -e "$T/nopy-exp"

done_testing
