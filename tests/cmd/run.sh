#!/bin/bash
# run.sh: kpy run SCRIPT with PEP 723 inline dependencies, with real pip and wheels the
# test builds (alpha depends on beta): one saved env per Python and dependency set,
# shared by scripts that declare the same set; ARGS, stdin, exit status and the pid
# passed through (exec); 8 concurrent first runs; offline in a job; --prepare filling
# the wheelhouse from a stand-in index; the errors; kpy list and kpy rm --script.
. "$KPY_SRCDIR/tests/lib/common.sh"

need_venv_tools
WH=$PIPDIR/wheels
SE=$PIPDIR/script_envs
IDX=$T/index   # stands in for the internet of a login node
mkdir -p "$WH" "$IDX" "$T/pybin" "$T/s"
ln -s "$KPY_TEST_PYTHON" "$T/pybin/python3"
export PATH="$T/pybin:$PATH" PIP_DISABLE_PIP_VERSION_CHECK=1
mkwheel "$WH" beta 1.0 > /dev/null
mkwheel --requires 'beta>=1.0' "$WH" alpha 2.0 > /dev/null
mkwheel "$WH" gamma 3.0 > /dev/null
mkwheel "$IDX" eps 5.0 > /dev/null
mkwheel --requires eps "$IDX" delta 4.0 > /dev/null
export KPY T SE
PYV=$("$KPY_TEST_PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
key() { printf 'py%s-%s' "$PYV" "$(printf '%s' "$1" | sha256sum | cut -c1-16)"; }
nenv() { ls "$SE" 2> /dev/null | grep -c '\.tar\.zst$'; }
cd "$T/s" || exit 1

cat > a.py << 'EOF'
#!/usr/bin/env python3
# /// script
# requires-python = ">=3.8"
# dependencies = [
#     "alpha",
# ]
# ///
import alpha, beta, sys
print("alpha", alpha.VERSION, "beta", beta.VERSION, sys.prefix)
EOF
# the same set, written differently (PEP 503 names, whitespace, a duplicate)
cat > b.py << 'EOF'
# /// script
# dependencies = ["Alpha", "ALPHA"]
# ///
import alpha
print("b", alpha.VERSION)
EOF
cat > c.py << 'EOF'
# /// script
# dependencies = ["alpha", "gamma >= 3.0"]
# ///
import alpha, gamma
print("c", gamma.VERSION)
EOF
printf 'import sys\nprint("plain", sys.prefix)\n' > plain.py

# --- a first run builds and saves; a second restores nothing and just runs -------------
ok "kpy run a.py: builds the env, installs alpha and its dependency beta, runs" \
	bash -c '"$KPY" run a.py > "$T/a.out" 2> "$T/a.err" || { sed "s/^/#   /" "$T/a.err"; exit 1; }'
ok "  ... the script ran in it" grep -q "^alpha 2.0 beta 1.0 .*/\.run/$(key alpha)\$" "$T/a.out"
ok "  ... saved as script_envs/py3.X-<16 hex of sha256 of the set>.tar.zst" test -f "$SE/$(key alpha).tar.zst"
ok "  ... which says so" has "$T/a.err" "built the env of a.py"
ok "  ... not among the named envs" bash -c '! ls "$1"/venv_archives/*.tar.zst 2> /dev/null' _ "$PIPDIR"
manifest() { tar --zstd -xOf "$SE/$1.tar.zst" .kpy/manifest.ini; }
ok "  ... its manifest names the script and the dependencies" \
	bash -c 'm=$(tar --zstd -xOf "$1" .kpy/manifest.ini) && grep -qx "script = $2/a.py" <<< "$m" &&
		grep -qx "requires = alpha" <<< "$m" && grep -qx "kind = venv" <<< "$m"' _ "$SE/$(key alpha).tar.zst" "$T/s"
ok "a second run just runs (no build, no restore message)" \
	bash -c '"$KPY" run a.py > "$T/a2.out" 2> "$T/a2.err" && grep -q "^alpha 2.0" "$T/a2.out" && ! test -s "$T/a2.err"'
ok "b.py (the same set: Alpha, ALPHA) shares the env" \
	bash -c '"$KPY" run b.py > "$T/b.out" 2> "$T/b.err" && grep -qx "b 2.0" "$T/b.out" && ! grep -q built "$T/b.err"'
ok "  ... still one saved env" same "$(nenv)" 1
ok "c.py (another set) gets a new env" \
	bash -c '"$KPY" run c.py > "$T/c.out" 2> "$T/c.err" && grep -qx "c 3.0" "$T/c.out"'
ok "  ... keyed by its normalised set" test -f "$SE/$(key "$(printf 'alpha\ngamma>=3.0')").tar.zst"
ok "  ... two saved envs now" same "$(nenv)" 2
ok "a script without a block runs in a plain env" \
	bash -c '"$KPY" run plain.py > "$T/p.out" 2> "$T/p.err" && grep -q "^plain .*/\.run/$1\$" "$T/p.out"' _ "$(key "")"
ok "  ... saved under the empty set's key" test -f "$SE/$(key "").tar.zst"

# --- ARGS, stdin, exit status, --help for the script, and exec -----------------------------
cat > args.py << 'EOF'
import sys
print(repr(sys.argv[1:]), sys.stdin.read().strip())
sys.exit(7)
EOF
io() {
	local rc
	echo "from stdin" | "$KPY" run args.py a 'b c' --help -- > "$T/io.out" 2> "$T/io.err"
	rc=$?
	same "$rc" 7
}
ok "ARGS and stdin reach the script, its exit status 7 is kpy's" io
ok "  ... ARGS as given (--help and -- are the script's)" \
	same "$(cat "$T/io.out")" "['a', 'b c', '--help', '--'] from stdin"
cat > pid.py << 'EOF'
import os, sys, time
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write("%d\n" % os.getpid())
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
for _ in range(300):
    if os.path.exists(sys.argv[2]):
        break
    time.sleep(0.05)
EOF
execd() {
	local pid got exe rc=0
	# the binary itself: a wrapper such as check-valgrind's would be the pid here
	"${KPY_REAL:-$KPY}" run pid.py "$T/pid" "$T/go" > /dev/null 2> "$T/pid.err" &
	pid=$!
	for _ in $(seq 300); do [ -s "$T/pid" ] && break; sleep 0.05; done
	got=$(cat "$T/pid" 2> /dev/null)
	exe=$(readlink "/proc/$pid/exe")
	touch "$T/go"
	wait "$pid" || rc=1
	same "$got" "$pid" || rc=1
	case $exe in */kpy) diag "pid $pid is still kpy ($exe)"; rc=1 ;; esac
	return $rc
}
ok "the script is kpy's process (exec: the same pid, no kpy left)" execd

