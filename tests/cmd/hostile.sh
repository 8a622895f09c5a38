#!/bin/bash
# hostile.sh: a hostile world around real venvs: 8 simultaneous `save -f` of one
# name, `rm` during a load, a zip bomb into a small file system, a disk full
# during save, a read-only pipdir, and hand-made hostile archives (absolute names,
# '..', a file through a symlink, hard links out or to symlinks, devices,
# duplicate entries, manifests with huge or negative counts).
. "$KPY_SRCDIR/tests/lib/common.sh"

need_venv_tools
W=$T/wheels
mkwheel "$W" hello 1.0 > /dev/null
mkdir -p "$T/pybin"
ln -s "$KPY_TEST_PYTHON" "$T/pybin/python3"
export PATH="$T/pybin:$PATH"
root=0
[ "$(id -u)" -eq 0 ] && root=1

# hidden entries (temporaries) in DIR
hidden() { find "$1" -mindepth 1 -maxdepth 1 -name '.*' ! -name '.*.lock' | wc -l; }
# the live env names kpy activate offers, space-separated
live() { "$KPY" activate 2> /dev/null | tr '\n' ' '; }
# loads NAME --as AS, runs its script, removes it
loads_and_runs() {
	quiet "$KPY" load "$1" --as "$2" && quiet "$LIVE/$2/bin/hello" && rm -rf "${LIVE:?}/$2"
}
# mount a tmpfs of SIZE at DIR (made), unmounted at exit
small_fs() {
	mkdir -p "$2" && mount -t tmpfs -o "size=$1,mode=0755" kpy-hostile "$2" &&
		at_exit "umount -l '$2' 2> /dev/null"
}

quiet "$KPY" create web
ok "setup: a wheel installed into web" \
	quiet "$LIVE/web/bin/pip" install -q --no-index --find-links "$W" hello
ok "setup: web saved" quiet env VIRTUAL_ENV="$LIVE/web" "$KPY" save web

# --- 8 simultaneous save -f of one name ------------------------------------------------
pids=""
for i in 1 2 3 4 5 6 7 8; do
	env VIRTUAL_ENV="$LIVE/web" "$KPY" save -f web > /dev/null 2> "$T/save$i.err" &
	pids="$pids $!"
done
fails=0
for p in $pids; do wait "$p" || fails=$((fails + 1)); done
diag "8 simultaneous save -f: $fails failed"
ok "8 simultaneous save -f all succeed" same "$fails" 0
ok "one archive, no temporaries" same "$(ls -A "$ARCH" | tr '\n' ' ')" "web.tar.zst "
ok "it passes zstd's check" quiet zstd -q -t "$ARCH/web.tar.zst"
ok "it loads and its script runs" loads_and_runs web after8

# --- rm during a load ---------------------------------------------------------------
# a bigger env, so the rm lands while the load reads
"$KPY_TEST_PYTHON" -c 'import os, sys; open(sys.argv[1], "wb").write(os.urandom(16 << 20))' \
	"$LIVE/web/lib/big.bin"
quiet env VIRTUAL_ENV="$LIVE/web" "$KPY" save -f webbig
rm -f "$LIVE/web/lib/big.bin"
rm_during_load() {
	local pid rc
	"$KPY" load webbig --as during > /dev/null 2> "$T/during.err" &
	pid=$!
	sleep 0.1
	"$KPY" rm webbig > /dev/null 2>&1 || return 1
	wait "$pid"; rc=$?
	if [ "$rc" -eq 0 ]; then
		diag "the load completed"
		quiet "$LIVE/during/bin/hello" && test -f "$LIVE/during/lib/big.bin"
	else
		diag "the load failed: $(cat "$T/during.err")"
		test ! -e "$LIVE/during" && grep -q 'kpy: ' "$T/during.err"
	fi
}
ok "rm during a load: the load completes or fails cleanly" rm_during_load
ok "rm during a load: no temporary beside the live envs" same "$(hidden "$LIVE")" 0
ok "rm during a load: the archive is gone" test ! -e "$ARCH/webbig.tar.zst"
rm -rf "${LIVE:?}/during"

# --- hand-made archives -----------------------------------------------------------
# forge OUT KIND: a tar.zst whose first entry is a valid .kpy/manifest.ini, the
# bulk taken from the real web archive, plus what KIND adds
# built from a lean copy of web (pip and setuptools removed, hello kept): quick to
# extract, so each hostile variant costs little
OUT=$T/outside
mkdir -p "$OUT"
echo original > "$OUT/victim"
cp -a "$LIVE/web" "$T/lean"
rm -rf "$T"/lean/lib/python3*/site-packages/{pip,setuptools,_distutils_hack,pkg_resources}* \
	"$T"/lean/bin/pip*
quiet env VIRTUAL_ENV="$T/lean" "$KPY" save lean
zstd -q -d -c "$ARCH/lean.tar.zst" > "$T/web.tar"
forge() { # forge KIND: pipdir/venv_archives/evil_KIND.tar.zst
	"$KPY_TEST_PYTHON" "$KPY_SRCDIR/tests/lib/forge.py" "$T/web.tar" "$T/evil_$1.tar" "$1" "$OUT" &&
		zstd -q --check -f "$T/evil_$1.tar" -o "$ARCH/evil_$1.tar.zst" && rm -f "$T/evil_$1.tar"
}
outside_intact() {
	same "$(ls -A "$OUT" | tr '\n' ' ')" "victim " &&
		same "$(cat "$OUT/victim")" original &&
		same "$(stat -c %h "$OUT/victim")" 1
}

