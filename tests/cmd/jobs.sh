#!/bin/bash
# jobs.sh: kpy load, activate, save and unload as users really write them in jobs and on
# login nodes, without Slurm (tests/slurm/batch.sh runs the same in real jobs): one
# restore for many concurrent loads, per-job live dirs, a live root another user cannot
# squat, scripts that activate with --sh, pip offline for python -m pip, PATH kept on
# save, save renaming the live env, reload and removal of live envs, and a venv that a
# job started with (--kpy-env) made to look activated.
. "$KPY_SRCDIR/tests/lib/common.sh"

need_venv_tools
WH=$PIPDIR/wheels
mkdir -p "$WH" "$T/pybin"
ln -s "$KPY_TEST_PYTHON" "$T/pybin/python3"
export PATH="$T/pybin:$PATH" PIP_DISABLE_PIP_VERSION_CHECK=1
mkwheel "$WH" hello 1.0 > /dev/null
mkwheel "$WH" extra 2.0 > /dev/null
export KPY LIVE PIPDIR WH T

# a saved env "sci" holding the hello wheel
"$KPY_TEST_PYTHON" -m venv "$T/src" &&
	"$T/src/bin/pip" install -q --no-index --find-links "$WH" hello &&
	VIRTUAL_ENV=$T/src "$KPY" save sci > /dev/null 2>&1
ok "setup: sci saved" test -f "$ARCH/sci.tar.zst"

# run NAME: $T/NAME.sh in bash with the kpy code loaded; output in $T/NAME.out/.err
run() {
	{ printf 'set -u\neval "$("$KPY" bash)" || exit 99\n'; cat; } > "$T/$1.sh"
	bash "$T/$1.sh" > "$T/$1.out" 2> "$T/$1.err"
	local rc=$?
	[ $rc -eq 0 ] || { diag "$1.sh exited $rc"; sed 's/^/#   /' "$T/$1.err"; }
	return $rc
}
line() { sed -n "$2p" "$T/$1.out"; }

# --- 32 concurrent loads of one env in one job (hardening #5) ---------------------------
J=$T/job32
mkdir -p "$J"
conc32() {
	local i n=0 t0 t1 pids=()
	t0=$(date +%s%N)
	for i in $(seq 32); do
		SLURM_TMPDIR=$J "$KPY" load sci > "$T/c$i.out" 2> "$T/c$i.err" &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i" && n=$((n + 1)); done
	t1=$(date +%s%N)
	diag "32 concurrent loads: $(((t1 - t0) / 1000000)) ms"
	same "$n" 32 || { cat "$T"/c*.err | sort | uniq -c | sed 's/^/#   /'; return 1; }
}
ok "32 concurrent kpy load of one env in one job: all succeed" conc32
ok "  ... one extraction" same "$(cat "$T"/c*.err | grep -c 'loaded sci into')" 1
ok "  ... the others use it" same "$(cat "$T"/c*.err | grep -c 'already loaded')" 31
ok "  ... it works" same "$("$J/kpy/sci/bin/hello")" "hello from hello $J/kpy/sci"
ok "  ... nothing left beside it (no lock file either)" same "$(ls -A "$J/kpy" | tr '\n' ' ')" "sci "

# --- jobs without SLURM_TMPDIR: a directory per job ----------------------------------------
H=$(hostname)
# job 801 stays "running": a process of ours carries SLURM_JOB_ID=801
env SLURM_JOB_ID=801 sleep 300 &
alive=$!
at_exit "kill $alive 2> /dev/null"
ok "job 801: kpy load sci" quiet env SLURM_JOB_ID=801 "$KPY" load sci --sh
ok "job 802 at the same time: kpy load sci too (not 'already loaded')" \
	quiet env SLURM_JOB_ID=802 "$KPY" load sci --sh
ok "  ... each job has its own copy" \
	bash -c 'test -x "$1/.job-801@$2/sci/bin/hello" && test -x "$1/.job-802@$2/sci/bin/hello"' _ "$LIVE" "$H"