# --- 8 concurrent first runs of a new set, as a job array (a scratch each) --------------------
cat > conc.py << 'EOF'
# /// script
# dependencies = ["beta"]
# ///
import beta, sys
print("conc", beta.VERSION)
EOF
conc() {
	local i n=0 pids=()
	for i in $(seq 8); do
		mkdir -p "$T/arr$i"
		SLURM_JOB_ID=70$i SLURM_TMPDIR=$T/arr$i "$KPY" run conc.py > "$T/conc$i.out" 2> "$T/conc$i.err" &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i" && n=$((n + 1)); done
	same "$n" 8 || { cat "$T"/conc*.err | sort | uniq -c | sed 's/^/#   /'; return 1; }
}
ok "8 concurrent first runs of conc.py: all succeed" conc
ok "  ... every one ran the script" same "$(cat "$T"/conc*.out | grep -cx 'conc 1.0')" 8
ok "  ... one built the env" same "$(cat "$T"/conc*.err | grep -c 'built the env of conc.py')" 1
ok "  ... the others restored it" same "$(cat "$T"/conc*.err | grep -c 'restored the env of conc.py')" 7
ok "  ... one saved env for the set" test -f "$SE/$(key beta).tar.zst"
ok "  ... nothing else left in script_envs (no lock, no temporary)" \
	same "$(ls -A "$SE" | grep -v '^py[0-9.]*-[0-9a-f]*\.tar\.zst$' | tr '\n' ' ')" ""
