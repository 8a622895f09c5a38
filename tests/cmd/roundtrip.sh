#!/bin/bash
# roundtrip.sh: a real venv with a real wheel, saved, deleted, loaded under
# another name into a deep path (trampoline shebangs), exported into a path
# with a space, activated by name in bash; save -f, list, rm, config.
. "$KPY_SRCDIR/tests/lib/common.sh"

need_venv_tools
W=$T/wheels
mkwheel "$W" hello 1.0 > /dev/null
mkwheel "$W" extra 2.0 > /dev/null
# python3 in PATH is the one `kpy create` uses: make it the test interpreter
mkdir -p "$T/pybin"
ln -s "$KPY_TEST_PYTHON" "$T/pybin/python3"
export PATH="$T/pybin:$PATH"

# first line of FILE
line1() { IFS= read -r l < "$1"; printf '%s\n' "$l"; }

# --- create -----------------------------------------------------------------
create_hint() {
	"$KPY" create orig > "$T/o" 2> "$T/e" || { sed 's/^/#   /' "$T/e"; return 1; }
	grep -qF "source $LIVE/orig/bin/activate" "$T/e" ||
		{ diag "no source hint:"; sed 's/^/#   /' "$T/e"; return 1; }
}
ok "create orig succeeds; without KPY_ACTIVATE_FD a source hint on stderr" create_hint
ok "create made LIVE/orig (TMPDIR/kpy-USER)" test -f "$LIVE/orig/bin/activate"
ok "orig has a python" test -x "$LIVE/orig/bin/python"
ok "orig prompt is the name" has "$LIVE/orig/bin/activate" "(orig) "
ok "pip install --no-index a local wheel" \
	quiet "$LIVE/orig/bin/pip" install -q --no-index --find-links "$W" hello
ok "console script runs in orig" quiet "$LIVE/orig/bin/hello"
# the interpreter the scripts name (bin/python or bin/python3)
PY=$(sed -n '1s|^#!.*/bin/||p' "$LIVE/orig/bin/hello")
ok "orig's script has a plain shebang into the venv" same "$(line1 "$LIVE/orig/bin/hello")" "#!$LIVE/orig/bin/$PY"
same_prefix() { same "$("$1/bin/python" -c 'import sys; print(sys.prefix)')" "$1"; }
ok "sys.prefix of orig" same_prefix "$LIVE/orig"

create_fd() {
	KPY_ACTIVATE_FD=7 "$KPY" create viafd 7> "$T/fd" > /dev/null 2>&1 || return 1
	same "$(cat "$T/fd")" "$LIVE/viafd"
}
ok "create with KPY_ACTIVATE_FD writes the path there" create_fd
ok "create an existing name fails, suggesting activate" \
	expect_fail 1 'activate' "$KPY" create orig
ok "create without a name picks venv" quiet "$KPY" create
ok "create without a name again picks venv1" quiet "$KPY" create
ok "placeholders exist" test -f "$LIVE/venv/bin/activate" -a -f "$LIVE/venv1/bin/activate"
live_names() { "$KPY" activate > "$T/o" 2> /dev/null && same "$(tr '\n' ' ' < "$T/o")" "$1"; }
ok "activate lists live envs one per line" live_names "orig venv venv1 viafd "

