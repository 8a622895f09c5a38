#!/bin/bash
# errors.sh: jobs as users really write them: typos get the same "did you mean"
# everywhere, export into a path whose parents are missing, a pipdir that does not
# exist, the list table, version strings, eval "$(kpy activate X)", config.ini
# edited in place, and hostile manifest strings printed escaped.
. "$KPY_SRCDIR/tests/lib/common.sh"

need_venv_tools
CFG=$XDG_CONFIG_HOME/kpy/config.ini

"$KPY_TEST_PYTHON" -m venv --without-pip "$T/v"
quiet env VIRTUAL_ENV="$T/v" "$KPY" save science
quiet env VIRTUAL_ENV="$T/v" "$KPY" save other
ok "setup: science and other saved" test -f "$ARCH/science.tar.zst" -a -f "$ARCH/other.tar.zst"

# --- 1. export into missing parents -------------------------------------------------
ok "export science ~/envs/science with no ~/envs" quiet "$KPY" export science "$HOME/envs/science"
ok "  ... restored there" test -x "$HOME/envs/science/bin/python"
ok "  ... relocated to it" same "$("$HOME/envs/science/bin/python" -c 'import sys; print(sys.prefix)')" "$HOME/envs/science"
ok "  ... the parent is 0755 under umask 022" same "$(stat -c %a "$HOME/envs")" 755
ok "export under umask 077 makes private parents" \
	bash -c 'umask 077 && "$1" export science "$2/priv/a/b/env" 2> /dev/null' _ "$KPY" "$T"
ok "  ... each made parent is 0700" same "$(stat -c %a "$T/priv" "$T/priv/a" "$T/priv/a/b" | tr '\n' ' ')" "700 700 700 "
mkdir -p "$T/rel"
ok "export to a relative path with missing parents" bash -c 'cd "$1/rel" && "$2" export science x/y/env 2> /dev/null' _ "$T" "$KPY"
ok "  ... there, relocated" same "$("$T/rel/x/y/env/bin/python" -c 'import sys; print(sys.prefix)')" "$T/rel/x/y/env"
ok "export of an unknown name makes no parents" fails "no saved environment" "$KPY" export nosuch "$T/np/a/env"
ok "  ... nothing made" test ! -e "$T/np"
printf 'not a zstd archive\n' > "$ARCH/broken.tar.zst"
ok "export of a damaged archive fails" fails "broken" "$KPY" export broken "$T/dmg/a/env"
ok "  ... and removes the parents it made" test ! -e "$T/dmg"
rm -f "$ARCH/broken.tar.zst"
echo file > "$T/afile"
ok "export below a file fails naming it" fails "afile" "$KPY" export science "$T/afile/sub/env"

# --- 2. typos: the same help everywhere ---------------------------------------------
ok "kpy creat: did you mean 'create'" says 2 "did you mean 'create'?" "$KPY" creat foo
ok "kpy help creat: the same" says 2 "did you mean 'create'?" "$KPY" help creat
ok "kpy --verison: did you mean '--version'" says 2 "did you mean '--version'?" "$KPY" --verison
ok "kpy lsit: did you mean 'list'" says 2 "did you mean 'list'?" "$KPY" lsit
ok "a word far from any command gets no guess" says 2 "unknown command 'frobnicate'" "$KPY" frobnicate
ok "  ... and no 'did you mean'" lacks "did you mean"
ok "list --name: did you mean '--names'" says 2 "did you mean '--names'?" "$KPY" list --name
ok "save --froce: did you mean '--force'" says 2 "did you mean '--force'?" env VIRTUAL_ENV="$T/v" "$KPY" save --froce x
ok "load --ass: did you mean '--as'" says 2 "did you mean '--as'?" "$KPY" load science --ass=x
ok "config --unste: did you mean '--unset'" says 2 "did you mean '--unset'?" "$KPY" config --unste pipdir
ok "create --hlep: did you mean '--help'" says 2 "did you mean '--help'?" "$KPY" create --hlep
ok "config pipdri: did you mean 'pipdir'" says 2 "did you mean 'pipdir'?" "$KPY" config pipdri /x
ok "config --unset levle: did you mean 'level'" says 2 "did you mean 'level'?" "$KPY" config --unset levle
ok "create myenv 3.11 names the order" says 2 "kpy create 3.11 myenv" "$KPY" create myenv 3.11
ok "  ... made nothing" test ! -e "$LIVE/myenv"
for c in load rm export; do
	args=(scince); [ "$c" = export ] && args+=("$T/exp-$c")
	ok "$c scince: did you mean 'science'" says 1 "did you mean 'science'?" "$KPY" $c "${args[@]}"
	ok "  ... and lists what is saved" grep -qF "saved: other, science" "$T/err"
