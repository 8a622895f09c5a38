#!/bin/bash
# spank.sh: the SPANK plugin in a throwaway one-node Slurm, with jobs run as root and
# as an ordinary user: restore and activate, once per job, offline, errors, cleanup.
. "$KPY_SRCDIR/tests/lib/common.sh"

[ "$(id -u)" -eq 0 ] || skip_all "needs root to run slurmctld, slurmd and munged"
for b in slurmctld slurmd slurmstepd srun sbatch salloc sinfo scontrol munged; do
	command -v "$b" > /dev/null ||
		skip_all "$b not installed (Debian: slurmctld slurmd slurm-client munge)"
done
[ -f "${KPY_PLUGIN:-}" ] || skip_all "spank_kpy.so not built (configured --without-slurm?)"
"$KPY_TEST_PYTHON" -c 'import venv, ensurepip' 2> /dev/null ||
	skip_all "$KPY_TEST_PYTHON cannot make venvs with pip (install python3-venv)"
. "$KPY_SRCDIR/tests/slurm/cluster.sh"

TU=kpytest
id -u "$TU" > /dev/null 2>&1 || useradd -M -d /nonexistent -s /bin/sh "$TU" ||
	{ echo "Bail out! cannot create the test user $TU"; exit 1; }
TUID=$(id -u "$TU")

cd "$T" || exit 1
SCR=$T/scratch            # plugstack tmpdir=: per-job scratch is made here
RP=$T/root-pipdir         # root's pipdir, through KPY_PIPDIR
UH=$T/user                # the test user's home; its pipdir comes from its config.ini
UP=$UH/pipdir
W=$T/wheels
mkdir -p "$SCR" "$W" "$T/victim" "$UH/tmp"
chmod 1777 "$SCR"
echo keep > "$T/victim/file"
chown -R "$TU:" "$UH"
chmod 0700 "$UH"
mkwheel "$W" hello 1.0 > /dev/null
mkwheel "$W" extra 2.0 > /dev/null

as_root() { env KPY_PIPDIR="$RP" "$@"; }
as_user() {
	(cd "$UH" && runuser -u "$TU" -- env -u KPY_PIPDIR HOME="$UH" \
		XDG_CONFIG_HOME="$UH/.config" XDG_DATA_HOME="$UH/.local/share" \
		TMPDIR="$UH/tmp" "$@")
}
# fails_any REGEX COMMAND...: COMMAND exits non-zero and its stderr matches REGEX
fails_any() {
	local pat=$1 rc; shift
	"$@" > "$T/out" 2> "$T/err"; rc=$?
	if [ "$rc" -eq 0 ]; then
		diag "expected failure, got exit 0 from: $*"; return 1
	fi
	grep -Eq -- "$pat" "$T/err" && return 0
	diag "stderr of '$*' does not match '$pat':"; sed 's/^/#   /' "$T/err"; return 1
}
# runs COMMAND...: COMMAND succeeds; its stderr is shown only when it fails
runs() {
	"$@" > "$T/out" 2> "$T/err" && return 0
	diag "failed: $*"; sed 's/^/#   /' "$T/err"; return 1
}
val() { sed -n "s/^$1=//p" "$2" | head -n 1; }
# log_count JOBID REGEX: lines of slurmstepd for JOBID in the slurmd log matching REGEX
log_count() { grep -cE "\[$1\.[^]]*\] kpy: $2" "$CLUSTER_SLURMD_LOG"; }
last_job() { scontrol show jobs -o 2> /dev/null | sed -n 's/^JobId=\([0-9]*\).*/\1/p' | sort -n | tail -n 1; }
# gone PATH: PATH disappears within 10 s (the job epilog runs after the job ends)
gone() {
	for _ in $(seq 100); do
		[ -e "$1" ] || [ -L "$1" ] || return 0
		sleep 0.1
	done
	diag "$1 still exists"; return 1
}
node_idle() { cluster_wait_idle 10; }

