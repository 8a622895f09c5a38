#!/bin/bash
# multinode.sh: the plugin on a real multi-node Slurm (mncluster.sh: KPY_MN_NODES nodes,
# default 4, each in its own namespaces with a private scratch, the pipdir shared), as
# the ordinary user: srun and sbcast reach every node; --kpy-env restores on every node,
# into that node's own scratch, once per job; batch jobs with srun steps; a node without
# the env's interpreter fails the step naming that node and drains nothing. For
# information: opens of the archive per job at 1, 2 and N nodes (with inotifywait) and
# the restore time per node from the slurmd logs.
. "$KPY_SRCDIR/tests/slurm/lib.sh"
for b in unshare nsenter ip sbcast mkfifo; do
	command -v "$b" > /dev/null || skip_all "$b not installed (Debian: util-linux iproute2 slurm-client)"
done
unshare -n -m -u true 2> /dev/null || skip_all "cannot make network, mount and UTS namespaces here"
ip link add "kmq$$" type bridge 2> /dev/null ||
	skip_all "cannot make a network bridge here (needs CAP_NET_ADMIN)"
ip link del "kmq$$"
. "$KPY_SRCDIR/tests/slurm/mncluster.sh"

N=${KPY_MN_NODES:-4}
[ "$N" -ge 2 ] || { echo "Bail out! KPY_MN_NODES must be at least 2"; exit 1; }
nodes=$(seq -f 'n%g' 1 "$N" | tr '\n' ' ')
nodes=${nodes% }
BAD=$((N > 2 ? 3 : 2))  # the node whose interpreter gets hidden
node_idle() { mncluster_wait_idle 10; }
# all_idle: every node idle, none drained or down, no Reason set
all_idle() {
	node_idle || return 1
	local s
	s=$(sinfo -h -N -o '%N %T %E' | sort -u | awk '$2 != "idle" || $3 != "none"')
	[ -z "$s" ] || { diag "not idle: $s"; return 1; }
}
# on_nodes FILE: the sorted distinct first words of FILE, space-separated
on_nodes() { awk '{print $1}' "$1" | sort -u | tr '\n' ' ' | sed 's/ $//'; }
# each_node COMMAND...: COMMAND succeeds in every node's namespaces
each_node() {
	local k
	for k in $(seq "$N"); do
		mnc_node "$k" "$@" || { diag "fails on n$k: $*"; return 1; }
	done
}
# wait_for FILE...: every FILE exists within 30 s
wait_for() {
	local f
	for _ in $(seq 300); do
		for f in "$@"; do [ -e "$f" ] || { sleep 0.1; continue 2; }; done
		return 0
	done
	for f in "$@"; do [ -e "$f" ] || diag "$f never appeared"; done
	return 1
}
# log_lines K JOB REGEX: lines of node K's slurmd log for JOB's steps matching REGEX
log_lines() { grep -cE "\[$2\.[^]]*\] kpy: $3" "$(mnc_log "$1")"; }

ok "save demo in the site pipdir" runs make_site_pipdir
BASEPY=$(tar --zstd -xOf "$P/venv_archives/demo.tar.zst" .kpy/manifest.ini 2> /dev/null |
	sed -n 's/^base_python *= *//p' | head -n 1)