ok "  ... no build directory left in a scratch" bash -c '! ls -d "$1"/arr*/kpy/.run/.* 2> /dev/null | grep -q build' _ "$T"
tasks() {
	local i n=0 pids=()
	mkdir -p "$T/job16"
	for i in $(seq 16); do
		SLURM_JOB_ID=716 SLURM_TMPDIR=$T/job16 "$KPY" run conc.py > "$T/task$i.out" 2> "$T/task$i.err" &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i" && n=$((n + 1)); done
	same "$n" 16 || { cat "$T"/task*.err | sed 's/^/#   /'; return 1; }
}
ok "16 tasks of one job run conc.py at once: all succeed" tasks
ok "  ... one restore on the node" same "$(cat "$T"/task*.err | grep -c 'restored the env')" 1
ok "  ... into the job's scratch, nothing beside it" same "$(ls -A "$T/job16/kpy/.run" | tr '\n' ' ')" "$(key beta) "

# --- a build killed midway is cleaned up; a wait for the build lock can be interrupted ----------
printf '# /// script\n# dependencies = ["gamma"]\n# ///\nimport gamma\nprint("g", gamma.VERSION)\n' > g.py
true & dead=$!; wait "$dead"
STALE=$LIVE/.run/.$(key gamma).build-$(hostname)-$dead
mkdir -p "$STALE/bin" && touch "$STALE/bin/python"
ok "the next build of a set removes the build directory a killed run left" \
	bash -c '"$1" run g.py 2> /dev/null | grep -qx "g 3.0" && test ! -e "$2"' _ "$KPY" "$STALE"
printf '# /// script\n# dependencies = ["gamma", "beta"]\n# ///\n' > gb.py
waitint() {
	local holder pid rc
	flock "$SE/.$(key "$(printf 'beta\ngamma')").tar.zst.lock" sleep 30 &
	holder=$!
	sleep 0.5
	# the binary itself: under a wrapper (check-valgrind) the signal would hit the wrapper
	"${KPY_REAL:-$KPY}" run gb.py > /dev/null 2> "$T/int.err" &
	pid=$!
	sleep 1
	kill -0 "$pid" 2> /dev/null || { diag "kpy run did not wait for the build lock"; kill "$holder"; return 1; }
	kill -INT "$pid"
	wait "$pid"; rc=$?
	kill "$holder"; wait "$holder" 2> /dev/null
	rm -f "$SE"/.*.lock # flock(1)'s, not kpy's
	same "$rc" 1 && grep -q "interrupted while waiting for .*\.lock" "$T/int.err"
}
ok "a run waits for another's build of its set, and Ctrl-C ends the wait" waitint
ok "  ... leaving no env" test ! -e "$SE/$(key "$(printf 'beta\ngamma')").tar.zst"

# --- offline in a job ---------------------------------------------------------------------
cat > env.py << 'EOF'
import os
for k in ("PIP_NO_INDEX", "PIP_FIND_LINKS", "UV_FIND_LINKS", "UV_OFFLINE", "UV_PYTHON_DOWNLOADS", "VIRTUAL_ENV"):
    print(k, os.environ.get(k, "-"))
print("PATH0", os.environ["PATH"].split(":")[0])
EOF
mkdir -p "$T/job1"
ok "in a job (SLURM_JOB_ID, SLURM_TMPDIR): kpy run env.py" \
	bash -c 'SLURM_JOB_ID=1 SLURM_TMPDIR=$T/job1 "$KPY" run env.py > "$T/env.out" 2> "$T/env.err"'