# make_envs RUN PIPDIR: a venv with the hello wheel saved as demo and other, a wheelhouse
# with extra, and a truncated copy of demo saved as broken.
make_envs() {
	local run=$1 pipdir=$2 home=$3
	$run "$KPY_TEST_PYTHON" -m venv "$home/venvs/demo" &&
	$run "$home/venvs/demo/bin/pip" install -q --no-index --find-links "$W" hello &&
	$run env VIRTUAL_ENV="$home/venvs/demo" "$KPY" save demo > /dev/null &&
	$run env VIRTUAL_ENV="$home/venvs/demo" "$KPY" save other > /dev/null &&
	$run mkdir -p "$pipdir/wheels" &&
	$run cp "$W/extra-2.0-py3-none-any.whl" "$pipdir/wheels/" &&
	$run cp "$pipdir/venv_archives/demo.tar.zst" "$pipdir/venv_archives/broken.tar.zst" &&
	$run truncate -s "$(($(stat -c %s "$pipdir/venv_archives/demo.tar.zst") / 2))" \
		"$pipdir/venv_archives/broken.tar.zst"
}
mkdir -p "$T/root-home"
ok "build and save a venv as root" runs make_envs as_root "$RP" "$T/root-home"
ok "$TU sets its pipdir with kpy config" runs as_user "$KPY" config pipdir "$UP"
ok "build and save a venv as $TU (pipdir from its config.ini)" runs make_envs as_user "$UP" "$UH"

cat > "$T/show.sh" <<'EOF'
#!/bin/sh
echo "hello=$(hello)"
echo "prefix=$(python -c 'import sys; print(sys.prefix)')"
echo "owner=$(stat -c %U:%G "$VIRTUAL_ENV")"
echo "mode=$(stat -c %a "$SLURM_TMPDIR")"
echo "venv=$VIRTUAL_ENV"
echo "tmpdir=$SLURM_TMPDIR"
echo "path1=${PATH%%:*}"
for v in PIP_NO_INDEX PIP_FIND_LINKS UV_OFFLINE UV_FIND_LINKS UV_PYTHON_DOWNLOADS KPY_ENV; do
	eval "echo $v=\${$v-}"
done
echo "job=$SLURM_JOB_ID"
echo "task=$SLURM_PROCID"
EOF
cat > "$T/batch.sh" <<'EOF'
#!/bin/sh
#SBATCH --kpy-env=demo
#SBATCH -n 1
echo "batch=$(hello)"
srun sh -c 'echo "step=$(hello)"'
srun --kpy-env=other sh -c 'echo "other=$VIRTUAL_ENV"'
EOF
cat > "$T/fail.sh" <<'EOF'
#!/bin/sh
#SBATCH --kpy-env=nosuch
echo "the script ran"
EOF
chmod 0755 "$T/show.sh" "$T/batch.sh" "$T/fail.sh"