diag "demo's base interpreter: ${BASEPY:-?}"
at_exit mncluster_stop
t0=$(date +%s%N)
if ! mncluster_start "$T/mn" "$N" tmpdir="$SCR" pipdir="$P"; then
	echo "Bail out! the $N-node Slurm did not start"
	tail -n 20 "$T"/mn/*.log "$T"/mn/*.out 2> /dev/null | sed 's/^/# /'
	exit 1
fi
diag "$N nodes idle in $((($(date +%s%N) - t0) / 1000000)) ms"
ok "sinfo lists the $N nodes, all idle" same "$(sinfo -h -N -o %N | sort -u | tr '\n' ' ' | sed 's/ $//')" "$(echo "$nodes" | tr ' ' '\n' | sort | tr '\n' ' ' | sed 's/ $//')"

# ---- srun and sbcast reach every node --------------------------------------------------
ok "$TU: srun -N $N hostname" runs as_user timeout 60 srun -N "$N" hostname
ok "  ... runs on $N distinct nodes, n1..n$N" same "$(on_nodes "$T/out")" "$(echo "$nodes" | tr ' ' '\n' | sort | tr '\n' ' ' | sed 's/ $//')"
ok "  ... each task's hostname is its SLURMD_NODENAME" runs as_user timeout 60 srun -N "$N" \
	bash -c '[ "$(hostname)" = "$SLURMD_NODENAME" ]'
ok "each node sees its own scratch, a tmpfs" each_node sh -c 'mount | grep -q "^kpy-scratch-$(hostname) on $1 type tmpfs"' _ "$SCR"

echo "broadcast $$" > "$UH/bcast.src"
chown "$TU:" "$UH/bcast.src"
ok "$TU: sbcast to node-local storage in a $N-node job" runs as_user timeout 60 \
	salloc -N "$N" bash -c 'sbcast -f "$1" "$2" && srun -N "$SLURM_NNODES" cat "$2"' _ \
	"$UH/bcast.src" "$SCR/bcast.txt"
ok "  ... every task read the copy" same "$(grep -c "^broadcast $$\$" "$T/out")" "$N"
ok "  ... the copy is on every node's private scratch" each_node cmp -s "$UH/bcast.src" "$SCR/bcast.txt"
ok "  ... owned by $TU" each_node sh -c '[ "$(stat -c %U "$1")" = "$2" ]' _ "$SCR/bcast.txt" "$TU"
ok "  ... and not on the host" test ! -e "$SCR/bcast.txt"

# ---- srun --kpy-env: restored on every node, into that node's scratch --------------------
# The step waits for $UH/go, so that every node's scratch can be looked at during the job.
cat > "$T/hold.sh" <<'EOF'
#!/bin/bash
python -c 'import hello, socket, sys; print(socket.gethostname(), sys.prefix, hello.__file__)' || exit 1
touch "$HOME/ready.$SLURMD_NODENAME"
while [ ! -e "$HOME/go" ]; do sleep 0.1; done
EOF
chmod 0755 "$T/hold.sh"
rm -f "$UH"/ready.* "$UH/go"
as_user timeout 120 srun -N "$N" --kpy-env=demo "$T/hold.sh" > "$T/hold.out" 2> "$T/hold.err" &
hold=$!
ok "srun -N $N --kpy-env=demo: python imports hello on every node" \
	wait_for $(for n in $nodes; do echo "$UH/ready.$n"; done)
job=$(last_job)
scr="$SCR/kpy-jobs/$job.$TUID"
ok "  ... every node has the env in its own scratch ($scr)" each_node test -x "$scr/kpy/demo/bin/python"
ok "  ... each node's scratch holds this job only" each_node sh -c '[ "$(ls "$1/kpy-jobs")" = "$2" ]' _ "$SCR" "$job.$TUID"
ok "  ... the host's scratch has none of it" test ! -e "$SCR/kpy-jobs"
touch "$UH/go"
wait "$hold"
ok "  ... the step succeeds" test $? -eq 0
sed 's/^/#   /' "$T/hold.err"
ok "  ... one task on each of the $N nodes" same "$(on_nodes "$T/hold.out")" "$(echo "$nodes" | tr ' ' '\n' | sort | tr '\n' ' ' | sed 's/ $//')"
ok "  ... each from the env in that node's scratch" \
	same "$(awk -v s="$scr/kpy/demo" '$2 == s && index($3, s "/lib/") == 1' "$T/hold.out" | wc -l)" "$N"
restored_once() {
	local k
	for k in $(seq "$N"); do
		[ "$(log_lines "$k" "$1" "restored demo into ")" = 1 ] ||
			{ diag "n$k: $(log_lines "$k" "$1" "restored demo into ") restores for job $1"; return 1; }
	done
}
ok "  ... each node's slurmd log says it restored demo once" restored_once "$job"
scratch_gone() {
	local k
	for k in $(seq "$N"); do
		for _ in $(seq 100); do
			mnc_node "$k" test -e "$1" || continue 2
			sleep 0.1
		done
		diag "n$k: $1 still exists"; return 1
	done
}
ok "  ... and the job's scratch is removed on every node after the job" scratch_gone "$scr"

# ---- batch jobs on N nodes ----------------------------------------------------------------
cat > "$T/steps.sh" <<'EOF'
#!/bin/bash
srun --kpy-env=demo python -c 'import hello, socket; print(socket.gethostname(), "step1")' || exit 1
srun --kpy-env=demo python -c 'import hello, socket; print(socket.gethostname(), "step2")' || exit 1
EOF
cat > "$T/batchenv.sh" <<'EOF'
#!/bin/bash
#SBATCH --kpy-env=demo
python -c 'import hello, socket; print(socket.gethostname(), "batch")' || exit 1
srun python -c 'import hello, socket; print(socket.gethostname(), "step")' || exit 1
EOF
chmod 0755 "$T/steps.sh" "$T/batchenv.sh"
bjob=$(as_user timeout 120 sbatch -W --parsable -N "$N" -o "$UH/steps.out" "$T/steps.sh" 2> "$T/steps.err")
ok "sbatch -N $N with two srun --kpy-env=demo steps succeeds" test $? -eq 0 -a -n "$bjob"
sed 's/^/#   /' "$T/steps.err"
ok "  ... both steps ran on every node" same "$(grep -c 'step[12]$' "$UH/steps.out"):$(on_nodes "$UH/steps.out")" \
	"$((2 * N)):$(echo "$nodes" | tr ' ' '\n' | sort | tr '\n' ' ' | sed 's/ $//')"
ok "  ... each node restored once for the job" restored_once "$bjob"
later_noop() {
	local k
	for k in $(seq "$N"); do
		[ "$(log_lines "$k" "$1" "demo already restored in ")" -ge 1 ] ||
			{ diag "n$k: no 'already restored' for job $1"; return 1; }
	done
}
ok "  ... and the second step found it already restored" later_noop "$bjob"

bjob=$(as_user timeout 120 sbatch -W --parsable -N "$N" -o "$UH/benv.out" "$T/batchenv.sh" 2> "$T/benv.err")
ok "sbatch -N $N with #SBATCH --kpy-env=demo and a plain srun step succeeds" test $? -eq 0 -a -n "$bjob"
sed 's/^/#   /' "$T/benv.err"
ok "  ... the batch script on n1, the step on every node" \
	same "$(grep -c ' batch$' "$UH/benv.out"):$(grep -c ' step$' "$UH/benv.out"):$(grep ' step$' "$UH/benv.out" | on_nodes /dev/stdin)" \
	"1:$N:$(echo "$nodes" | tr ' ' '\n' | sort | tr '\n' ' ' | sed 's/ $//')"
ok "  ... each node restored once for the job" restored_once "$bjob"
ok "all nodes idle" all_idle

# ---- a node without the env's interpreter --------------------------------------------------
: > "$T/nopython"
chmod 0644 "$T/nopython"
hide() { mnc_node "$1" mount --bind "$T/nopython" "$BASEPY"; }
unhide() { mnc_node "$1" umount "$BASEPY"; }
ok "hide $BASEPY on n$BAD with a bind mount" hide "$BAD"
ok "  ... only there" runs test -x "$BASEPY"
bad_step() {
	expect_fail 1 "cannot restore environment 'demo' on n$BAD: .*Python interpreter" "$@" || return 1
	grep -E "cannot restore" "$T/err" | grep -vq "on n$BAD:" &&
		{ diag "another node named:"; sed 's/^/#   /' "$T/err"; return 1; }
	return 0
}
ok "srun -N $N --kpy-env=demo fails, naming n$BAD" bad_step as_user timeout 60 srun -N "$N" --kpy-env=demo true
sed 's/^/#   /' "$T/err"
ok "  ... and no node is drained" all_idle
bjob=$(as_user timeout 120 sbatch -W --parsable -N "$N" -o "$UH/bad.out" "$T/steps.sh" 2> /dev/null)
ok "sbatch -N $N with srun --kpy-env=demo steps fails" test $? -ne 0 -a -n "$bjob"
ok "  ... its output has n$BAD's error (Slurm's slurmstepd-n$BAD prefix)" \
	grep -q "^slurmstepd-n$BAD: error: kpy: cannot restore environment 'demo' on " "$UH/bad.out"
# not SLURMD_NODENAME of the job's environment: a step inside a batch job inherits the
# batch node's (n1) there
ok "  ... and kpy's message names n$BAD, not the batch node" grep -q "cannot restore environment 'demo' on n$BAD: " "$UH/bad.out"
grep "kpy: cannot restore" "$UH/bad.out" | cut -c 1-80 | sed 's/^/#   /'
ok "  ... and no node is drained" all_idle
ok "unhide it on n$BAD" unhide "$BAD"
ok "hide it on n1, where batch scripts run" hide 1
bjob=$(as_user timeout 120 sbatch -W --parsable -N "$N" -o "$UH/bad1.out" "$T/batchenv.sh" 2> /dev/null)
ok "sbatch -N $N --kpy-env=demo fails when the batch node lacks it" test $? -ne 0 -a -n "$bjob"
ok "  ... its output names n1" grep -q "cannot restore environment 'demo' on n1: " "$UH/bad1.out"
sed 's/^/#   /' "$UH/bad1.out"
ok "  ... and no node is drained" all_idle
ok "unhide it on n1" unhide 1
ok "with it back, srun -N $N --kpy-env=demo works again" runs as_user timeout 60 \
	srun -N "$N" --kpy-env=demo python -c 'import hello'

# ---- for information: archive opens per job, restore time per node --------------------------
# restore_ms JOB: "nK=MS" for each node that restored demo for JOB (its slurmd log)
restore_ms() {
	local k ms out=
	for k in $(seq "$N"); do
		ms=$(sed -n "s/.*\[$1\.[^]]*\] kpy: restored demo into .* in \([0-9]*\) ms\$/\1/p" "$(mnc_log "$k")")
		[ -n "$ms" ] && out="$out n$k=${ms}ms"
	done
	echo "${out# }"
}
# Opens are counted with strace on every slurmd (-f: slurmstepd and the restore child
# too) and on srun; inotify would merge the simultaneous opens of several nodes.
count_opens() { cat "$@" 2> /dev/null | grep -F "\"$P/venv_archives/demo.tar.zst\"" | grep -vc '= -1 '; }
for n in $(printf '%s\n' 1 2 "$N" | sort -nu); do
	as_user timeout 60 srun -N "$n" --kpy-env=demo true > /dev/null 2>&1
	diag "a $n-node srun --kpy-env=demo (job $(last_job)): restores: $(restore_ms "$(last_job)")"
	tracers=
	if command -v strace > /dev/null; then
		for k in $(seq "$n"); do
			strace -f -e trace=open,openat -o "$T/st.$n.n$k" -p "$(mnc_pid "$k")" 2> "$T/st.$n.n$k.err" &
			tracers="$tracers $!"
			for _ in $(seq 100); do
				grep -q attached "$T/st.$n.n$k.err" && break
				sleep 0.05
			done
		done
		as_user strace -f -e trace=open,openat -o "$UH/st.$n.srun" \
			timeout 60 srun -N "$n" --kpy-env=demo true > /dev/null 2>&1
	else
		as_user timeout 60 srun -N "$n" --kpy-env=demo true > /dev/null 2>&1
	fi
	job=$(last_job)
	opens="? (strace not installed)"
	if [ -n "$tracers" ]; then
		sleep 0.5
		kill $tracers 2> /dev/null; wait $tracers 2> /dev/null
		opens="$(count_opens "$T"/st.$n.n*[0-9]) on the nodes ($(for k in $(seq "$n"); do
			printf 'n%s=%s ' "$k" "$(count_opens "$T/st.$n.n$k")"; done | sed 's/ $//')), $(count_opens "$UH/st.$n.srun") by srun"
	fi
	diag "a $n-node srun --kpy-env=demo (job $job, traced): archive opens: $opens"
done
ok "all nodes idle at the end" all_idle

done_testing