done
ok "load of a name far from any: no guess" says 1 "no saved environment named 'zzzzzzzz'" "$KPY" load zzzzzzzz
ok "  ... no 'did you mean'" lacks "did you mean"
quiet "$KPY" load science
ok "activate scince, science live: did you mean 'science'" says 1 "did you mean 'science'?" "$KPY" activate scince
ok "  ... does not offer 'kpy load scince', which is not saved" lacks "kpy load scince"
rm -rf "${LIVE:?}/science"
ok "activate science, saved but not live: load it" says 1 "kpy load science" "$KPY" activate science
ok "  ... names it as saved" grep -qF "a saved environment of that name exists" "$T/err"
ok "activate scince, nothing live: did you mean the saved 'science'" says 1 "did you mean the saved 'science'? load it with 'kpy load science'" "$KPY" activate scince
ok "activate nosuch: how to make one" says 1 "kpy create nosuch" "$KPY" activate nosuch

# --- 3. a pipdir that does not exist ------------------------------------------------
ok "config pipdir /no/such/dir is written" says 0 "does not exist" "$KPY" config pipdir "$T/no/such/dir"
ok "  ... and says how it comes to exist" grep -qF "mkdir -p $T/no/such/dir" "$T/err"
ok "  ... the setting is kept" same "$("$KPY" config pipdir)" "$T/no/such/dir"
ok "list says the pipdir does not exist" says 0 "$T/no/such/dir does not exist" "$KPY" list
ok "config pipdir of an existing dir says nothing" bash -c '"$1" config pipdir "$2" 2> "$3/e2" && [ ! -s "$3/e2" ]' _ "$KPY" "$PIPDIR" "$T"
ok "config pipdir with KPY_PIPDIR set notes the override" says 0 "KPY_PIPDIR" env KPY_PIPDIR=/elsewhere "$KPY" config pipdir "$PIPDIR"
quiet "$KPY" config --unset pipdir