ok "  ... which runs from its own place" same "$("$LIVE/.job-802@$H/sci/bin/hello")" "hello from hello $LIVE/.job-802@$H/sci"
ok "  ... not in the login node's list" same "$("$KPY" activate | tr '\n' ' ')" ""
ok "a new job removes the dirs of ended jobs (802), keeps running ones (801)" \
	bash -c 'SLURM_JOB_ID=803 "$1" load sci --sh > /dev/null 2>&1 &&
		test ! -e "$2/.job-802@$3" && test -d "$2/.job-801@$3/sci"' _ "$KPY" "$LIVE" "$H"
kill "$alive" 2> /dev/null; wait "$alive" 2> /dev/null
ok "kpy on the login node removes those of ended jobs" \
	bash -c '"$1" activate > /dev/null 2>&1 && ! ls -d "$2"/.job-* 2> /dev/null' _ "$KPY" "$LIVE"

# --- a script (batch job) without the shell function ----------------------------------------
nofn() { env SLURM_JOB_ID=900 "$KPY" load sci; }
ok "in a job, kpy load without the shell function fails loudly (exit 3)" \
	expect_fail 3 "NOT active.*eval \"\\\$\(kpy load sci --sh\)\"" nofn
cat > "$T/batch.sh" << 'EOF'
#!/bin/bash
set -eu
eval "$("$KPY" load sci --sh)"
hello
python -c 'import hello, sys; print(sys.prefix)'
python -m pip install -q hello extra
python -c 'import extra; print("extra ok")'
EOF
ok "the batch recipe eval \"\$(kpy load sci --sh)\" activates, pip offline" \
	bash -c 'SLURM_JOB_ID=901 bash "$1/batch.sh" > "$1/batch.out" 2> "$1/batch.err" ||
		{ sed "s/^/#   /" "$1/batch.err"; exit 1; }' _ "$T"
ok "  ... hello ran from the job's env" grep -qx "hello from hello $LIVE/.job-901@$H/sci" "$T/batch.out"
ok "  ... python -m pip installed extra from the wheelhouse" grep -qx "extra ok" "$T/batch.out"
ok "--sh of a missing env prints 'false' so eval fails" \
	bash -c 'eval "$("$1" load nosuch --sh 2> /dev/null)"; [ $? -ne 0 ]' _ "$KPY"

# --- python -m pip after kpy load in a job: offline --------------------------------------------
run pipm << 'EOF'
export SLURM_JOB_ID=902
kpy load sci 2> /dev/null || exit 1
echo "$PIP_NO_INDEX $PIP_FIND_LINKS ${UV_OFFLINE:-}"
python -m pip install -q extra || exit 2
python -c 'import extra; print("ok")'
t0=$(date +%s%N)
python -m pip install nosuchpkg-zz > "$T/pipm.miss" 2>&1 && exit 3
echo $((($(date +%s%N) - t0) / 1000000))
EOF
ok "kpy load in a job: python -m pip runs" test $? -eq 0
ok "  ... PIP_NO_INDEX, PIP_FIND_LINKS and UV_OFFLINE exported" same "$(line pipm 1)" "1 $WH 1"
ok "  ... python -m pip install from the wheelhouse" same "$(line pipm 2)" "ok"
ms=$(line pipm 3)
ok "  ... a missing package fails fast (${ms:-?} ms < 3000)" test "${ms:-9999}" -lt 3000
ok "  ... with pip's no-index message" grep -qi "no matching distribution\|from versions: none" "$T/pipm.miss"
ok "  ... and never tried an index" bash -c '! grep -qi "retry\|looking in indexes" "$1"' _ "$T/pipm.miss"

# --- kpy save keeps PATH entries added after activation -----------------------------------------
run keep << 'EOF'
kpy create pk 2> /dev/null || exit 1
PATH=/opt/some-module/bin:$PATH
kpy save pk 2> /dev/null || exit 2
echo "$PATH"
EOF
ok "save: the script ran" test $? -eq 0
ok "save keeps a PATH entry added after activation (module load)" \
	bash -c 'case ":$1:" in *:/opt/some-module/bin:*) ;; *) exit 1 ;; esac' _ "$(line keep 1)"
ok "  ... with the env's bin/ first, once" \
	bash -c '[[ $1 == "$2/bin:"* ]] && [ "$(tr : "\n" <<< "$1" | grep -c "^$2/bin$")" = 1 ]' \
	_ "$(line keep 1)" "$LIVE/pk"

