#!/bin/bash
# shell.sh: the code `kpy bash` prints, run in real bash: the kpy function
# changes the active venv of the same shell (create, load, activate, save),
# the pip wrapper (offline inside a job or on compute_hosts, the pipdir
# wheelhouse everywhere), the *NAME prompt, completion; no Slurm commands and
# nothing slow at shell start; set -u safe.
. "$KPY_SRCDIR/tests/lib/common.sh"

need_venv_tools
WH=$PIPDIR/wheels
mkdir -p "$T/pybin"
ln -s "$KPY_TEST_PYTHON" "$T/pybin/python3"
# fake Slurm commands: any call leaves a mark
mkdir -p "$T/slurm"
for c in sinfo squeue scontrol srun sbatch salloc sacct scancel; do
	printf '#!/bin/sh\necho "$0 $*" >> "%s/slurm-called"\n' "$T" > "$T/slurm/$c"
	chmod +x "$T/slurm/$c"
done
export PATH="$T/pybin:$T/slurm:$PATH"
export KPY LIVE PIPDIR WH T KPY_TEST_PYTHON

# sh NAME: run $T/NAME.sh in bash with the kpy code loaded (set -u);
# stdout to $T/NAME.out, stderr to $T/NAME.err
sh_run() {
	{ printf 'set -u\neval "$("$KPY" bash)" || exit 99\n'; cat; } > "$T/$1.sh"
	bash "$T/$1.sh" > "$T/$1.out" 2> "$T/$1.err"
	local rc=$?
	[ $rc -eq 0 ] || { diag "$1.sh exited $rc"; sed 's/^/#   /' "$T/$1.err"; }
	return $rc
}
outline() { sed -n "$2p" "$T/$1.out"; }

# --- the code itself ---------------------------------------------------------------
"$KPY" bash > "$T/code.bash"
ok "kpy bash exits 0" test $? -eq 0
ok "kpy bash prints bash that parses" bash -n "$T/code.bash"
ok "no @KPY@ placeholder left" bash -c '! grep -q "@KPY@" "$1"' _ "$T/code.bash"
kpyabs=$(readlink -f "$KPY")
ok "the code calls kpy by its absolute path" bash -c \
	'grep -qF "\"$1\"" "$2" || grep -qF "\"$3\"" "$2"' _ "$KPY" "$T/code.bash" "$kpyabs"
# kpy installed under an odd path: the code must still quote it right
odd_path() {
	local d=$T/$1
	mkdir -p "$d" && cp "$KPY" "$d/kpy" || return 1
	local v
	v=$(bash -c 'set -u; eval "$("$1/kpy" bash)" && kpy --version' _ "$d" 2> "$T/odd.err")
	[ "$v" = "$("$KPY" --version)" ] || { diag "got [$v]:"; sed 's/^/#   /' "$T/odd.err"; return 1; }
}
ok "kpy under a path with a space" odd_path 'odd dir/bin'
ok "kpy under a path with \$, \`, \" and \\" odd_path 'odd $HOME `x` "q\ dir/bin'
ok "shellcheck-clean enough: defines kpy, pip, pip3" bash -c \
	'set -u; eval "$("$KPY" bash)"; declare -F kpy pip pip3 > /dev/null'
ok "loading twice adds the prompt hook once, keeps the user's" bash -c '
	set -u; PROMPT_COMMAND="echo mine"
	eval "$("$KPY" bash)"; eval "$("$KPY" bash)"
	[ "$(printf "%s\n" "$PROMPT_COMMAND" | grep -c __kpy_prompt)" = 1 ] &&
	[[ $PROMPT_COMMAND == "echo mine"* ]]'
ok "PROMPT_COMMAND as an array (bash 5.1+) gets one element" bash -c '
	set -u; PROMPT_COMMAND=("echo a" "echo b")
	eval "$("$KPY" bash)"; eval "$("$KPY" bash)"
	[ "${#PROMPT_COMMAND[@]}" = 3 ] && [ "${PROMPT_COMMAND[2]}" = __kpy_prompt ]'
ok "works when pip is an alias" bash -c '
	shopt -s expand_aliases; alias pip="echo aliased"; alias kpy="echo aliased"
	eval "$("$KPY" bash)" && declare -F pip kpy > /dev/null'