E=$T/job1/kpy/.run/$(key "")
ok "  ... PIP_NO_INDEX=1 for the script" has "$T/env.out" "PIP_NO_INDEX 1"
ok "  ... PIP_FIND_LINKS and UV_FIND_LINKS: the wheelhouse" \
	bash -c 'grep -qx "PIP_FIND_LINKS $1" "$2" && grep -qx "UV_FIND_LINKS $1" "$2"' _ "$WH" "$T/env.out"
ok "  ... UV_OFFLINE=1, UV_PYTHON_DOWNLOADS=never" \
	bash -c 'grep -qx "UV_OFFLINE 1" "$1" && grep -qx "UV_PYTHON_DOWNLOADS never" "$1"' _ "$T/env.out"
ok "  ... VIRTUAL_ENV and PATH: the env in the job's scratch" \
	bash -c 'grep -qx "VIRTUAL_ENV $1" "$2" && grep -qx "PATH0 $1/bin" "$2"' _ "$E" "$T/env.out"
ok "outside a job pip is left alone" \
	bash -c '"$KPY" run env.py 2> /dev/null | grep -qx "PIP_NO_INDEX -"'

# --- a dependency the wheelhouse lacks; --prepare on a "login node" ----------------------------
cat > prep.py << 'EOF'
# /// script
# dependencies = ["delta"]
# ///
import delta, eps
print("prep", delta.VERSION, eps.VERSION)
EOF
mkdir -p "$T/job2"
nodelta() { SLURM_JOB_ID=2 SLURM_TMPDIR=$T/job2 "$KPY" run prep.py; }
ok "in a job, a dependency missing from the wheelhouse fails" \
	expect_fail 1 "cannot install the dependencies of prep.py \(delta\) from the wheelhouse $WH" nodelta
ok "  ... with pip's message" grep -qi "no matching distribution found for delta" "$T/err"
ok "  ... and the hint: kpy run --prepare prep.py on a login node" has "$T/err" "on a login node with internet, run 'kpy run --prepare prep.py'"
ok "  ... nothing half-made: no saved env" test ! -e "$SE/$(key delta).tar.zst"
ok "  ... no env or build directory in the scratch" same "$(ls -A "$T/job2/kpy/.run" | tr '\n' ' ')" ""
prep() { PIP_FIND_LINKS=$IDX PIP_NO_INDEX=1 "$KPY" run --prepare prep.py; }
ok "kpy run --prepare prep.py, with an index (here a directory of wheels)" quiet prep
ok "  ... says what it did" bash -c 'grep -q "prepared prep.py: the wheelhouse .* has delta" "$1" &&
	grep -q "saved the env of prep.py" "$1"' _ "$T/q.out"
ok "  ... the wheelhouse has delta and its dependency eps" \
	bash -c 'ls "$1"/delta-4.0-*.whl "$1"/eps-5.0-*.whl > /dev/null' _ "$WH"
ok "  ... the env is saved" test -f "$SE/$(key delta).tar.zst"
ok "  ... it did not run the script" bash -c '! grep -q "^prep " "$1"' _ "$T/q.out"
ok "then in a job, offline, prep.py runs" \
	bash -c 'SLURM_JOB_ID=2 SLURM_TMPDIR=$T/job2 "$KPY" run prep.py 2> /dev/null | grep -qx "prep 4.0 5.0"'
ok "--prepare again: already saved, says so" \
	bash -c 'PIP_FIND_LINKS=$1 PIP_NO_INDEX=1 "$KPY" run --prepare prep.py 2>&1 | grep -q "already saved"' _ "$IDX"
