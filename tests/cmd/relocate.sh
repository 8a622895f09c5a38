#!/bin/bash
# relocate.sh: relocation through kpy save / load / export with real venvs at paths
# that hold spaces (old and new): pip's plain shebangs and /bin/sh trampolines, a
# trampoline whose quote is open, an argcomplete-style bin/activate-* script.
. "$KPY_SRCDIR/tests/lib/common.sh"

need_venv_tools
W=$T/wheels
mkwheel "$W" hello 1.0 > /dev/null

line1() { local l=; IFS= read -r l < "$1"; printf '%s\n' "$l"; }
runs() { same "$("$@" 2>&1)" "1"; }

# --- pip's .data/scripts line in an env whose path holds a space (issue defect 1) ---
d="$HOME/my envs/sp"
"$KPY_TEST_PYTHON" -m venv --without-pip "$d"
PY=$(basename "$(readlink "$d/bin/python3" || echo python3)")
printf '#!%s/bin/python3\nprint(1)\n' "$d" > "$d/bin/tool"
printf '#!%s/bin/python3 -E\nimport sys; print(sys.flags.ignore_environment)\n' "$d" > "$d/bin/tool-E"
# argcomplete's global activation script is a python script, not an activate script
printf '#!%s/bin/python3\n# PYTHON_ARGCOMPLETE_OK\nprint("(sp) %%s" %% 1)\n' "$d" > "$d/bin/activate-global-python-argcomplete"
chmod +x "$d/bin/tool" "$d/bin/tool-E" "$d/bin/activate-global-python-argcomplete"
cp "$d/bin/activate-global-python-argcomplete" "$T/argc.orig"
ok "save an env whose path holds a space" quiet env VIRTUAL_ENV="$d" "$KPY" save sp
ok "load it (was a heap overflow)" quiet "$KPY" load sp
S=$LIVE/sp
ok "its script's shebang is the new interpreter" same "$(line1 "$S/bin/tool")" "#!$S/bin/python3"
ok "the script runs" runs "$S/bin/tool"
ok "its options are kept" same "$(line1 "$S/bin/tool-E")" "#!$S/bin/python3 -E"
ok "the script with options runs" runs "$S/bin/tool-E"
ok "argcomplete-style script: plain shebang" \
	same "$(line1 "$S/bin/activate-global-python-argcomplete")" "#!$S/bin/python3"
ok "argcomplete-style script: rest intact" \
	same "$(tail -n +2 "$S/bin/activate-global-python-argcomplete")" "$(tail -n +2 "$T/argc.orig")"
ok "argcomplete-style script runs" \
	same "$("$S/bin/activate-global-python-argcomplete")" "(sp) 1"

X="$T/ex port/sp 2"
mkdir -p "$(dirname "$X")"
ok "export it to a path with a space (was a crash)" quiet "$KPY" export sp "$X"
ok "exported script is a trampoline" same "$(line1 "$X/bin/tool")" "#!/bin/sh"
ok "exported script runs" runs "$X/bin/tool"
ok "exported script keeps its options" \
	has "$X/bin/tool-E" "'''exec' \"$X/bin/python3\" -E \"\$0\" \"\$@\""
ok "exported script with options runs" runs "$X/bin/tool-E"
ok "exported argcomplete-style script is a trampoline too" \
	same "$(line1 "$X/bin/activate-global-python-argcomplete")" "#!/bin/sh"
ok "exported argcomplete-style script runs" \
	same "$("$X/bin/activate-global-python-argcomplete")" "(sp) 1"
ok "exported activate names the new path, quoted" has "$X/bin/activate" "VIRTUAL_ENV='$X'"
act_prefix() { same "$(bash -c '. "$1/bin/activate" && python -c "import sys; print(sys.prefix)"' _ "$1")" "$1"; }
ok "exported env activates in bash" act_prefix "$X"

# argcomplete-style script under a long path: a trampoline, not a 160-byte #! line
LONGP=$T/$(printf 'd%.0s' $(seq 1 120))/sp
mkdir -p "$(dirname "$LONGP")"
ok "export into a long path" quiet "$KPY" export sp "$LONGP"
ok "long path: argcomplete-style script is a trampoline" \
	same "$(line1 "$LONGP/bin/activate-global-python-argcomplete")" "#!/bin/sh"
ok "long path: it runs" same "$("$LONGP/bin/activate-global-python-argcomplete")" "(sp) 1"

# --- a trampoline with its quote left open (issue defect 2) ---------------------
tr="$T/tr"
"$KPY_TEST_PYTHON" -m venv --without-pip "$tr"
printf '#!/bin/sh\n'"'''exec' \"$tr/bin/python\n' '''\n" > "$tr/bin/tramp"
ok "save an env with a broken trampoline" quiet env VIRTUAL_ENV="$tr" "$KPY" save tr
ok "load it (was an out-of-bounds read)" quiet "$KPY" load tr
ok "the broken line gets the new path as text" \
	same "$(sed -n 2p "$LIVE/tr/bin/tramp")" "'''exec' \"$LIVE/tr/bin/python"

# --- real pip, real wheel, at paths with spaces, round trips ------------------
pv="$T/with space/pv"
"$KPY_TEST_PYTHON" -m venv "$pv"
ok "pip installs a wheel into an env at a path with a space" \
	quiet "$pv/bin/pip" install -q --no-index --find-links "$W" hello
ok "pip wrote a trampoline" same "$(line1 "$pv/bin/hello")" "#!/bin/sh"
hello_in() { "$1/bin/hello" > "$T/h" 2>&1 || { sed 's/^/#   /' "$T/h"; return 1; }; same "$(cat "$T/h")" "hello from hello $1"; }
ok "its console script runs" hello_in "$pv"
ok "save it" quiet env VIRTUAL_ENV="$pv" "$KPY" save pv
ok "load it into a path without a space" quiet "$KPY" load pv
ok "console script runs after load" hello_in "$LIVE/pv"
ok "pip runs after load" quiet "$LIVE/pv/bin/pip" --version
ok "save the loaded env again" quiet env VIRTUAL_ENV="$LIVE/pv" "$KPY" save pv2
X2="$T/a b/c d/pv2"
mkdir -p "$(dirname "$X2")"
ok "export that to another path with spaces" quiet "$KPY" export pv2 "$X2"
ok "trampoline names the new interpreter" \
	has "$X2/bin/hello" "'''exec' \"$X2/bin/python"
ok "console script runs after the round trip" hello_in "$X2"
ok "pip runs after the round trip" quiet "$X2/bin/pip" --version
ok "save from the spacey path once more" quiet env VIRTUAL_ENV="$X2" "$KPY" save pv3
ok "load that" quiet "$KPY" load pv3
ok "console script runs" hello_in "$LIVE/pv3"
ok "no old path is left in bin/" bash -c '! grep -rlF "$1" "$2/bin"' _ "$X2" "$LIVE/pv3"

done_testing