# --- kpy changes the active venv of the same shell ------------------------------------
sh_run fn << 'EOF'
PS1='$ '
kpy create e1 > /dev/null 2>&1 || exit 1
echo "$VIRTUAL_ENV"
echo "$PS1"
kpy create e2 2> /dev/null
echo "$VIRTUAL_ENV"
case ":$PATH:" in *":$LIVE/e1/bin:"*) echo "e1 still in PATH" ;; *) echo "PATH ok" ;; esac
kpy activate e1
echo "$VIRTUAL_ENV"
kpy save s1 2> /dev/null
echo "rc=$? $VIRTUAL_ENV"
echo "$PS1"
kpy load s1 --as l1 2> /dev/null
echo "rc=$? $VIRTUAL_ENV"
echo "$PS1"
python -c 'import sys; print(sys.prefix)'
names=$(kpy activate)
echo "$names" | tr '\n' ' '; echo
echo "$VIRTUAL_ENV"
kpy activate nosuch 2> /dev/null
echo "rc=$? $VIRTUAL_ENV"
kpy nosuchcommand 2> /dev/null
echo "rc=$?"
out=$(kpy list --names)
echo "list=$out"
kpy save s1 2> "$T/fn.save-err"
echo "rc=$?"
type deactivate > /dev/null 2>&1 && echo "deactivate defined"
EOF
ok "bash: the script ran" test $? -eq 0
ok "bash: kpy create e1 activates e1" same "$(outline fn 1)" "$LIVE/e1"
ok "bash: prompt (e1)" same "$(outline fn 2)" '(e1) $ '
ok "bash: kpy create e2 switches to e2" same "$(outline fn 3)" "$LIVE/e2"
ok "bash: e1's bin left PATH (deactivated)" same "$(outline fn 4)" "PATH ok"
ok "bash: kpy activate e1" same "$(outline fn 5)" "$LIVE/e1"
ok "bash: kpy save s1 renames the live e1 to s1, active" same "$(outline fn 6)" "rc=0 $LIVE/s1"
ok "bash: after save the prompt is (s1)" same "$(outline fn 7)" '(s1) $ '
ok "bash: kpy load s1 --as l1 activates l1" same "$(outline fn 8)" "rc=0 $LIVE/l1"
ok "bash: prompt (l1)" same "$(outline fn 9)" '(l1) $ '
ok "bash: python is l1's" same "$(outline fn 10)" "$LIVE/l1"
ok "bash: kpy activate lists live envs on stdout" same "$(outline fn 11)" "e2 l1 s1 "
ok "bash: listing does not change the venv" same "$(outline fn 12)" "$LIVE/l1"
ok "bash: a failing kpy returns 1, venv unchanged" same "$(outline fn 13)" "rc=1 $LIVE/l1"
ok "bash: a usage error returns 2" same "$(outline fn 14)" "rc=2"
ok "bash: stdout of kpy passes through" same "$(outline fn 15)" "list=s1"
ok "bash: save of an existing name returns 1" same "$(outline fn 16)" "rc=1"
ok "bash: its message passes through on stderr" has "$T/fn.save-err" "kpy: "
ok "bash: a venv is active (deactivate defined)" same "$(outline fn 17)" "deactivate defined"

# nothing forks at shell start: strace the eval of the already printed code
if command -v strace > /dev/null && strace -f -o /dev/null true 2> /dev/null; then
	VIRTUAL_ENV=$LIVE/l1 strace -f -e trace=execve,clone,clone3,fork,vfork -o "$T/strace" bash -c \
		'set -u; . "$1"; __kpy_prompt' _ "$T/code.bash" > /dev/null 2>&1
	ok "sourcing the code and running the prompt hook forks nothing" \
		same "$(grep -cE "execve|clone|fork" "$T/strace")" 1
else
	ok "sourcing the code is fast # SKIP no strace" true
fi
start=$(date +%s%N)
for _ in 1 2 3 4 5 6 7 8 9 10; do VIRTUAL_ENV=$LIVE/l1 bash -c 'set -u; . "$1"; __kpy_prompt' _ "$T/code.bash"; done
elapsed=$((($(date +%s%N) - start) / 10000000))
ok "shell start with the code stays fast ($elapsed ms per start)" test "$elapsed" -lt 200