# --- kpy save NEWNAME renames the live env --------------------------------------------------------
run rename << 'EOF'
PS1='$ '
kpy load sci --as old 2> /dev/null || exit 1
kpy save newname 2> /dev/null || exit 2
echo "$VIRTUAL_ENV"
echo "$PS1"
hello
kpy activate old 2> /dev/null; echo "rc=$?"
kpy activate newname 2> /dev/null; echo "rc=$? $VIRTUAL_ENV $PS1"
EOF
ok "save NEWNAME: the script ran" test $? -eq 0
ok "save NEWNAME renames the live env and keeps it active" same "$(line rename 1)" "$LIVE/newname"
ok "  ... prompt (newname)" same "$(line rename 2)" '(newname) $ '
ok "  ... its console scripts run from the new place" same "$(line rename 3)" "hello from hello $LIVE/newname"
ok "  ... the old name is gone" same "$(line rename 4)" "rc=1"
ok "  ... kpy activate newname works, prompt (newname)" same "$(line rename 5)" "rc=0 $LIVE/newname (newname) \$ "
ok "  ... no file mentions the old path" \
	bash -c '! grep -rlF --exclude="*.pyc" --exclude-dir=.kpy -- "$1/old" "$1/newname"' _ "$LIVE"

# --- stale live envs: reload, list, remove -------------------------------------------------------
quiet "$KPY" load sci
sleep 1
"$T/src/bin/pip" install -q --no-index --find-links "$WH" extra
ok "sci saved again elsewhere" quiet env VIRTUAL_ENV="$T/src" "$KPY" save -f sci
ok "load sci with the older copy loaded: refused, suggests load -f" \
	expect_fail 1 "saved again.*kpy load -f sci" "$KPY" load sci
ok "activate -l: the live sci is older than the saved one" \
	bash -c '"$1" activate -l | grep -qE "^sci +sci +[0-9-]+ [0-9:]+ +saved again since"' _ "$KPY"
ok "load -f sci reloads it" quiet "$KPY" load -f sci
ok "  ... now with extra" quiet "$LIVE/sci/bin/python" -c 'import extra'
ok "  ... activate -l: as saved" bash -c '"$1" activate -l | grep -qE "^sci .* as saved "' _ "$KPY"
"$LIVE/sci/bin/pip" uninstall -q -y extra > /dev/null 2>&1
ok "  ... activate -l: modified after pip uninstall" bash -c '"$1" activate -l | grep -qE "^sci .*, modified"' _ "$KPY"
ok "  ... load sci again uses it, saying it changed" expect_fail 0 "already loaded.*changed" "$KPY" load sci
ok "activate -l: a created env was never saved" bash -c '"$1" create nv > /dev/null 2>&1 &&
	"$1" activate -l | grep -qE "^nv +- +- +never saved"' _ "$KPY"
run unload << 'EOF'
kpy activate sci 2> /dev/null || exit 1
kpy unload sci 2> /dev/null || exit 2
echo "${VIRTUAL_ENV:-none}"
declare -F deactivate > /dev/null && echo "still active" || echo "deactivated"
kpy unload sci 2> "$T/unload.err2"; echo "rc=$?"
EOF
ok "unload: the script ran" test $? -eq 0
ok "kpy unload sci removes the live env" test ! -e "$LIVE/sci"
ok "  ... and deactivates it in the shell" same "$(line unload 1) $(line unload 2)" "none deactivated"
ok "  ... the saved archive stays" test -f "$ARCH/sci.tar.zst"
ok "  ... unload of a missing env fails, naming it" \
	bash -c 'grep -q "rc=1" "$1/unload.out" && grep -q "sci" "$1/unload.err2"' _ "$T"
ok "  ... nothing left in the live root" bash -c '! ls -A "$1" | grep -q "sci"' _ "$LIVE"