rm -f "$WH"/delta-*.whl "$WH"/eps-*.whl
ok "--prepare of a name no index has fails with pip's message" \
	bash -c 'printf "# /// script\n# dependencies = [\"nosuch-zz\"]\n# ///\n" > nz.py &&
		! PIP_FIND_LINKS=$1 PIP_NO_INDEX=1 "$KPY" run --prepare nz.py 2> "$2/nz.err" &&
		grep -q "pip wheel.*could not get the dependencies of nz.py (nosuch-zz)" "$2/nz.err"' _ "$IDX" "$T"

# --- errors ---------------------------------------------------------------------------------
printf '#!/usr/bin/env python3\n\n# /// script\n# dependencies = [\n#   "alpha"\n#   "beta",\n# ]\n# ///\n' > bad.py
ok "a malformed block: the script's line and tomllib's message" \
	expect_fail 1 "bad.py, line 6: malformed '# /// script' block \(starts at line 3\): .*(array|Unclosed|Expected)" "$KPY" run bad.py
printf '# /// script\n# dependencies = []\n# ///\nx = 1\n# /// script\n# dependencies = ["a"]\n# ///\n' > two.py
ok "two script blocks" expect_fail 1 "two.py has 2 '# /// script' blocks \(lines 1, 5\)" "$KPY" run two.py
printf '# /// script\n# dependencies = "alpha"\n# ///\n' > notlist.py
ok "dependencies that are not a list" expect_fail 1 "notlist.py: dependencies must be a list of strings" "$KPY" run notlist.py
printf '# /// script\n# dependencies = ["alpha beta"]\n# ///\n' > badreq.py
ok "a dependency that is no requirement is named" expect_fail 1 "badreq.py: dependency 'alpha beta' is not a requirement" "$KPY" run badreq.py
# hostile: a TOML escape puts a newline and a tab into a dependency, to forge a line
# of the answer kpy reads back ("dep<TAB>...")
printf '# /// script\n# dependencies = ["alpha\\ndep\\tevil"]\n# ///\n' > forge.py
ok "a dependency holding a newline (a forged answer line) is refused" \
	expect_fail 1 "forge.py: dependency 'alpha.+ndep.+tevil' is not a requirement" "$KPY" run forge.py
printf '# /// script\n# requires-python = ">=3\\nhash\\t0"\n# ///\n' > forgepy.py
ok "a requires-python holding a newline is refused" \
	expect_fail 1 "forgepy.py: requires-python must be a string" "$KPY" run forgepy.py
printf '# /// script\n# requires-python = ">=3.99"\n# ///\n' > py399.py
ok "requires-python no Python in PATH has: the interpreters tried are listed" \
	expect_fail 1 "py399.py needs Python >=3.99, and no Python in PATH has it \(tried: python3 \($PYV\.[0-9]+, $T/pybin/python3\)" "$KPY" run py399.py
ok "  ... python3.N of PATH among them" grep -q "python3\.[0-9]* ($PYV" "$T/err"
printf '# /// script\n# requires-python = "==%s"\n# ///\n' "$PYV" > eqpy.py
ok "  ... ==3.X (which is 3.X.0) gets the hint ==3.X.*" \
	bash -c '"$1" run eqpy.py 2> "$2/eq.err"; [ $? -eq 1 ] && grep -q "==3.X.\* is any 3.X" "$2/eq.err" ||
		"$3" -c "import sys; sys.exit(sys.version_info[2] != 0)"' _ "$KPY" "$T" "$KPY_TEST_PYTHON"
for spec in "==$PYV.*" "~=3.0" ">=3,<4" "!=2.7.*" ">3.0.0"; do
	printf '# /// script\n# requires-python = "%s"\n# ///\nprint("spec ok")\n' "$spec" > spec.py
	ok "requires-python '$spec' is met by python3" bash -c '"$1" run spec.py 2> /dev/null | grep -qx "spec ok"' _ "$KPY"
