#!/bin/bash
# edges.sh: edge cases found by an outside review of the hardening work: paths the
# manifest or an activate script cannot keep, a disk filling up in the middle of a
# save, a bin/python link into the env itself, export's parents through '..',
# config values the INI reader would change, messages escaped once, and the --as
# prompt in every activate script.
. "$KPY_SRCDIR/tests/lib/common.sh"

need_venv_tools
root=0
[ "$(id -u)" -eq 0 ] && root=1
mkvenv() { "$KPY_TEST_PYTHON" -m venv --without-pip "$1" > /dev/null; }

# --- prefixes the manifest or the activate scripts cannot keep -------------------------
mkvenv "$T/tsp "
ok "save of an env whose path ends in a blank: refused, saying why" \
	expect_fail 1 "tsp .*ends in a blank" env VIRTUAL_ENV="$T/tsp " "$KPY" save tsp
ok "  ... nothing saved" test ! -e "$ARCH/tsp.tar.zst"
mkvenv "$T/e1"
quiet env VIRTUAL_ENV="$T/e1" "$KPY" save e1
ok "export to a path with a quote: refused, saying why" \
	expect_fail 1 "quote \(.\) in it would break" "$KPY" export e1 "$T/it's dir/x"
ok "  ... nothing made" test ! -e "$T/it's dir"
ok "export to a path with a space and a dollar still works" \
	quiet "$KPY" export e1 "$T/sp \$ace/x"
ok "  ... and its activate script sources" \
	bash -c '. "$1/bin/activate" && [ "$VIRTUAL_ENV" = "$1" ]' _ "$T/sp \$ace/x"

# --- bin/python is a link into the env itself --------------------------------------------
mkvenv "$T/v3"
ln -sfn "$T/v3/bin/python3" "$T/v3/bin/python"
quiet env VIRTUAL_ENV="$T/v3" "$KPY" save v3
ok "export of an env whose bin/python links into the env: no false 'missing interpreter'" \
	quiet "$KPY" export v3 "$T/v3out"
ok "  ... and its python runs" quiet "$T/v3out/bin/python" -c 'pass'
mkvenv "$T/v4"
ln -sfn "$T/v4/bin/nothere" "$T/v4/bin/python"
quiet env VIRTUAL_ENV="$T/v4" "$KPY" save v4
ok "a link into the env that leads nowhere is still named" \
	expect_fail 1 "needs the Python interpreter $T/v4out/bin/nothere" "$KPY" export v4 "$T/v4out"

# --- export's parents through '..' ---------------------------------------------------------
head -c 3000 "$ARCH/e1.tar.zst" > "$ARCH/cut.tar.zst"
mkdir "$T/pre_empty"
ok "export of a damaged archive through newdir/../pre_empty fails" \
	expect_fail 1 "damaged" "$KPY" export cut "$T/newdir/../pre_empty/x"
ok "  ... the existing empty directory stays" test -d "$T/pre_empty"
ok "  ... the directory it made is gone" test ! -e "$T/newdir"

# --- config values the INI reader would change ------------------------------------------------
ok "config value ending in a backslash: refused" \
	expect_fail 1 "backslash" "$KPY" config compute_hosts 'node\'
ok "config value with a leading blank: refused" \
	expect_fail 1 "blank" "$KPY" config compute_hosts ' node'
quiet "$KPY" config level 5
ok "  ... and the next setting is not swallowed" same "$("$KPY" config level)" 5

# --- messages escaped once ---------------------------------------------------------------------
mkdir -p "$T/x" && tar --zstd -xf "$ARCH/e1.tar.zst" -C "$T/x"
printf 'lib/\033[31mred\n' > "$T/x/.kpy/relocate"
tar --zstd -tf "$ARCH/e1.tar.zst" > "$T/order"
tar --zstd -cf "$ARCH/esc.tar.zst" -C "$T/x" --no-recursion -T "$T/order"
ok "a relocation error naming an escape sequence" expect_fail 1 "cannot relocate" "$KPY" export esc "$T/escout"
ok "  ... shows it escaped once (\\x1b), no raw ESC" \
	bash -c 'grep -qF "lib/\\x1b[31mred" "$1" && ! grep -qF "\\\\x1b" "$1" && ! grep -q $'"'"'\033'"'"' "$1"' _ "$T/err"