# --- the pip wrapper: arguments -----------------------------------------------------------
# a fake venv whose pip prints its arguments one per line
FV=$T/fakevenv
mkdir -p "$FV/bin"
printf '#!/bin/sh\nfor a; do printf "%%s\\n" "$a"; done\n' > "$FV/bin/pip"
chmod +x "$FV/bin/pip"
cp "$FV/bin/pip" "$FV/bin/pip3"
args() { # args NAME ARGS...: run the wrapper in a fresh bash, arguments one a line
	local name=$1; shift
	printf 'PATH=%q:$PATH\n' "$FV/bin" > "$T/$name.in"
	printf '%q ' "$@" >> "$T/$name.in"
	echo >> "$T/$name.in"
	sh_run "$name" < "$T/$name.in" && tr '\n' ' ' < "$T/$name.out" | sed 's/ $//'
}
rm -rf "$WH"
ok "pip install, login node: find-links only" \
	same "$(args a1 pip install foo)" "install --find-links $WH foo"
ok "the wheelhouse was created" test -d "$WH"
ok "pip3 install too" same "$(args a2 pip3 install foo)" "install --find-links $WH foo"
ok "pip install in a job: --no-index" \
	same "$(SLURM_JOB_ID=12 args a3 pip install foo)" "install --no-index --find-links $WH foo"
ok "pip download in a job" \
	same "$(SLURM_JOB_ID=1 args a4 pip download foo)" "download --no-index --find-links $WH foo"
ok "pip wheel writes into the wheelhouse" \
	same "$(args a5 pip wheel foo)" "wheel --find-links $WH --wheel-dir $WH foo"
ok "pip wheel -w DIR keeps DIR" same "$(args a6 pip wheel -w d foo)" "wheel --find-links $WH -w d foo"
ok "pip wheel --wheel-dir=DIR keeps DIR" \
	same "$(args a7 pip wheel --wheel-dir=d foo)" "wheel --find-links $WH --wheel-dir=d foo"
ok "pip wheel --wheel-dir DIR keeps DIR" \
	same "$(args a8 pip wheel --wheel-dir d foo)" "wheel --find-links $WH --wheel-dir d foo"
ok "pip list passes through" same "$(SLURM_JOB_ID=1 args a9 pip list --format=json)" "list --format=json"
ok "pip uninstall passes through" same "$(SLURM_JOB_ID=1 args a10 pip uninstall -y x)" "uninstall -y x"
ok "global options before the subcommand stay there" \
	same "$(SLURM_JOB_ID=1 args a11 pip -q --log f install foo)" \
	"-q --log f install --no-index --find-links $WH foo"
ok "pip with no arguments" same "$(args a12 pip)" ""
ok "arguments with spaces survive" \
	same "$(args a13 pip install 'a b' '')" "install --find-links $WH a b "
h=${HOSTNAME:-$(hostname)}
ok "compute_hosts pattern matching this host: --no-index" \
	same "$(KPY_COMPUTE_HOSTS="nomatch* ${h:0:1}*" args a14 pip install foo)" \
	"install --no-index --find-links $WH foo"
"$KPY" config compute_hosts "zz* $h" > /dev/null 2>&1
ok "compute_hosts from the config file gives --no-index" \
	same "$(args a15 pip install foo)" "install --no-index --find-links $WH foo"
"$KPY" config --unset compute_hosts > /dev/null 2>&1
ok "compute_hosts not matching: no --no-index" \
	same "$(KPY_COMPUTE_HOSTS="nomatch* zz?" args a16 pip install foo)" \
	"install --find-links $WH foo"
ok "pipdir from KPY_PIPDIR" \
	same "$(KPY_PIPDIR=$T/pd2 args a17 pip install foo)" "install --find-links $T/pd2/wheels foo"
ok "its wheelhouse was made" test -d "$T/pd2/wheels"
touch "$T/pdfile"
ok "pipdir unusable: no --find-links, pip still runs" \
	same "$(KPY_PIPDIR=$T/pdfile args a18 pip install foo)" "install foo"
ok "the pip wrapper called no Slurm command" test ! -e "$T/slurm-called"