done
printf '# /// script\n# requires-python = "=>3"\n# ///\n' > badspec.py
ok "a requires-python kpy cannot read is named" expect_fail 1 "requires-python '=>3': cannot read '=>3'" "$KPY" run badspec.py
ok "a missing script" expect_fail 1 "no script nosuch.py" "$KPY" run nosuch.py
mkdir -p adir
ok "a directory as the script" expect_fail 1 "adir is a directory, not a script" "$KPY" run adir
ok "no script at all is a usage error" expect_fail 2 "give the SCRIPT" "$KPY" run
ok "--prepare with ARGS is a usage error" expect_fail 2 "only the SCRIPT" "$KPY" run --prepare a.py x
ok "an unknown option gets 'did you mean'" expect_fail 2 "unknown option '--prepar'; did you mean '--prepare'" "$KPY" run --prepar a.py
cp plain.py eval.py
ok "kpy create eval.py (a script here) points to kpy run eval.py" expect_fail 1 "'kpy run eval.py'" "$KPY" create eval.py
ok "  ... and makes no env" test ! -e "$LIVE/eval.py"
ok "errors leave nothing half-made in the pipdir" \
	same "$(ls -A "$SE" | grep -v '^py[0-9.]*-[0-9a-f]*\.tar\.zst$' | tr '\n' ' ')" ""

# --- kpy list, kpy rm --script, help ------------------------------------------------------
ok "kpy list: a section of script environments" bash -c '"$1" list > "$2/list.out" 2> /dev/null && grep -q "^script environments" "$2/list.out"' _ "$KPY" "$T"
ok "  ... with key, python, script and dependencies" \
	grep -Eq "^$(key alpha) +$PYV +[0-9.]+[KMG] +[0-9-]+ [0-9:]+ +a.py +alpha\$" "$T/list.out"
ok "  ... and the set of c.py" grep -q "c.py  *alpha gamma>=3.0\$" "$T/list.out"
ok "kpy list --names: named envs only" same "$("$KPY" list --names 2> /dev/null)" ""
ok "kpy rm --script KEY" quiet "$KPY" rm --script "$(key "$(printf 'alpha\ngamma>=3.0')")"
ok "  ... gone from the list" bash -c '! "$1" list 2> /dev/null | grep -q " c\.py "' _ "$KPY"
ok "  ... the others stay" test -f "$SE/$(key alpha).tar.zst"
ok "kpy rm --script of an unknown key names those that exist" \
	expect_fail 1 "no saved environment named 'py3.0-0000000000000000'.*$(key alpha)" "$KPY" rm --script py3.0-0000000000000000
ok "kpy --help lists run" bash -c '"$1" --help | grep -q "kpy run \[--prepare\] \[-j N\] SCRIPT \[ARGS...\]"' _ "$KPY"
ok "kpy help run explains --prepare" bash -c '"$1" help run | grep -q -- "--prepare"' _ "$KPY"
ok "kpy run --help is kpy's help" bash -c '"$1" run --help | grep -q "^usage: kpy run"' _ "$KPY"

# --- completion, in real bash -----------------------------------------------------------------
comp() {
	bash -c 'eval "$("$KPY" bash)" || exit 1; COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		__kpy_complete; printf "%s\n" "${COMPREPLY[@]}" | sort | tr "\n" " "' _ "$@"
}
ok "completion: run is a command" bash -c '[[ " $1 " == *" run "* ]]' _ "$(comp kpy r)"
ok "completion: kpy run <TAB> offers *.py files and directories" same "$(comp kpy run a)" "a.py adir args.py "
ok "completion: kpy run --p<TAB> offers --prepare" same "$(comp kpy run --p)" "--prepare "
ok "completion: after the script, its arguments are files" same "$(comp kpy run a.py ad)" "adir "
ok "completion: kpy rm --script <TAB> offers the keys" same "$(comp kpy rm --script py)" "$(printf '%s\n' "$(key "")" "$(key alpha)" "$(key beta)" "$(key delta)" "$(key gamma)" | sort | tr '\n' ' ')"
ok "completion: kpy help r<TAB>" same "$(comp kpy help ru)" "run "

done_testing