if ! cluster_start "$T/cluster" tmpdir="$SCR"; then
	echo "Bail out! the local Slurm did not start"
	tail -n 20 "$T"/cluster/*.log "$T"/cluster/*.out | sed 's/^/# /'
	exit 1
fi
at_exit cluster_stop

# ---- one identity at a time: WHO RUN UID PIPDIR --------------------------------------
suite() {
	local who=$1 run=$2 uid=$3 pipdir=$4 out=$5 job scratch n
	local owner=$who
	[ "$who" = root ] || owner=$TU

	# srun --kpy-env: console script from the restored copy, owned by the user, offline
	$run timeout 120 srun --kpy-env=demo "$T/show.sh" > "$out/show" 2> "$out/show.err"
	ok "$who: srun --kpy-env=demo runs" test $? -eq 0
	job=$(val job "$out/show")
	scratch=$SCR/kpy-jobs/$job.$uid
	ok "$who: SLURM_TMPDIR is the per-job scratch" same "$(val tmpdir "$out/show")" "$scratch"
	ok "$who: scratch is mode 700" same "$(val mode "$out/show")" 700
	ok "$who: console script runs from the restored env" \
		same "$(val hello "$out/show")" "hello from hello $scratch/kpy/demo"
	ok "$who: sys.prefix is \$SLURM_TMPDIR/kpy/demo" same "$(val prefix "$out/show")" "$scratch/kpy/demo"
	ok "$who: VIRTUAL_ENV set" same "$(val venv "$out/show")" "$scratch/kpy/demo"
	ok "$who: the env's bin/ is first in PATH" same "$(val path1 "$out/show")" "$scratch/kpy/demo/bin"
	ok "$who: restored copy owned by $owner" same "$(val owner "$out/show")" "$owner:$(id -gn "$owner")"
	ok "$who: PIP_NO_INDEX=1" same "$(val PIP_NO_INDEX "$out/show")" 1
	ok "$who: PIP_FIND_LINKS is the wheelhouse" same "$(val PIP_FIND_LINKS "$out/show")" "$pipdir/wheels"
	ok "$who: UV_OFFLINE=1" same "$(val UV_OFFLINE "$out/show")" 1
	ok "$who: UV_FIND_LINKS is the wheelhouse" same "$(val UV_FIND_LINKS "$out/show")" "$pipdir/wheels"
	ok "$who: UV_PYTHON_DOWNLOADS=never" same "$(val UV_PYTHON_DOWNLOADS "$out/show")" never
	ok "$who: KPY_ENV exported to the job" same "$(val KPY_ENV "$out/show")" demo
	ok "$who: slurmd log shows the restore" same "$(log_count "$job" 'restored demo into')" 1
	diag "$who: $(grep -oE "\[$job\.0\] kpy: restored .*" "$CLUSTER_SLURMD_LOG")"
	ok "$who: scratch removed when the job ended" gone "$scratch"

	# KPY_ENV as a fallback; pip installs from the wheelhouse, offline
	$run env KPY_ENV=demo timeout 120 srun sh -c \
		'pip install -q extra && extra && echo "job=$SLURM_JOB_ID"' > "$out/pip" 2> "$out/pip.err"
	ok "$who: KPY_ENV=demo without the option; pip install finds the wheelhouse" \
		has "$out/pip" "hello from extra $SCR/kpy-jobs/"
	[ -s "$out/pip.err" ] && sed 's/^/#   /' "$out/pip.err"

	# one allocation: two concurrent sruns, then srun -n 2: a single restore
	$run timeout 120 salloc -n 2 --kpy-env=demo sh -c '
		echo "job=$SLURM_JOB_ID"
		srun -n 1 --overlap "$1" > "$2/c1" & srun -n 1 --overlap "$1" > "$2/c2" & wait
		srun -n 2 --overlap "$1"' _ "$T/show.sh" "$T/tmp-$who" > "$out/alloc" 2> "$out/alloc.err"
	ok "$who: salloc with two concurrent sruns and srun -n 2 succeeds" test $? -eq 0
	job=$(val job "$out/alloc")
	n=$(cat "$T/tmp-$who/c1" "$T/tmp-$who/c2" "$out/alloc" | grep -c "^hello=hello from hello $SCR/kpy-jobs/$job.$uid/kpy/demo$")
	ok "$who: all four tasks ran the console script" same "$n" 4
	ok "$who: srun -n 2 ran both tasks" same "$(grep -c '^task=' "$out/alloc")" 2
	ok "$who: restored once in the allocation" same "$(log_count "$job" 'restored demo into')" 1
	ok "$who: the other two steps found it restored" \
		same "$(log_count "$job" 'demo already restored')" 2
	ok "$who: allocation scratch removed" gone "$SCR/kpy-jobs/$job.$uid"

	# sbatch with #SBATCH --kpy-env, whose script calls srun (and srun --kpy-env=other)
	job=$($run timeout 120 sbatch -W --parsable -o "$out/batch.out" "$T/batch.sh" 2> "$out/batch.err")
	ok "$who: sbatch -W succeeds" test $? -eq 0 -a -n "$job"
	ok "$who: batch script runs the console script" \
		has "$out/batch.out" "batch=hello from hello $SCR/kpy-jobs/$job.$uid/kpy/demo"
	ok "$who: srun inside the batch job inherits the env" \
		has "$out/batch.out" "step=hello from hello $SCR/kpy-jobs/$job.$uid/kpy/demo"
	ok "$who: --kpy-env on the step wins over the batch job's" \
		has "$out/batch.out" "other=$SCR/kpy-jobs/$job.$uid/kpy/other"
	ok "$who: batch job restored demo once" same "$(log_count "$job" 'restored demo into')" 1
	ok "$who: its srun found demo restored" same "$(log_count "$job" 'demo already restored')" 1
	ok "$who: batch scratch removed" gone "$SCR/kpy-jobs/$job.$uid"

	# failures: non-zero exit, a message naming the env and what to do, node still idle
	ok "$who: missing env fails the step, naming it and listing the saved ones" \
		expect_fail 1 "environment 'nosuch'.*no saved environment named 'nosuch'.*saved: .*demo" \
		$run timeout 60 srun --kpy-env=nosuch true
	ok "$who: node idle after a missing env" node_idle
	ok "$who: damaged archive fails the step, naming the env and the damage" \
		expect_fail 1 "environment 'broken'.*damaged" $run timeout 60 srun --kpy-env=broken true
	ok "$who: node idle after a damaged archive" node_idle
	rm -f "$out/fail.out"
	$run timeout 60 sbatch -W -o "$out/fail.out" "$T/fail.sh" > /dev/null 2>&1
	ok "$who: sbatch with a missing env exits non-zero" test $? -ne 0
	ok "$who: the batch output names the env" has "$out/fail.out" "environment 'nosuch'"
	ok "$who: the batch script did not run" bash -c '! grep -q "the script ran" "$1"' _ "$out/fail.out"
	ok "$who: node idle (not drained) after a failed batch job" node_idle
	ok "$who: a bad name fails before the job is queued" \
		fails_any "kpy-env=../x" $run timeout 60 srun --kpy-env=../x true
	ok "$who: a bad KPY_ENV fails too" \
		fails_any "KPY_ENV=a/b" $run env KPY_ENV=a/b timeout 60 srun true
}

mkdir -p "$T/out-root" "$T/out-user" "$T/tmp-root" "$T/tmp-$TU"
chown "$TU:" "$T/out-user" "$T/tmp-$TU"
suite root as_root 0 "$RP" "$T/out-root"
suite "$TU" as_user "$TUID" "$UP" "$T/out-user"

# ---- symlinks: never followed, as root in the epilog or while making the scratch -----
as_user timeout 60 srun --kpy-env=demo sh -c '
	ln -s "$1" "$SLURM_TMPDIR/kpy/evil" && ln -s "$1" "$SLURM_TMPDIR/evil2" &&
	ln -s "$1/file" "$SLURM_TMPDIR/kpy/demo/evil3" && echo "job=$SLURM_JOB_ID"' _ "$T/victim" \
	> "$T/ln.out" 2>&1
job=$(val job "$T/ln.out")
ok "symlinks planted in the scratch by the job" test -n "$job"
ok "scratch with planted symlinks removed" gone "$SCR/kpy-jobs/$job.$TUID"
ok "the symlinks' targets are untouched" has "$T/victim/file" keep

# (squatting by another user: tests/slurm/scratch_squat.sh)

# ---- SLURM_TMPDIR from the site is used as is, and left alone -------------------------
mkdir -p "$T/site-tmp"
chown "$TU:" "$T/site-tmp"
as_user env SLURM_TMPDIR="$T/site-tmp" timeout 60 srun --kpy-env=demo "$T/show.sh" > "$T/site.out" 2>&1
ok "a job's own SLURM_TMPDIR is where the env goes" same "$(val venv "$T/site.out")" "$T/site-tmp/kpy/demo"
sleep 1
ok "and it is not removed at the end" test -d "$T/site-tmp/kpy/demo"

# ---- a job submitted from inside a job inherits the parent's plugin-made scratch ------
as_user env SLURM_TMPDIR="$SCR/kpy-jobs/999999.$TUID" timeout 60 srun --kpy-env=demo "$T/show.sh" > "$T/inh.out" 2>&1
inh_job=$(val job "$T/inh.out")
ok "an inherited kpy-jobs scratch of another job is replaced by this job's own" \
	same "$(val tmpdir "$T/inh.out")" "$SCR/kpy-jobs/$inh_job.$TUID"
ok "and the other job's path was not created" test ! -e "$SCR/kpy-jobs/999999.$TUID"

# ---- the base interpreter missing on the node; the scratch full ----------------------
mkdir -p "$T/py/bin"
cp "$(readlink -f "$KPY_TEST_PYTHON")" "$T/py/bin/python3"
"$T/py/bin/python3" -m venv --without-pip "$T/root-home/venvs/nopy" &&
	VIRTUAL_ENV=$T/root-home/venvs/nopy KPY_PIPDIR=$RP "$KPY" save nopy > /dev/null 2>&1
rm -rf "$T/py"
ok "a missing base interpreter fails the step, naming the env and the interpreter" \
	expect_fail 1 "environment 'nopy'.*$T/py/bin/python3.*(load|module)" \
	as_root timeout 60 srun --kpy-env=nopy true
ok "node idle after a missing interpreter" node_idle
mkdir -p "$T/tiny"
if mount -t tmpfs -o size=2m,mode=1777 kpytest-tiny "$T/tiny" 2> /dev/null; then
	at_exit "umount '$T/tiny'"
	cluster_plugstack tmpdir="$T/tiny"
	ok "a full scratch fails the step, naming the env and the lack of space" \
		expect_fail 1 "environment 'demo'.*(space|full)" as_root timeout 60 srun --kpy-env=demo true
	# the core's facts and the plugin's one remedy, not the command's and the plugin's
	ok "  ... with one remedy, the plugin's: more local disk" \
		expect_fail 1 "No space left on device: the job's scratch is full: ask for nodes with more local disk \(sbatch --tmp=SIZE\), or make the env smaller$" \
		as_root timeout 60 srun --kpy-env=demo true
	ok "  ... not the command's (raise the quota, try again)" bash -c '! grep -qE "quota|try again" "$1"' _ "$T/err"
	ok "  ... the remedy once" same "$(grep -o "more local disk" "$T/err" | wc -l)" 1
	ok "node idle after a full scratch" node_idle
	ok "nothing half-restored is left in the scratch" \
		bash -c '! ls -d "$1"/kpy-jobs/*/kpy/demo 2> /dev/null | grep -q .' _ "$T/tiny"
	cluster_plugstack tmpdir="$SCR"