# --- 4. cosmetics -----------------------------------------------------------------------
long=a_rather_long_environment_name_for_science
quiet env VIRTUAL_ENV="$T/v" "$KPY" save "$long"
"$KPY" list > "$T/table" 2> /dev/null
col() { awk -v w="$1" '{ print index($0, w) }' "$T/table" | head -n 1; }
ok "list: the PYTHON column starts after the longest name" test "$(col PYTHON)" -gt "${#long}"
pyv=$("$T/v/bin/python" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')
ok "list: every row's version under PYTHON" \
	bash -c 'p=$1; tail -n +2 "$2" | while IFS= read -r l; do [ "${l:$((p-1)):${#3}}" = "$3" ] || exit 1; done' _ "$(col PYTHON)" "$T/table" "$pyv"
ok "list: every row's size ends under SIZE" \
	bash -c 'e=$(( $(awk "{print index(\$0, \"SIZE\")}" "$1" | head -n1) + 3 )); tail -n +2 "$1" | while IFS= read -r l; do [ "${l:$((e-1)):1}" != " " ] && [ "${l:$e:1}" = " " ] || exit 1; done' _ "$T/table"
# virtualenv writes version_info = 3.11.2.final.0 where venv writes version = 3.11.2
cp -a "$T/v" "$T/ve"
sed -i "s/^version *=.*/version_info = $pyv.final.0/" "$T/ve/pyvenv.cfg"
quiet env VIRTUAL_ENV="$T/ve" "$KPY" save ve
ok "a virtualenv-made env lists as $pyv" bash -c '"$1" list | grep -Eq "^ve +$2 "' _ "$KPY" "$pyv"
ok "  ... not .final.0" bash -c '! "$1" list | grep -q "final"' _ "$KPY"
sed -i "s/^version_info *=.*/version_info = 3.13.0.candidate.1/" "$T/ve/pyvenv.cfg"
quiet env VIRTUAL_ENV="$T/ve" "$KPY" save -f ve
ok "a release candidate lists as 3.13.0rc1" bash -c '"$1" list | grep -Eq "^ve +3.13.0rc1 "' _ "$KPY"
quiet "$KPY" load science
run "$KPY" activate science
ok "activate, captured: the source line on stdout" same "$(cat "$T/out")" "source '$LIVE/science/bin/activate'"
ok "  ... and no 'cannot change this shell' hint" test ! -s "$T/err"
ok "eval \"\$(kpy activate science)\" activates" \
	bash -c 'eval "$("$1" activate science)" && [ "$VIRTUAL_ENV" = "$2" ]' _ "$KPY" "$LIVE/science"
ok "activate on a terminal still gives the hint" \
	bash -c 'script -qec "$1 activate science" /dev/null | grep -q "cannot change this shell"' _ "$KPY"
rm -f "$CFG"
quiet "$KPY" config level 5
ok "config.ini from scratch: one section, one line, no padding" same "$(cat "$CFG")" "$(printf '[kpy]\nlevel = 5')"
quiet "$KPY" config --unset level
ok "unsetting the last key leaves the section" same "$(cat "$CFG")" "[kpy]"

# --- 5. config KEY VALUE edits one line -------------------------------------------------
cat > "$CFG" << 'EOF'
# my settings, keep this comment
[KPY]
; where archives go
PipDir = /old/place   # trailing note
Level=7

[Other]
MixedCase = Keep Me
EOF
chmod 0600 "$CFG"
cp "$CFG" "$T/cfg.before"
quiet "$KPY" config pipdir "$T/newplace"
sed "s|^PipDir = /old/place   # trailing note|pipdir = $T/newplace|" "$T/cfg.before" > "$T/cfg.want"
ok "config pipdir replaced that one line, everything else kept" cmp "$CFG" "$T/cfg.want"
ok "  ... and the value took effect" same "$("$KPY" config pipdir)" "$T/newplace"
ok "  ... the file's mode kept" same "$(stat -c %a "$CFG")" 600
quiet "$KPY" config compute_hosts 'cn* gpu*'
ok "a new key goes into [KPY], after its last line" \
	same "$(sed -n '/^Level=7$/{n;p}' "$CFG")" "compute_hosts = cn* gpu*"
ok "  ... [Other] untouched" same "$(tail -n 2 "$CFG")" "$(printf '[Other]\nMixedCase = Keep Me')"
quiet "$KPY" config --unset level
ok "--unset removes only that line" bash -c '! grep -qi "^level" "$1" && grep -q "^; where archives go" "$1" && grep -q "^# my settings" "$1"' _ "$CFG"
ok "  ... and the default is back" same "$("$KPY" config level)" 3
ok "no temporary file left" same "$(ls -A "$XDG_CONFIG_HOME/kpy")" config.ini
# the same through the binary with CRLF lines: only that one line changes
printf '# mine\r\n[kpy]\r\n; the level\r\nLevel = 7\r\ncompute_hosts = cn*\r\n\r\n[Other]\r\nMixedCase = Keep Me\r\n' > "$CFG"
cp "$CFG" "$T/crlf.before"
quiet "$KPY" config level 5
sed 's/^Level = 7\r$/level = 5\r/' "$T/crlf.before" > "$T/crlf.want"
ok "CRLF file: config level 5 changes only that line, keeping CRLF" cmp "$CFG" "$T/crlf.want"
ok "  ... and it takes effect" same "$("$KPY" config level)" 5
quiet "$KPY" config --unset level
grep -v '^Level = 7' "$T/crlf.before" > "$T/crlf.want"
ok "CRLF file: --unset level removes only that line" cmp "$CFG" "$T/crlf.want"
ok "  ... [Other] keeps its MixedCase key" grep -q "^MixedCase = Keep Me"$'\r'"\$" "$CFG"
mkdir -p "$T/dotfiles"
printf '[kpy]\nlevel = 4\n' > "$T/dotfiles/kpy.ini"
ln -sf "$T/dotfiles/kpy.ini" "$CFG"
quiet "$KPY" config level 9
ok "a symlinked config.ini stays a symlink" test -L "$CFG"
ok "  ... its target is edited" same "$(cat "$T/dotfiles/kpy.ini")" "$(printf '[kpy]\nlevel = 9')"
rm -f "$CFG"

# --- 6. hostile manifest strings -----------------------------------------------------------
cat > "$T/hostile.py" << 'EOF'
import io, sys, tarfile
src, dst = sys.argv[1:3]
with tarfile.open(src) as t, tarfile.open(dst, "w", format=tarfile.PAX_FORMAT) as o:
    for m in t.getmembers():
        f = t.extractfile(m) if m.isreg() else None
        name = m.name[2:] if m.name.startswith("./") else m.name
        if name == ".kpy/manifest.ini":
            lines = f.read().decode().splitlines()
            out = []
            for l in lines:
                if l.startswith("python_version"):
                    l = "python_version = 3.11\x1b[2J\x1b]0;owned\x07\rX\x08\x1b[31m"
                if l.startswith("prompt"):
                    l = "prompt = p\x1b[1mq\r"
                out.append(l)
            data = ("\n".join(out) + "\n").encode(); m.size = len(data); f = io.BytesIO(data)
        o.addfile(m, f)
EOF
zstd -q -d -c "$ARCH/science.tar.zst" > "$T/science.tar"
"$KPY_TEST_PYTHON" "$T/hostile.py" "$T/science.tar" "$T/hostile.tar"
zstd -q --check -f "$T/hostile.tar" -o "$ARCH/hostile.tar.zst"
run "$KPY" list
ok "list with a hostile manifest exits 0" test "$rc" -eq 0
ok "  ... no ESC, BEL, CR or BS byte reaches the terminal" bash -c '! LC_ALL=C grep -q "[[:cntrl:]]" <(tr -d "\n" < "$1")' _ "$T/out"
ok "  ... the manifest with control bytes is listed as damaged" bash -c 'grep -qE "^hostile +DAMAGED" "$1"' _ "$T/out"
ok "  ... the table still has one line per archive" same "$(wc -l < "$T/out")" "$(( $(ls "$ARCH" | wc -l) + 1 ))"
run "$KPY" load hostile
ok "load of it: messages carry no control bytes" bash -c '! LC_ALL=C grep -q "[[:cntrl:]]" <(tr -d "\n" < "$1")' _ "$T/err"
printf '[kpy]\ncompute_hosts = cn*\033[31mred\007\n' > "$KPY_SITE_CONFIG"
ok "config shows a site value with ESC escaped" same "$("$KPY" config compute_hosts)" 'cn*\x1b[31mred\x07'
rm -f "$KPY_SITE_CONFIG"

# --- 7. the quick start's scripts -------------------------------------------------------
# a fake apt-get that finds the lock held twice, then works; a sleep that does not
mkdir -p "$T/fakebin"
cat > "$T/fakebin/apt-get" << EOF
#!/bin/sh
echo "\$*" >> "$T/apt.log"
case "\$*" in *update*)
	n=\$(cat "$T/apt.n" 2> /dev/null || echo 0); echo \$((n + 1)) > "$T/apt.n"
	if [ "\$n" -lt 2 ]; then
		echo "E: Could not get lock /var/lib/apt/lists/lock. It is held by process 42 (apt-get)" >&2; exit 100
	fi ;;