# things relocation must handle: a .pth line, a text file and an absolute
# symlink that name the env's own path
O=$LIVE/orig
SP=$(cd "$O"/lib/python*/site-packages && pwd)
SPREL=${SP#"$O"/}
mkdir -p "$O/extra" "$O/etc"
echo 'WHERE = "extra"' > "$O/extra/extramod.py"
echo "$O/extra" > "$SP/kpy-test-extra.pth"
printf 'home of this env: %s\n' "$O" > "$O/etc/note.txt"
ln -s "$O/bin/python" "$O/bin/abs-python"
mtime_before=$(stat -c %Y "$SP/hello/__init__.py")

# --- save ---------------------------------------------------------------------
save_fd() {
	# TMPDIR elsewhere: orig is then not a live env of this place, so save does not
	# rename it to snap (that is tested through the shell function in jobs.sh)
	VIRTUAL_ENV=$LIVE/orig TMPDIR=$T/tmp-other KPY_ACTIVATE_FD=7 "$KPY" save snap 7> "$T/fd" || return 1
	same "$(cat "$T/fd")" "$LIVE/orig"
}
ok "save snap writes the env path to KPY_ACTIVATE_FD" save_fd
ok "archive is at pipdir/venv_archives/snap.tar.zst" test -f "$ARCH/snap.tar.zst"
ok "tar --zstd reads the archive" quiet tar --zstd -tf "$ARCH/snap.tar.zst"
tar --zstd -tf "$ARCH/snap.tar.zst" 2> /dev/null | sed 's|^\./||' > "$T/list"
ok "first entry is .kpy/manifest.ini" same "$(sed -n 1p "$T/list")" ".kpy/manifest.ini"
ok "second entry is .kpy/packages" same "$(sed -n 2p "$T/list")" ".kpy/packages"
ok "last entry is .kpy/relocate" same "$(tail -n 1 "$T/list")" ".kpy/relocate"
ok "archive holds bin/hello" grep -qx 'bin/hello' "$T/list"
ok "archive names are relative" bash -c '! grep -q "^/" "$1"' _ "$T/list"
tar --zstd -xOf "$ARCH/snap.tar.zst" .kpy/manifest.ini > "$T/manifest" 2> /dev/null ||
	tar --zstd -xOf "$ARCH/snap.tar.zst" ./.kpy/manifest.ini > "$T/manifest" 2> /dev/null
mkey() { sed -n "s/^$1[[:space:]]*=[[:space:]]*//p" "$T/manifest"; }
ok "manifest kind = venv" same "$(mkey kind)" venv
ok "manifest name = snap" same "$(mkey name)" snap
ok "manifest prefix = the live path" same "$(mkey prefix)" "$LIVE/orig"
ok "manifest prompt = snap" same "$(mkey prompt)" snap
ok "manifest python_version" same "$(mkey python_version)" \
	"$("$KPY_TEST_PYTHON" -c 'import platform; print(platform.python_version())')"
ok "manifest base_python" same "$(mkey base_python)" "$(readlink -f "$LIVE/orig/bin/python")"
ok "manifest has format, saved, kpy_version, files, bytes" bash -c \
	'for k in format saved kpy_version files bytes; do grep -Eq "^$k *= *[^ ]" "$1" || exit 1; done' \
	_ "$T/manifest"
ok "the live env got .kpy/manifest.ini" test -f "$LIVE/orig/.kpy/manifest.ini"
expected_packages() {
	(cd "$1"/lib/python*/site-packages && printf '%s\n' *.dist-info) | LC_ALL=C sort
}
ok "the live env's .kpy/packages lists its dist-info dirs, sorted" \
	same "$(cat "$LIVE/orig/.kpy/packages")" "$(expected_packages "$LIVE/orig")"
ok "the live env's prompt became snap" has "$LIVE/orig/bin/activate" "(snap) "
ok "the live env's console script still runs" quiet "$LIVE/orig/bin/hello"
ok "save an existing name without -f fails, mentions -f" \
	expect_fail 1 '-f' env VIRTUAL_ENV="$LIVE/orig" "$KPY" save snap
ino1=$(stat -c %i "$ARCH/snap.tar.zst")
ok "save -f replaces it" quiet env VIRTUAL_ENV="$LIVE/orig" "$KPY" save -f snap
ok "save -f replaced the file (new inode: rename)" \
	test "$(stat -c %i "$ARCH/snap.tar.zst")" != "$ino1"
ok "no temporary files left in venv_archives" \
	same "$(ls -A "$ARCH" | tr '\n' ' ')" "snap.tar.zst "
ok "save at level 1" quiet env VIRTUAL_ENV="$LIVE/venv" KPY_LEVEL=1 "$KPY" save other

# --- list ----------------------------------------------------------------------
"$KPY" list > "$T/table" 2> "$T/e"
ok "list exits 0" test $? -eq 0
ok "list header NAME PYTHON SIZE SAVED" grep -Eq '^NAME +PYTHON +SIZE +SAVED' "$T/table"
pyv=$(mkey python_version)
ok "list row for snap with its python version" grep -Eq "^snap +$pyv " "$T/table"
ok "list row for other" grep -Eq '^other ' "$T/table"
ok "list has 3 lines" same "$(wc -l < "$T/table")" 3
ok "list --names" same "$("$KPY" list --names)" "$(printf 'other\nsnap')"
ok "load without a name prints the list table" same "$("$KPY" load 2> /dev/null)" "$(cat "$T/table")"

# --- create inside a job, with a version: python3.x from PATH -----------------------
V=$("$KPY_TEST_PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if command -v "python$V" > /dev/null; then
	ok "create $V jobenv inside a job" quiet env SLURM_TMPDIR="$T/job1" "$KPY" create "$V" jobenv
	ok "it lives in SLURM_TMPDIR/kpy" test -f "$T/job1/kpy/jobenv/bin/activate"
	ok "it runs Python $V" same "$("$T/job1/kpy/jobenv/bin/python" -c \
		'import sys; print("%d.%d" % sys.version_info[:2])')" "$V"
else
	ok "create $V jobenv inside a job # SKIP no python$V in PATH" true
fi
rm -rf "$T/job1"

# --- delete the original, load it elsewhere -----------------------------------
rm -rf "$LIVE/orig"
# a deep SLURM_TMPDIR: LIVE2/moved/bin/python is well over 127 bytes
D=$T/job/$(printf 'd%.0s' $(seq 1 60))/$(printf 'e%.0s' $(seq 1 60))
mkdir -p "$D"
LIVE2=$D/kpy
M=$LIVE2/moved
ok "the new shebang would be over 127 bytes" test ${#M} -gt 117
load_fd() {
	SLURM_TMPDIR=$D KPY_ACTIVATE_FD=7 "$KPY" load snap --as moved 7> "$T/fd" || return 1
	same "$(cat "$T/fd")" "$M"
}
ok "load snap --as moved into SLURM_TMPDIR/kpy" load_fd
ok "moved has bin/activate" test -f "$M/bin/activate"
ok "console script shebang is the /bin/sh trampoline" same "$(line1 "$M/bin/hello")" "#!/bin/sh"
ok "trampoline execs the new python" has "$M/bin/hello" "'''exec' \"$M/bin/$PY\" \"\$0\" \"\$@\""
hello_out() { same "$("$1/bin/hello")" "hello from hello $1"; }
ok "console script runs from the new place" hello_out "$M"
ok "sys.prefix is the new place" same_prefix "$M"
pip_ok() { "$1/bin/pip" --version | grep -qF "$1/lib/"; }
ok "pip runs from the new place" pip_ok "$M"
ok "activate holds the new path" bash -c 'grep "^VIRTUAL_ENV=" "$1" | grep -qF "$2"' _ "$M/bin/activate" "$M"
ok "prompt is the --as name" has "$M/bin/activate" "(moved) "
ok "activate.csh and activate.fish hold the new path" \
	bash -c 'grep -qF "$1" "$2/bin/activate.csh" && grep -qF "$1" "$2/bin/activate.fish"' _ "$M" "$M"
stale() {
	grep -rlF --exclude='*.pyc' --exclude-dir=.kpy -- "$LIVE/orig" "$1" > "$T/stale"
	[ ! -s "$T/stale" ] || { diag "still mention the old path:"; sed 's/^/#   /' "$T/stale"; return 1; }
}
ok "no file (but .pyc, .kpy/) mentions the old path" stale "$M"
ok "bin/python symlink kept as it was" same "$(readlink "$M/bin/python")" "$(tar --zstd -tvf \
	"$ARCH/snap.tar.zst" 2> /dev/null | sed -n 's|.* \(\./\)\{0,1\}bin/python -> ||p')"
ok "lib64 symlink kept" same "$(readlink "$M/lib64")" lib
ok "mtimes kept" same "$(stat -c %Y "$M/$SPREL/hello/__init__.py")" "$mtime_before"
ok "modes kept" test -x "$M/bin/hello"
ok ".pth line rewritten: module from it imports" same "$("$M/bin/python" -c \
	'import extramod, os; print(os.path.dirname(extramod.__file__))')" "$M/extra"
ok ".pth file names the new path" same "$(cat "$M/$SPREL/kpy-test-extra.pth")" "$M/extra"
ok "text file mentioning the old path rewritten" same "$(cat "$M/etc/note.txt")" "home of this env: $M"
ok "absolute symlink into the env rewritten" same "$(readlink "$M/bin/abs-python")" "$M/bin/python"
ok "relocate list names the .pth and the text file" bash -c 'tar --zstd -xOf "$1" .kpy/relocate 2> /dev/null |
	grep -qx "$2" && tar --zstd -xOf "$1" .kpy/relocate | grep -qx etc/note.txt' _ "$ARCH/snap.tar.zst" "$SPREL/kpy-test-extra.pth"
ok "archive has zstd checksums" bash -c 'zstd -lv "$1" 2>&1 | grep -qi "xxh64"' _ "$ARCH/snap.tar.zst"
ok "bin/python3 still points at the base interpreter" \
	same "$(readlink -f "$M/bin/python3")" "$(readlink -f "$KPY_TEST_PYTHON")"
ok "the live env's .kpy/packages came along" test -f "$M/.kpy/packages"
ok "no temporary directory or lock file left beside it" same "$(ls -A "$LIVE2" | tr '\n' ' ')" "moved "
ok "activate lists moved inside the job" same "$(SLURM_TMPDIR=$D "$KPY" activate)" moved
ok "load of a name loaded from the same save just uses it" \
	quiet env SLURM_TMPDIR="$D" "$KPY" load snap --as moved
act_hint() {
	SLURM_TMPDIR=$D "$KPY" activate moved > "$T/o" 2> "$T/e" || return 1
	same "$(cat "$T/o")" "source '$M/bin/activate'" && [ ! -s "$T/e" ]
}
ok "activate NAME without the function, captured: source on stdout, no hint" act_hint
act_fd() {
	SLURM_TMPDIR=$D KPY_ACTIVATE_FD=7 "$KPY" activate moved 7> "$T/fd" > "$T/o" || return 1
	same "$(cat "$T/fd")" "$M"
}
ok "activate NAME with KPY_ACTIVATE_FD writes the path" act_fd
# an unusable KPY_ACTIVATE_FD (empty, not a number, closed) must not be silent
act_badfd() {
	SLURM_TMPDIR=$D KPY_ACTIVATE_FD=$1 "$KPY" activate moved > "$T/o" 2> "$T/e" 9>&-
	local rc=$?
	[ "$rc" -ne 0 ] || grep -qF "source '$M/bin/activate'" "$T/o" ||
		{ diag "KPY_ACTIVATE_FD='$1': exit $rc, stdout [$(cat "$T/o")], stderr [$(cat "$T/e")]"; return 1; }
}
ok "activate with KPY_ACTIVATE_FD empty still says how" act_badfd ""
ok "activate with KPY_ACTIVATE_FD not a number still says how" act_badfd abc
ok "activate with KPY_ACTIVATE_FD closed still says how (or fails)" act_badfd 9
# three loads of one name at once: one restores, all succeed (jobs.sh tries 32)
conc() {
	local n=0 p pids=()
	for _ in 1 2 3; do SLURM_TMPDIR=$D "$KPY" load snap --as race > /dev/null 2>&1 & pids+=($!); done
	for p in "${pids[@]}"; do wait "$p" && n=$((n + 1)); done
	same "$n" 3 && hello_out "$LIVE2/race" &&
		same "$(ls -A "$LIVE2" | tr '\n' ' ')" "moved race "
}
ok "concurrent loads of one name: all succeed, no leftovers" conc
rm -rf "$LIVE2/race"
ok "activate unknown fails listing live envs" \
	expect_fail 1 'moved' env SLURM_TMPDIR="$D" "$KPY" activate nosuch

# --- activate by name in a real bash ---------------------------------------------
cat > "$T/act.sh" << 'EOF'
set -u
eval "$("$KPY" bash)"
kpy activate moved || exit 1
printf '%s\n' "$VIRTUAL_ENV"
hello
python -c 'import sys; print(sys.prefix)'
EOF
SLURM_TMPDIR=$D bash "$T/act.sh" > "$T/o" 2> "$T/e"
ok "bash: eval kpy bash; kpy activate moved" test $? -eq 0
ok "bash: VIRTUAL_ENV is moved" same "$(sed -n 1p "$T/o")" "$M"
ok "bash: hello found in PATH" same "$(sed -n 2p "$T/o")" "hello from hello $M"
ok "bash: python is the venv's" same "$(sed -n 3p "$T/o")" "$M"

# --- export into a path with a space -----------------------------------------------
X="$T/with space/env"
mkdir -p "$T/with space"
ok "export snap to a path with a space" quiet "$KPY" export snap "$X"
ok "export wrote no live env" same "$("$KPY" activate | tr '\n' ' ')" "venv venv1 viafd "
ok "exported script uses the trampoline" same "$(line1 "$X/bin/hello")" "#!/bin/sh"
ok "exported console script runs" hello_out "$X"
ok "exported sys.prefix" same_prefix "$X"
act_space() {
	same "$(bash -c '. "$1/bin/activate" && printf "%s\n" "$VIRTUAL_ENV"' _ "$X" 2> "$T/e")" "$X" ||
		{ sed 's/^/#   /' "$T/e"; return 1; }
}
ok "bin/activate of the path with a space sets VIRTUAL_ENV" act_space
ok "export to an existing path fails" expect_fail 1 'exist' "$KPY" export snap "$X"
ok "export of an unknown name fails" expect_fail 1 'nosuch' "$KPY" export nosuch "$T/nope"
ok "failed export created nothing" test ! -e "$T/nope"
# a short path keeps a plain shebang
ok "export to a short path" quiet "$KPY" export snap "$T/s"
ok "short path: plain shebang" same "$(line1 "$T/s/bin/hello")" "#!$T/s/bin/$PY"
ok "short path: script runs" hello_out "$T/s"

# --- load the moved env again: trampolines rewritten a second time -------------------
ok "save the trampolined env as snap2" quiet env VIRTUAL_ENV="$M" "$KPY" save snap2
ok "load snap2 outside the job" quiet "$KPY" load snap2
shebang_ok() { # plain shebang, or the trampoline (rewritten), naming DIR's python
	local d=$1
	[ "$(line1 "$d/bin/hello")" = "#!$d/bin/$PY" ] ||
		{ [ "$(line1 "$d/bin/hello")" = "#!/bin/sh" ] && has "$d/bin/hello" "'''exec' \"$d/bin/$PY\""; }
}
ok "snap2: shebang names the new python" shebang_ok "$LIVE/snap2"
ok "snap2: script runs" hello_out "$LIVE/snap2"
ok "snap2: sys.prefix" same_prefix "$LIVE/snap2"

# --- rm ------------------------------------------------------------------------------
ok "rm snap" quiet "$KPY" rm snap
ok "snap archive gone" test ! -e "$ARCH/snap.tar.zst"
ok "list --names after rm" same "$("$KPY" list --names)" "$(printf 'other\nsnap2')"
ok "rm unknown fails listing saved names" expect_fail 1 'other' "$KPY" rm snap
ok "rm does not touch live envs" test -f "$M/bin/activate"

# --- config ----------------------------------------------------------------------------
cfg() { "$KPY" config "$@" 2> "$T/e"; }
ok "config prints every key" bash -c \
	'o=$("$1" config) && for k in pipdir compute_hosts level; do printf "%s\n" "$o" | grep -Eq "^$k =( |\$)" || exit 1; done' \
	_ "$KPY"
ok "config pipdir default is XDG_DATA_HOME/kpy" same "$(cfg pipdir)" "$PIPDIR"
ok "config level default is 3" same "$(cfg level)" 3
unset_line() { "$KPY" config compute_hosts > "$T/o" && same "$(od -An -c "$T/o" | tr -d ' ')" '\n'; }
ok "config of an unset key prints an empty line" unset_line
ok "config pipdir VALUE" cfg pipdir "$T/pd"
ok "user file written" grep -q '^\[kpy\]' "$XDG_CONFIG_HOME/kpy/config.ini"
ok "user file has pipdir" grep -Eq "^pipdir *= *\"?$T/pd\"?\$" "$XDG_CONFIG_HOME/kpy/config.ini"
ok "config pipdir reads it back" same "$(cfg pipdir)" "$T/pd"
ok "config shows it in the full listing" bash -c '"$1" config | grep -qx "pipdir = $2"' _ "$KPY" "$T/pd"
ok "KPY_PIPDIR overrides the user file" same "$(KPY_PIPDIR=$T/env-pd "$KPY" config pipdir)" "$T/env-pd"
ok "save goes to the configured pipdir (made if missing)" quiet env VIRTUAL_ENV="$M" "$KPY" save cfgd
ok "archive in the configured pipdir" test -f "$T/pd/venv_archives/cfgd.tar.zst"
printf '[kpy]\nlevel = 5\ncompute_hosts = cn* gpu*\n' > "$KPY_SITE_CONFIG"
ok "site file gives defaults" same "$(cfg level)" 5
ok "site compute_hosts" same "$(cfg compute_hosts)" "cn* gpu*"
ok "config level 7" cfg level 7
ok "user file wins over the site file" same "$(cfg level)" 7
ok "KPY_LEVEL wins over both" same "$(KPY_LEVEL=9 "$KPY" config level)" 9
ok "KPY_COMPUTE_HOSTS wins" same "$(KPY_COMPUTE_HOSTS='x*' "$KPY" config compute_hosts)" 'x*'
ok "config --unset level" cfg --unset level
ok "after --unset the site value shows" same "$(cfg level)" 5
ok "--unset removed it from the user file" bash -c '! grep -q "^level" "$1"' _ "$XDG_CONFIG_HOME/kpy/config.ini"
ok "pipdir survives the --unset of another key" same "$(cfg pipdir)" "$T/pd"
ok "config level out of range is refused" fails 'level' "$KPY" config level 25
ok "refused level not written" same "$(cfg level)" 5
ok "config unknown key is refused" fails 'nosuchkey' "$KPY" config nosuchkey
ok "config --unset pipdir" cfg --unset pipdir
ok "pipdir back to the default" same "$(cfg pipdir)" "$PIPDIR"

done_testing