# --- a venv the job started with (srun --kpy-env): looks and behaves activated -------------------
quiet "$KPY" load sci
PE=$LIVE/sci
plugin_env() {
	# what the plugin exports: VIRTUAL_ENV and PATH; no deactivate function, no prompt
	env VIRTUAL_ENV="$PE" PATH="$PE/bin:$PATH" bash -c '
		set -u; PS1="\$ "
		eval "$("$KPY" bash)"
		declare -F deactivate > /dev/null && echo "deactivate defined"
		echo "$PS1"
		tr : "\n" <<< "$PATH" | grep -c "^$VIRTUAL_ENV/bin$"
		deactivate
		echo "${VIRTUAL_ENV:-none}"
		case ":$PATH:" in *":$1/bin:"*) echo "bin still in PATH" ;; *) echo "bin gone" ;; esac
		' _ "$PE" > "$T/pe.out" 2> "$T/pe.err"
}
ok "plugin-started venv: the shell code runs" plugin_env
ok "  ... deactivate is defined" same "$(line pe 1)" "deactivate defined"
ok "  ... the prompt shows (sci)" same "$(line pe 2)" '(sci) $ '
ok "  ... its bin/ is in PATH once" same "$(line pe 3)" 1
ok "  ... deactivate works" same "$(line pe 4) $(line pe 5)" "none bin gone"

# --- the shell code runs the kpy in PATH (an upgrade, a module switch) ---------------------------
mkdir -p "$T/old" "$T/newbin"
cp "$KPY" "$T/old/kpy"
printf '#!/bin/sh\necho "new kpy $*"\n' > "$T/newbin/kpy"
chmod +x "$T/newbin/kpy"
"$T/old/kpy" bash > "$T/frozen.bash"
ok "code printed by an old kpy runs the kpy found in PATH" \
	same "$(PATH="$T/newbin:$PATH" bash -c '. "$1"; kpy --version' _ "$T/frozen.bash")" "new kpy --version"
ok "  ... and the printing binary when PATH has none" \
	same "$(bash -c '. "$1"; kpy --version' _ "$T/frozen.bash")" "$("$KPY" --version)"

# --- another user cannot squat the live root (hardening #4) -------------------------------------
if [ "$(id -u)" -eq 0 ]; then
	for u in kpytest kpytest2; do
		id -u "$u" > /dev/null 2>&1 || useradd -M -d /nonexistent -s /bin/sh "$u" ||
			{ echo "Bail out! cannot create the test user $u"; exit 1; }
	done
	SH=$T/sharedtmp
	mkdir -p "$SH" "$T/u1" "$T/bin"
	chmod 1777 "$SH"
	chown kpytest: "$T/u1"
	cp "$KPY" "$T/bin/kpy"
	chmod -R a+rX "$PIPDIR" "$T/bin"
	as() {
		local u=$1 h=$2; shift 2
		runuser -u "$u" -- env -u KPY_PIPDIR HOME="$h" XDG_CONFIG_HOME="$h/.config" \
			XDG_DATA_HOME="$XDG_DATA_HOME" XDG_STATE_HOME="$h/.local/state" TMPDIR="$SH" "$@"
	}
	ok "kpytest2 squats $SH/kpy-kpytest" runuser -u kpytest2 -- mkdir -m 0777 "$SH/kpy-kpytest"
	ok "kpytest: kpy load sci still works" quiet as kpytest "$T/u1" "$T/bin/kpy" load sci --sh
	ok "  ... nothing written into the squatted directory" same "$(ls -A "$SH/kpy-kpytest")" ""
	got=$(as kpytest "$T/u1" "$T/bin/kpy" activate --sh sci 2> /dev/null | sed -n "s|^\. '\(.*\)/sci/bin/activate'$|\1|p")
	ok "  ... in a private directory of kpytest's ($got)" \
		bash -c '[ "$(stat -c "%U %a" "$1")" = "kpytest 700" ] && [[ $1 == "$2"/kpy-kpytest.* ]]' _ "$got" "$SH"
	ok "  ... remembered in kpytest's state dir, reused" \
		bash -c 'grep -qx "$1" "$2"/.local/state/kpy/live-root.* &&
			[ "$(ls -d "$3"/kpy-kpytest.* | wc -l)" = 1 ]' _ "$got" "$T/u1" "$SH"
	ok "  ... kpytest's env runs" same "$(runuser -u kpytest -- "$got/sci/bin/hello")" "hello from hello $got/sci"
	ok "kpytest2 cannot squat the state file" \
		bash -c '! runuser -u kpytest2 -- touch "$1/.local/state/kpy/x" 2> /dev/null' _ "$T/u1"
else
	ok "squatted live root # SKIP needs root to run as two users" true
fi

done_testing