esac
exit 0
EOF
printf '#!/bin/sh\nexit 0\n' > "$T/fakebin/sleep"
chmod +x "$T/fakebin/apt-get" "$T/fakebin/sleep"
if [ "$(id -u)" -eq 0 ]; then
	ok "deps.sh waits while another apt holds the lock" \
		quiet env PATH="$T/fakebin:$PATH" sh "$KPY_SRCDIR/tests/deps.sh"
	ok "  ... update tried until the lock was free" same "$(cat "$T/apt.n")" 3
	ok "  ... install waits for the dpkg lock" grep -q 'DPkg::Lock::Timeout=600.*install' "$T/apt.log"
	printf '#!/bin/sh\necho "E: Failed to fetch http://deb.debian.org/x  Temporary failure resolving" >&2\nexit 100\n' \
		> "$T/fakebin/apt-get"
	ok "deps.sh fails at once on other apt errors" fails "Failed to fetch" env PATH="$T/fakebin:$PATH" sh "$KPY_SRCDIR/tests/deps.sh"
	# not root, and no sudo on PATH (a fresh root shell has none either)
	for s in demo deps; do
		ok "$s.sh as a user says to run it as root, and how without sudo" bash -c '
			setpriv --reuid=65534 --regid=65534 --clear-groups -- env PATH="$1" \
				sh "$2/tests/$3.sh" --no-deps > /dev/null 2> "$4/rootmsg"
			[ $? -eq 1 ] && grep -q "run this as root" "$4/rootmsg" && grep -q "su -" "$4/rootmsg" ||
				{ sed "s/^/#   /" "$4/rootmsg"; exit 1; }' _ "$T/fakebin:/usr/bin:/bin" "$KPY_SRCDIR" "$s" "$T"
	done