# --- good zstd around something that is not a tar ---------------------------------------------
echo "hello, not a tar" | zstd -q > "$ARCH/notar.tar.zst"
ok "a zstd file holding no tar is reported damaged, by name" \
	expect_fail 1 "archive $ARCH/notar.tar.zst is damaged \(not a tar archive" "$KPY" export notar "$T/notar"

# --- the --as prompt in every activate script ------------------------------------------------
mkvenv "$T/e10"
printf 'prompt (e10) here\n' > "$T/e10/bin/activate.ps1"
quiet env VIRTUAL_ENV="$T/e10" "$KPY" save e10
ok "load --as renames the prompt in virtualenv's activate.ps1 too" \
	bash -c '"$1" load e10 --as other > /dev/null 2>&1; grep -qF "(other)" "$2/other/bin/activate.ps1"' _ "$KPY" "$LIVE"

# venv's Activate.ps1 reads the prompt from pyvenv.cfg: save and load --as set it there
"$KPY_TEST_PYTHON" -m venv --without-pip --prompt e11 "$T/e11"
quiet env VIRTUAL_ENV="$T/e11" "$KPY" save e11b
ok "save puts the new prompt in the live env's pyvenv.cfg (for Activate.ps1)" has "$T/e11/pyvenv.cfg" "prompt = 'e11b'"
"$KPY" load e11b --as ps > /dev/null 2>&1
ok "load --as puts the new prompt in pyvenv.cfg" has "$LIVE/ps/pyvenv.cfg" "prompt = 'ps'"
ok "  ... and the rest of pyvenv.cfg is kept" grep -q '^home = ' "$LIVE/ps/pyvenv.cfg"
"$KPY" load e11b > /dev/null 2>&1
ok "a plain load has the saved name as the prompt in pyvenv.cfg" has "$LIVE/e11b/pyvenv.cfg" "prompt = 'e11b'"

# --- save renames a live env reached through a symlinked TMPDIR ----------------------------
mkdir -p "$T/realtmp" && ln -s "$T/realtmp" "$T/linktmp"
LT=$T/linktmp/kpy-$U
quiet env TMPDIR="$T/linktmp" "$KPY" create ren0
ok "save through the shell function renames a live env under a symlinked TMPDIR" \
	quiet env TMPDIR="$T/linktmp" VIRTUAL_ENV="$LT/ren0" KPY_ACTIVATE_FD=9 "$KPY" save ren1 9> "$T/fd9"
ok "  ... to the new name" test -d "$LT/ren1" -a ! -e "$LT/ren0"
ok "  ... its pip runs (shebang relocated)" quiet "$LT/ren1/bin/pip" --version
ok "  ... its activate names the new path" has "$LT/ren1/bin/activate" "$LT/ren1"
ok "  ... and not the old one" bash -c '! grep -qF "$1" "$2"' _ "$LT/ren0" "$LT/ren1/bin/activate"

ok "activate NAME --sh (option after the name, as kpy's hints write it) activates" \
	env TMPDIR="$T/linktmp" bash -c 'eval "$("$1" activate ren1 --sh)" && [ "$VIRTUAL_ENV" = "$2" ]' _ "$KPY" "$LT/ren1"
sh_usage_fails() {
	! bash -c 'set -e; eval "$("$1" activate --sh --bogus x 2> /dev/null)"; echo survived' _ "$KPY" |
		grep -q survived
}
ok "a usage error with --sh makes the eval fail (prints false)" sh_usage_fails

# --- a disk filling up in the middle of a save ------------------------------------------------
if [ "$root" -eq 1 ]; then
	mkvenv "$T/big"
	"$KPY_TEST_PYTHON" -c 'import os, sys; open(sys.argv[1], "wb").write(os.urandom(40 << 20))' "$T/big/lib/blob"
	mkdir -p "$T/smallpd"
	mount -t tmpfs -o size=8m kpy-edges "$T/smallpd" && at_exit "umount -l '$T/smallpd' 2> /dev/null"
	ok "save of 40 MiB into an 8 MiB pipdir: names the archive and says it was not changed" \
		expect_fail 1 "big.tar.zst, which was not changed: .*: free space there \(or raise the quota\) and try again$" \
		env KPY_PIPDIR="$T/smallpd" VIRTUAL_ENV="$T/big" "$KPY" save big
	ok "  ... no temporary left" same "$(ls -A "$T/smallpd/venv_archives" | wc -l)" 0
fi
done_testing