# --- the pip wrapper for real: offline install from the wheelhouse -------------------------
mkwheel "$WH" hello 1.0 > /dev/null
mkwheel "$WH" extra 2.0 > /dev/null
sh_run real << 'EOF'
PS1='$ '
export SLURM_JOB_ID=42 PIP_DISABLE_PIP_VERSION_CHECK=1
kpy load s1 --as l1 2> /dev/null || exit 1
__kpy_prompt; echo "$PS1"
pip install -q hello || exit 2
hello
__kpy_prompt; echo "$PS1"
__kpy_prompt; echo "$PS1"
kpy save -f s1 2> /dev/null || exit 3
__kpy_prompt; echo "$PS1"
pip install -q extra || exit 4
__kpy_prompt; echo "$PS1"
pip uninstall -q -y extra || exit 5
__kpy_prompt; echo "$PS1"
pip download -d "$T/dl" nosuchpackage-zz > "$T/real.dl" 2>&1 && exit 6
echo "$VIRTUAL_ENV"
EOF
ok "real pip: the script ran" test $? -eq 0
ok "prompt clean after load" same "$(outline real 1)" '(l1) $ '
JL=$LIVE/.job-42@$(hostname)
ok "pip install NAME from the wheelhouse, offline, in a job" same "$(outline real 2)" "hello from hello $JL/l1"
ok "prompt marks the change: (*l1)" same "$(outline real 3)" '(*l1) $ '
ok "the mark is stable" same "$(outline real 4)" '(*l1) $ '
ok "save -f clears the mark, prompt (s1)" same "$(outline real 5)" '(s1) $ '
ok "installing another wheel marks it again" same "$(outline real 6)" '(*s1) $ '
ok "uninstalling it clears the mark" same "$(outline real 7)" '(s1) $ '
ok "pip download in a job did not look at an index" bash -c '! grep -qi "looking in indexes" "$1"' _ "$T/real.dl"
ok "  ... but looked in the wheelhouse" grep -qF "$WH" "$T/real.dl"
ok "save -f s1 renamed the live l1 to s1, still active" same "$(outline real 8)" "$JL/s1"

# --- one offline policy (kpy/offline.c): the shell function exports what --sh prints -------
OFFV="PIP_NO_INDEX PIP_FIND_LINKS UV_OFFLINE UV_FIND_LINKS UV_PYTHON_DOWNLOADS"
export OFFV
sh_run offl << 'EOF'
export SLURM_JOB_ID=42
kpy load s1 --as o1 2> /dev/null || exit 1
for v in $OFFV; do echo "$v=${!v-unset}"; done
EOF
ok "shell function in a job: every offline variable, uv's too" \
	same "$(tr '\n' ' ' < "$T/offl.out")" \
	"PIP_NO_INDEX=1 PIP_FIND_LINKS=$WH UV_OFFLINE=1 UV_FIND_LINKS=$WH UV_PYTHON_DOWNLOADS=never "
cat > "$T/offl-sh.sh" << 'EOF'
eval "$("$KPY" load s1 --as o1 --sh 2> /dev/null)" || exit 1
for v in $OFFV; do echo "$v=${!v-unset}"; done
EOF
ok "  ... the same as eval \"\$(kpy load --sh)\" sets" bash -c '
	env -u PIP_NO_INDEX -u PIP_FIND_LINKS -u UV_OFFLINE -u UV_FIND_LINKS -u UV_PYTHON_DOWNLOADS \
		SLURM_JOB_ID=42 bash "$1/offl-sh.sh" > "$1/offl-sh.out" &&
	cmp -s "$1/offl.out" "$1/offl-sh.out" || { diff "$1/offl.out" "$1/offl-sh.out" | sed "s/^/#   /"; exit 1; }' _ "$T"
ok "  ... pipdir with a trailing slash: one wheelhouse path for the variables and pip" \
	same "$(KPY_PIPDIR=$PIPDIR/ SLURM_JOB_ID=42 bash -c 'eval "$("$KPY" bash)"; __kpy_offline
		echo "$PIP_FIND_LINKS $UV_FIND_LINKS $("$KPY" bash --wheelhouse)"')" "$WH $WH $WH"

# the hook through a real interactive bash and PROMPT_COMMAND
cat > "$T/rc" << 'EOF'
PS1='PROMPT> '
eval "$("$KPY" bash)"
EOF
{
	echo 'kpy activate s1'
	echo 'pip install -q --no-index extra'
	echo 'echo done'
} | SLURM_JOB_ID=42 PIP_DISABLE_PIP_VERSION_CHECK=1 bash --rcfile "$T/rc" -i > "$T/int.out" 2> "$T/int.err"
ok "interactive bash: PROMPT_COMMAND marks the prompt (*s1)" grep -qF '(*s1) PROMPT> ' "$T/int.err"
ok "interactive bash: prompt clean before the install" grep -qF '(s1) PROMPT> ' "$T/int.err"