ok "a forged archive without extras loads (control)" forge none
ok "control: it loads and runs" loads_and_runs evil_none control

for kind in abs dotdot symfile hardout hardsym device dup huge negative big; do
	ok "build hostile archive evil_$kind" forge "$kind"
	ok "load evil_$kind: damaged, naming it" \
		expect_fail 1 "archive .*evil_$kind\.tar\.zst.* damaged" "$KPY" load "evil_$kind"
	ok "evil_$kind: nothing written outside" outside_intact
	ok "evil_$kind: no env, no temporary left" same "$(live):$(hidden "$LIVE")" "web :0"
	rm -f "$ARCH/evil_$kind.tar.zst"
done

# --- a zip bomb into a small file system -------------------------------------------------
if [ "$root" -eq 1 ]; then
	ok "build a zip bomb (256 MiB of zeros in a few KiB)" forge bomb
	diag "the bomb is $(stat -c %s "$ARCH/evil_bomb.tar.zst") bytes on disk"
	ok "setup: a 64 MiB file system for the live envs" small_fs 64m "$T/small"
	ok "load of the bomb into it: a clear free-space error" \
		expect_fail 1 "evil_bomb.*free space" env TMPDIR="$T/small" "$KPY" load evil_bomb
	ok "nothing half-restored left in the small file system" \
		same "$(find "$T/small" -mindepth 2 | wc -l)" 0
	ok "and its space is free again" test "$(df -k --output=used "$T/small" | tail -1)" -lt 1024
fi

# --- disk full during save ------------------------------------------------------------
if [ "$root" -eq 1 ]; then
	"$KPY_TEST_PYTHON" -m venv --without-pip "$T/fat"
	"$KPY_TEST_PYTHON" -c 'import os, sys; open(sys.argv[1], "wb").write(os.urandom(6 << 20))' \
		"$T/fat/lib/one.bin"
	ok "setup: a 10 MiB pipdir" small_fs 10m "$T/fullpd"
	ok "the first save fits" quiet env KPY_PIPDIR="$T/fullpd" VIRTUAL_ENV="$T/fat" "$KPY" save fat
	cp "$T/fullpd/venv_archives/fat.tar.zst" "$T/fat.good"
	"$KPY_TEST_PYTHON" -c 'import os, sys; open(sys.argv[1], "wb").write(os.urandom(6 << 20))' \
		"$T/fat/lib/two.bin"
	ok "save -f of a bigger env into the full pipdir: a clear error" \
		expect_fail 1 "fat.*(space|full)" env KPY_PIPDIR="$T/fullpd" VIRTUAL_ENV="$T/fat" \
		"$KPY" save -f fat
	ok "the old archive is unchanged" cmp -s "$T/fat.good" "$T/fullpd/venv_archives/fat.tar.zst"
	ok "no temporary left in the full pipdir" same "$(hidden "$T/fullpd/venv_archives")" 0
	ok "the old archive still loads" \
		quiet env KPY_PIPDIR="$T/fullpd" "$KPY" load fat --as fatback
	ok "and is the old env (one.bin, not two.bin)" \
		test -f "$LIVE/fatback/lib/one.bin" -a ! -e "$LIVE/fatback/lib/two.bin"
fi

# --- a read-only pipdir ------------------------------------------------------------------
if [ "$root" -eq 1 ]; then
	ok "setup: a pipdir on a file system then made read-only" small_fs 16m "$T/ropd"
	quiet env KPY_PIPDIR="$T/ropd" VIRTUAL_ENV="$LIVE/web" "$KPY" save web
	mount -o remount,ro "$T/ropd"
	ok "save -f to it: says read-only and how to choose another" \
		expect_fail 1 "$T/ropd.*read-only.*kpy config pipdir.*KPY_PIPDIR" \
		env KPY_PIPDIR="$T/ropd" VIRTUAL_ENV="$LIVE/web" "$KPY" save -f web
	ok "load from it still works" loads_and_runs web fromro
	ok "(with KPY_PIPDIR)" quiet env KPY_PIPDIR="$T/ropd" "$KPY" load web --as fromro2
	rm -rf "${LIVE:?}/fromro2"
	# not writable for this user: as nobody
	mkdir -p "$T/ro2/venv_archives" "$T/nob"
	"$KPY_TEST_PYTHON" -m venv --without-pip "$T/nob/venv"
	chown -R 65534:65534 "$T/nob"
	cp "$KPY" "$T/kpy-copy"
	ok "save to a pipdir nobody cannot write: says read-only for you and what to do" \
		expect_fail 1 "$T/ro2.*read-only.*kpy config pipdir.*KPY_PIPDIR" \
		setpriv --reuid=65534 --regid=65534 --clear-groups -- env HOME="$T/nob" \
		XDG_CONFIG_HOME="$T/nob/.config" KPY_PIPDIR="$T/ro2" VIRTUAL_ENV="$T/nob/venv" \
		"$T/kpy-copy" save x
	ok "nothing written to it" same "$(ls -A "$T/ro2/venv_archives")" ""
fi

done_testing
