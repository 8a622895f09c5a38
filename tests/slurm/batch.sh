#!/bin/bash
# batch.sh: plain `kpy load` inside real Slurm jobs (no plugin), as the ordinary user
# kpytest, on a throwaway one-node Slurm: the README's batch recipe, a job array,
# two jobs at once, tasks of one job sharing one restore, pip offline, and a script
# that cannot be activated failing loudly. Jobs here have no $SLURM_TMPDIR.
. "$KPY_SRCDIR/tests/lib/common.sh"

[ "$(id -u)" -eq 0 ] || skip_all "needs root to run slurmctld, slurmd and munged"
for b in slurmctld slurmd slurmstepd srun sbatch sinfo scontrol munged; do
	command -v "$b" > /dev/null ||
		skip_all "$b not installed (Debian: slurmctld slurmd slurm-client munge)"
done
"$KPY_TEST_PYTHON" -c 'import venv, ensurepip' 2> /dev/null ||
	skip_all "$KPY_TEST_PYTHON cannot make venvs with pip (install python3-venv)"
unset KPY_PLUGIN # the plugin is not involved: plain kpy load
. "$KPY_SRCDIR/tests/slurm/cluster.sh"

TU=kpytest
id -u "$TU" > /dev/null 2>&1 || useradd -M -d /nonexistent -s /bin/sh "$TU" ||
	{ echo "Bail out! cannot create the test user $TU"; exit 1; }
cd "$T" || exit 1
UH=$T/user
mkdir -p "$UH/tmp" "$UH/wheels" "$T/bin" "$T/out"
cp "$KPY" "$T/bin/kpy"
chmod -R a+rX "$T/bin"
mkwheel "$UH/wheels" hello 1.0 > /dev/null
mkwheel "$UH/wheels" extra 2.0 > /dev/null
chown -R "$TU:" "$UH" "$T/out"
export PATH="$T/bin:$PATH"
ULIVE=$UH/tmp/kpy-$TU
H=$(hostname)

as_user() {
	(cd "$UH" && runuser -u "$TU" -- env -u KPY_PIPDIR HOME="$UH" PATH="$PATH" \
		XDG_CONFIG_HOME="$UH/.config" XDG_DATA_HOME="$UH/.local/share" \
		XDG_STATE_HOME="$UH/.local/state" TMPDIR="$UH/tmp" PIP_DISABLE_PIP_VERSION_CHECK=1 "$@")
}
setup() {
	as_user "$KPY_TEST_PYTHON" -m venv "$UH/src" &&
	as_user "$UH/src/bin/pip" install -q --no-index --find-links "$UH/wheels" hello &&
	as_user env VIRTUAL_ENV="$UH/src" kpy save science > /dev/null 2>&1 &&
	as_user mkdir -p "$UH/.local/share/kpy/wheels" &&
	as_user cp "$UH/wheels/extra-2.0-py3-none-any.whl" "$UH/.local/share/kpy/wheels/"
}
ok "setup: $TU saves science (hello), extra in its wheelhouse" setup