else
	diag "cannot mount a small tmpfs: not testing a full scratch"
fi

# ---- plugstack.conf arguments --------------------------------------------------------
cluster_plugstack tmpdir="$SCR" pipdir="$RP" offline=no
env -u KPY_PIPDIR timeout 60 srun --kpy-env=demo "$T/show.sh" > "$T/ps.out" 2> "$T/ps.err"
ok "pipdir= is used without KPY_PIPDIR" has "$T/ps.out" "hello=hello from hello $SCR/kpy-jobs/"
ok "offline=no leaves PIP_NO_INDEX unset" same "$(val PIP_NO_INDEX "$T/ps.out")" ""
ok "offline=no leaves UV_OFFLINE unset" same "$(val UV_OFFLINE "$T/ps.out")" ""
cluster_plugstack tmpdir="$SCR" bogus=1
ok "an unknown plugstack argument fails srun, naming it" \
	expect_fail 1 "unknown argument 'bogus=1'" srun true
ok "as $TU too" expect_fail 1 "unknown argument 'bogus=1'" as_user srun true
cluster_plugstack tmpdir="$SCR" offline=maybe
ok "a malformed value fails, naming it" expect_fail 1 "'offline=maybe'" srun true
cluster_plugstack tmpdir=relative
ok "a relative tmpdir= fails, naming it" expect_fail 1 "'tmpdir=relative'" srun true
cluster_plugstack noequals
ok "an argument without = fails, naming it" expect_fail 1 "'noequals'" srun true
cluster_plugstack tmpdir="$SCR"
ok "with the good line back, jobs run" runs as_root timeout 60 srun --kpy-env=demo true
ok "node idle at the end" node_idle

done_testing