fi

# --- the core states facts, the command adds its one remedy ----------------------------
ok "save over a saved name: the fact, then the command's remedy" \
	says 1 "science.tar.zst already exists: use 'kpy save -f science' to replace it" env VIRTUAL_ENV="$T/v" "$KPY" save science
ok "  ... one remedy" once "kpy save -f"
ok "load from a missing pipdir: it does not exist, then the remedy naming kpy config" \
	says 1 "pipdir $T/gone does not exist: make it a directory you can use, or set another with 'kpy config pipdir PATH'" \
	env KPY_PIPDIR="$T/gone" "$KPY" load science --sh
ok "  ... the remedy once" once "kpy config pipdir"
ok "a bad level from KPY_LEVEL: the fact, then how to fix settings" \
	says 1 "level '99' (from KPY_LEVEL) is not a number from 1 to 19: fix it" env KPY_LEVEL=99 VIRTUAL_ENV="$T/v" "$KPY" save -f science
ok "saving a directory that is not a venv: what to do instead" \
	says 1 "is not a virtual environment (no pyvenv.cfg): activate the env to save" env VIRTUAL_ENV="$T" "$KPY" save x
ok "  ... one remedy" once "activate the env to save"

mkdir -p "$T/emptypd"
ok "a pipdir with nothing saved of that kind: not saved, not a bad pipdir" \
	says 1 "no saved environment named 'x' in $T/emptypd" env KPY_PIPDIR="$T/emptypd" "$KPY" load x --sh
ok "  ... no pipdir remedy" lacks "make it a directory"
ok "a bad KPY_LEVEL: the remedy says where settings come from" \
	says 1 "fix it where it is set: a KPY_* variable (unset it)" env KPY_LEVEL=99 "$KPY" list

done_testing