if ! cluster_start "$T/cluster"; then
	echo "Bail out! the local Slurm did not start"
	tail -n 20 "$T"/cluster/*.log "$T"/cluster/*.out | sed 's/^/# /'
	exit 1
fi
at_exit cluster_stop

# the README's batch recipe, as written there
cat > "$T/train.sh" << 'EOF'
#!/bin/bash
#SBATCH -n 1
set -eu
eval "$(kpy load science --sh)"
python -c 'import hello, sys; print("prefix=" + sys.prefix)'
hello
python -m pip install -q extra
python -c 'import extra; print("extra=ok")'
t0=$(date +%s%N)
python -m pip install nosuchpkg-zz > "$HOME/nosuch.log" 2>&1 && exit 7
echo "ms=$((($(date +%s%N) - t0) / 1000000))"
EOF
chmod 0755 "$T/train.sh"
job=$(as_user timeout 120 sbatch -W --parsable -o "$T/out/train.out" "$T/train.sh" 2> "$T/train.err")
ok "the README batch recipe (eval \"\$(kpy load science --sh)\") succeeds" test $? -eq 0 -a -n "$job"
ok "  ... python has the env (job $job's own directory)" \
	grep -qx "prefix=$ULIVE/.job-$job@$H/science" "$T/out/train.out"
ok "  ... console script runs" grep -qx "hello from hello $ULIVE/.job-$job@$H/science" "$T/out/train.out"
ok "  ... python -m pip install from the wheelhouse, offline" grep -qx "extra=ok" "$T/out/train.out"
ms=$(sed -n 's/^ms=//p' "$T/out/train.out")
ok "  ... a missing package fails fast (${ms:-?} ms < 3000)" test "${ms:-9999}" -lt 3000
ok "  ... with pip's no-index message" grep -qi "from versions: none\|no matching distribution" "$UH/nosuch.log"

# the recipe without --sh and without the shell function: the job fails, saying why
cat > "$T/plain.sh" << 'EOF'
#!/bin/bash
set -e
kpy load science
python -c 'import hello'
echo "not reached"
EOF
chmod 0755 "$T/plain.sh"
as_user timeout 120 sbatch -W -o "$T/out/plain.out" "$T/plain.sh" > /dev/null 2>&1
ok "kpy load in a batch script without the function: the job fails" test $? -ne 0
ok "  ... saying it is NOT active and what to write" \
	grep -q 'NOT active.*eval "$(kpy load science --sh)"' "$T/out/plain.out"
ok "  ... before the script went on" bash -c '! grep -q "not reached" "$1"' _ "$T/out/plain.out"

# a 4-task job array, all at once: every task gets the env
cat > "$T/array.sh" << 'EOF'
#!/bin/bash
set -eu
eval "$(kpy load science --sh)"
sleep 1
echo "task=$SLURM_ARRAY_TASK_ID $(hello)"
EOF
chmod 0755 "$T/array.sh"
ajob=$(as_user timeout 180 sbatch -W --parsable -O --array=0-3 -o "$T/out/array.%a" "$T/array.sh" 2> "$T/array.err")
ok "a 4-task array: sbatch -W succeeds" test $? -eq 0 -a -n "$ajob"
arr() {
	local i n=0
	for i in 0 1 2 3; do
		grep -qE "^task=$i hello from hello $ULIVE/\.job-[0-9]+@$H/science$" "$T/out/array.$i" && n=$((n + 1))
	done
	same "$n" 4 || { tail -n 3 "$T"/out/array.* | sed 's/^/#   /'; return 1; }
}
ok "  ... every task ran with the env" arr
ok "  ... none was refused ('already loaded', 'meanwhile')" \
	bash -c '! grep -q "already loaded\|meanwhile" "$1"/out/array.*' _ "$T"

# two jobs at once
cat > "$T/two.sh" << 'EOF'
#!/bin/bash
set -eu
eval "$(kpy load science --sh)"
sleep 2
hello
EOF
chmod 0755 "$T/two.sh"
as_user timeout 120 sbatch -W -O -o "$T/out/two.1" "$T/two.sh" > /dev/null 2>&1 &
p1=$!
as_user timeout 120 sbatch -W -O -o "$T/out/two.2" "$T/two.sh" > /dev/null 2>&1 &
p2=$!
wait "$p1"; r1=$?
wait "$p2"; r2=$?
ok "two jobs at once: both succeed" same "$r1 $r2" "0 0"
ok "  ... each with its own copy" bash -c '
	a=$(tail -n 1 "$1/out/two.1"); b=$(tail -n 1 "$1/out/two.2")
	[[ $a == "hello from hello "*/.job-*/science ]] && [[ $b == "hello from hello "*/.job-*/science ]] && [ "$a" != "$b" ]' _ "$T"

# four tasks of one job load at once: one restore, all use it
cat > "$T/tasks.sh" << 'EOF'
#!/bin/bash
#SBATCH -n 4
#SBATCH -O
srun -n 4 -O bash -c 'eval "$(kpy load science --sh 2> "$HOME/task.$SLURM_PROCID.err")" && hello'
EOF
chmod 0755 "$T/tasks.sh"
as_user timeout 120 sbatch -W -o "$T/out/tasks.out" "$T/tasks.sh" > /dev/null 2>&1
ok "srun -n 4 tasks of one job each kpy load: the step succeeds" test $? -eq 0
ok "  ... all four ran with the env" same "$(grep -c '^hello from hello .*/science$' "$T/out/tasks.out")" 4
ok "  ... restored once" same "$(cat "$UH"/task.*.err | grep -c 'loaded science into')" 1

# ended jobs' directories are gone once a new job loads
ok "a later job removes the directories of ended jobs" bash -c '
	ls -d "$1"/.job-* > /dev/null 2>&1 || exit 1
	n=$(ls -d "$1"/.job-* | wc -l); [ "$n" -eq 1 ]' _ "$ULIVE"

done_testing