# no .kpy/packages: the prompt is left alone
sh_run plain << 'EOF'
PS1='$ '
"$KPY_TEST_PYTHON" -m venv --without-pip "$T/plainvenv" || exit 1
. "$T/plainvenv/bin/activate"
mkdir "$T/plainvenv/lib/python"*/site-packages/zz-1.0.dist-info
__kpy_prompt; echo "$PS1"
EOF
ok "a venv without .kpy/packages keeps its prompt" same "$(outline plain 1)" '(plainvenv) $ '
ok "the hook keeps \$? for the prompt" bash -c 'set -u; eval "$("$KPY" bash)"; false; __kpy_prompt; [ $? -eq 1 ]'
ok "the hook is quiet with no venv" bash -c 'set -u; eval "$("$KPY" bash)"; unset VIRTUAL_ENV; [ -z "$(__kpy_prompt 2>&1)" ]'

# --- completion ------------------------------------------------------------------------------
sh_run comp << 'EOF'
c() { COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMPREPLY=(); __kpy_complete
      printf '%s ' "${COMPREPLY[@]}" | sed 's/ $//'; echo; }
complete -p kpy
c kpy lo
c kpy ''
c kpy load ''
c kpy rm s
c kpy export ''
c kpy activate ''
c kpy activate e
c kpy config ''
c kpy save -
c kpy load s1 --as ''
c kpy help cr
c kpy unl
c kpy unload ''
c kpy load -
c kpy save --
c kpy run x.py --
c kpy bash --
EOF
ok "completion: the script ran" test $? -eq 0
ok "completion registered for kpy" grep -q '__kpy_complete' "$T/comp.out"
ok "completion: commands" same "$(outline comp 2)" "load"
ok "completion: every command" bash -c 'for w in create save load activate list rm export config bash help; do
	grep -qw -- "$w" <<< "$1" || exit 1; done' _ "$(outline comp 3)"
ok "completion: load offers saved names" same "$(outline comp 4)" "s1"
ok "completion: rm offers saved names" same "$(outline comp 5)" "s1"
ok "completion: export offers saved names" same "$(outline comp 6)" "s1"
ok "completion: activate offers live names" same "$(outline comp 7)" "e2 l1 s1"
ok "completion: activate prefix" same "$(outline comp 8)" "e2"
ok "completion: config keys" same "$(outline comp 9)" "pipdir compute_hosts level site_pipdir threads"
ok "completion: save options" grep -qw -- '-f' <<< "$(outline comp 10)"
ok "completion: nothing after --as" same "$(outline comp 11)" ""
ok "completion: help COMMAND" same "$(outline comp 12)" "create"
ok "completion: unload" same "$(outline comp 13)" "unload"
ok "completion: unload offers live names" same "$(outline comp 14)" "e2 l1 s1"
ok "completion: load -f --sh" bash -c 'grep -qw -- "-f" <<< "$1" && grep -qw -- "--sh" <<< "$1"' _ "$(outline comp 15)"
# the options come from the command table, not from a list in the shell code
ok "completion: save's long options, --force included" same "$(outline comp 16)" "--force --jobs --uv-cache --site --help"
ok "completion: nothing of kpy's after kpy run SCRIPT" same "$(outline comp 17)" ""
ok "completion: kpy bash's internal options are not offered" same "$(outline comp 18)" "--help"
ok "completion: the shell code holds no option list of its own" \
	bash -c '! grep -q -- "--uv-cache --help" "$1/shell/kpy.bash"' _ "$KPY_SRCDIR"
ok "nothing called a Slurm command" test ! -e "$T/slurm-called"

# one compute-node rule: a broken configuration inside a job still means offline
ok "in a job with a bad config, kpy bash --offline still exports the variables" \
	bash -c 'SLURM_JOB_ID=77 KPY_LEVEL=99 "$1" bash --offline | grep -q "PIP_NO_INDEX=1"' _ "$KPY"
ok "  ... and --on-compute says yes" env SLURM_JOB_ID=77 KPY_LEVEL=99 "$KPY" bash --on-compute
ok "outside a job with no compute_hosts: --on-compute says no, --offline prints nothing" \
	bash -c 'env -u SLURM_JOB_ID KPY_COMPUTE_HOSTS= "$1" bash --on-compute && exit 1
		[ -z "$(env -u SLURM_JOB_ID KPY_COMPUTE_HOSTS= "$1" bash --offline)" ]' _ "$KPY"

done_testing
