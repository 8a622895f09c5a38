#!/bin/bash
# bcast.sh: the fan-out on a real multi-node Slurm (mncluster.sh, KPY_MN_NODES nodes,
# default 4), as the ordinary user: with it the archive in the pipdir is opened once
# per job (by srun, or by the batch step), sbcast puts a copy on every node's local
# scratch and each node restores from it; without it every node opens the shared copy.
# --kpy-bcast=yes|no|auto, KPY_BCAST and plugstack.conf bcast_min_nodes= are honoured;
# a failed sbcast, and a missing or damaged copy on one node, fall back to the shared
# copy and the job succeeds; sbatch with srun steps broadcasts once; the copies are
# gone after the job; an env of the site store (site_pipdir=, read-only) fans out
# alike. Opens are counted with strace on every slurmd (-f: slurmstepd,
# the restore child, a batch script's sruns) and on srun. For information: the
# opens per job at 1, 2 and N nodes with and without the fan-out, and the restore
# time per node.
. "$KPY_SRCDIR/tests/slurm/lib.sh"
for b in unshare nsenter ip sbcast mkfifo strace; do
	command -v "$b" > /dev/null || skip_all "$b not installed (Debian: util-linux iproute2 slurm-client strace)"
done
unshare -n -m -u true 2> /dev/null || skip_all "cannot make network, mount and UTS namespaces here"
ip link add "kmq$$" type bridge 2> /dev/null ||
	skip_all "cannot make a network bridge here (needs CAP_NET_ADMIN)"
ip link del "kmq$$"
. "$KPY_SRCDIR/tests/slurm/mncluster.sh"

N=${KPY_MN_NODES:-4}
[ "$N" -ge 4 ] || { echo "Bail out! KPY_MN_NODES must be at least 4"; exit 1; }
A=$P/venv_archives/demo.tar.zst
SBCAST=$(command -v sbcast)

ok "save demo in the site pipdir" runs make_site_pipdir
at_exit mncluster_stop
t0=$(date +%s%N)
if ! mncluster_start "$T/mn" "$N" tmpdir="$SCR" pipdir="$P"; then
	echo "Bail out! the $N-node Slurm did not start"
	tail -n 20 "$T"/mn/*.log "$T"/mn/*.out 2> /dev/null | sed 's/^/# /'
	exit 1
fi
diag "demo.tar.zst: $(stat -c %s "$A") bytes"
diag "$N nodes idle in $((($(date +%s%N) - t0) / 1000000)) ms"

each_node() {
	local k
	for k in $(seq "$N"); do
		mnc_node "$k" "$@" || { diag "fails on n$k: $*"; return 1; }
	done
}
ok "every node has $SCR/kpy-bcast, root's, mode 1733 (slurmd made it)" \
	each_node sh -c '[ "$(stat -c %U:%a "$1/kpy-bcast")" = root:1733 ]' _ "$SCR"

# ---- counting opens of the archive -------------------------------------------------------
TRACERS=
trace_start() {
	local k
	TRACERS=
	rm -f "$T"/st.n* "$UH/st.cmd"
	for k in $(seq "$N"); do
		strace -f -e trace=open,openat -o "$T/st.n$k" -p "$(mnc_pid "$k")" 2> "$T/st.n$k.err" &
		TRACERS="$TRACERS $!"
		for _ in $(seq 100); do
			grep -q attached "$T/st.n$k.err" && break
			sleep 0.05
		done
	done
}
trace_stop() {
	sleep 0.3
	# shellcheck disable=SC2086
	kill $TRACERS 2> /dev/null; wait $TRACERS 2> /dev/null
	TRACERS=
}
count_opens() { cat "$@" 2> /dev/null | grep -F "\"$A\"" | grep -vc '= -1 '; }
# traced COMMAND...: run COMMAND as the user (its output in $T/out, $T/err) with every
# slurmd and COMMAND itself traced; sets RC, NODE_OPENS, CMD_OPENS, JOB, OPENS
traced() {
	trace_start
	as_user strace -f -e trace=open,openat -o "$UH/st.cmd" "$@" > "$T/out" 2> "$T/err"
	RC=$?
	trace_stop
	JOB=$(last_job)
	NODE_OPENS=$(count_opens "$T"/st.n[0-9]*)
	CMD_OPENS=$(count_opens "$UH/st.cmd")
	PER_NODE=$(for k in $(seq "$N"); do printf 'n%s=%s ' "$k" "$(count_opens "$T/st.n$k")"; done)
	OPENS="$CMD_OPENS by the command, $NODE_OPENS on the nodes (${PER_NODE% })"
	[ "$RC" -eq 0 ] || { diag "exit $RC: $*"; sed 's/^/#   /' "$T/err"; }
}
# opens_are CMD NODES: the last traced job opened the archive CMD times in the command
# and NODES times on the nodes, and succeeded
opens_are() {
	same "$RC:$CMD_OPENS:$NODE_OPENS" "0:$1:$2" || { diag "opens: $OPENS"; return 1; }
}
# untraced COMMAND...: the same without strace (faster); sets RC and JOB
untraced() {
	as_user "$@" > "$T/out" 2> "$T/err"
	RC=$?
	JOB=$(last_job)
	[ "$RC" -eq 0 ] || { diag "exit $RC: $*"; sed 's/^/#   /' "$T/err"; }
}
# shared_reads K...: the last job succeeded, and nodes K each restored demo once, from
# the shared archive, not from a copy (where strace counted, that is one open each)
shared_reads() {
	local k
	[ "$RC" -eq 0 ] || return 1
	for k in "$@"; do
		same "n$k:$(log_lines "$k" "$JOB" "restored demo into "):$(log_lines "$k" "$JOB" "from the broadcast copy")" "n$k:1:0" || return 1
	done
}
log_lines() { grep -cE "\[$2\.[^]]*\] kpy: $3" "$(mnc_log "$1")"; }
# from_copy JOB K...: nodes K restored demo for JOB from their broadcast copy
from_copy() {
	local job=$1 k; shift
	for k in "$@"; do
		[ "$(log_lines "$k" "$job" "restored demo into .* from the broadcast copy in ")" = 1 ] ||
			{ diag "n$k did not restore job $job from its copy:"; grep -E "\[$job\." "$(mnc_log "$k")" | grep kpy | sed 's/^/#   /'; return 1; }
	done
}
# restore_ms JOB: "nK=MS" for each node that restored demo for JOB
restore_ms() {
	local k ms out=
	for k in $(seq "$N"); do
		ms=$(sed -n "s/.*\[$1\.[^]]*\] kpy: restored demo into .* in \([0-9]*\) ms\$/\1/p" "$(mnc_log "$k")" | head -n 1)
		[ -n "$ms" ] && out="$out n$k=${ms}ms"
	done
	echo "${out# }"
}
# no_copies JOB: no node has a broadcast copy of JOB left (the epilog removed them)
no_copies() {
	local k
	for k in $(seq "$N"); do
		for _ in $(seq 100); do
			[ -z "$(mnc_node "$k" find "$SCR/kpy-bcast" -name "$1.$TUID.*")" ] && continue 2
			sleep 0.1
		done
		diag "n$k still has: $(mnc_node "$k" ls "$SCR/kpy-bcast")"; return 1
	done
}
all_idle() {
	mncluster_wait_idle 10 || return 1
	local s
	s=$(sinfo -h -N -o '%N %T %E' | sort -u | awk '$2 != "idle" || $3 != "none"')
	[ -z "$s" ] || { diag "not idle: $s"; return 1; }
}
PY='import hello, socket; print(socket.gethostname(), hello.__file__)'

# ---- srun -N N: auto broadcasts, once ------------------------------------------------------
traced timeout 60 srun -N "$N" --kpy-env=demo python -c "$PY"
ok "srun -N $N --kpy-env=demo (auto, bcast_min_nodes=4): the archive is opened once, by srun" opens_are 1 0
diag "srun -N $N auto (job $JOB): archive opens: $OPENS"
ok "  ... python imports hello on all $N nodes" same "$(awk '{print $1}' "$T/out" | sort -u | wc -l)" "$N"
ok "  ... every node restored from its broadcast copy" from_copy "$JOB" $(seq "$N")
ok "  ... and the copies are gone after the job" no_copies "$JOB"
diag "srun -N $N auto: restore per node: $(restore_ms "$JOB")"

traced timeout 60 srun -N "$N" --kpy-bcast=no --kpy-env=demo python -c "$PY"
ok "srun -N $N --kpy-bcast=no: each node opens the shared archive" opens_are 0 "$N"
diag "srun -N $N --kpy-bcast=no (job $JOB): archive opens: $OPENS"
ok "  ... no node used a copy" same "$(for k in $(seq "$N"); do log_lines "$k" "$JOB" "from the broadcast copy"; done | sort -u)" 0
untraced env KPY_BCAST=no timeout 60 srun -N "$N" --kpy-env=demo true
ok "KPY_BCAST=no does the same" shared_reads $(seq "$N")

untraced timeout 60 srun -N 2 -w n1,n2 --kpy-env=demo true
ok "srun -N 2 (auto, under bcast_min_nodes): each node reads the shared copy" shared_reads 1 2
traced timeout 60 srun -N 2 -w n1,n2 --kpy-bcast=yes --kpy-env=demo true
ok "srun -N 2 --kpy-bcast=yes: opened once, by srun" opens_are 1 0
diag "srun -N 2 --kpy-bcast=yes (job $JOB): archive opens: $OPENS"
ok "  ... both nodes restored from their copies" from_copy "$JOB" 1 2

ok "srun --kpy-bcast=maybe fails, saying what is allowed" expect_fail 1 \
	"kpy: --kpy-bcast=maybe: the value must be yes, no or auto" as_user timeout 60 srun -N 1 --kpy-bcast=maybe --kpy-env=demo true

ok "sbatch --kpy-bcast=maybe is refused before the job is queued" expect_fail 1 \
	"kpy: --kpy-bcast=maybe: the value must be yes, no or auto" as_user timeout 60 sbatch -N 1 --kpy-bcast=maybe --wrap true

# ---- plugstack.conf bcast_min_nodes= --------------------------------------------------------
mnc_plugstack tmpdir="$SCR" pipdir="$P" bcast_min_nodes=2
untraced timeout 60 srun -N 2 -w n1,n2 --kpy-env=demo true
ok "bcast_min_nodes=2: srun -N 2 broadcasts" from_copy "$JOB" 1 2
mnc_plugstack tmpdir="$SCR" pipdir="$P" bcast_min_nodes=0
untraced timeout 60 srun -N "$N" --kpy-env=demo true
ok "bcast_min_nodes=0: srun -N $N does not" shared_reads $(seq "$N")
mnc_plugstack tmpdir="$SCR" pipdir="$P" bcast_min_nodes=many
ok "bcast_min_nodes=many: srun fails, naming the argument" expect_fail 1 \
	"plugstack.conf: 'bcast_min_nodes=many': the value must be a number of nodes" \
	as_user timeout 60 srun -N 1 true
mnc_plugstack tmpdir="$SCR" pipdir="$P"

# ---- a failed sbcast, a missing and a damaged copy -------------------------------------------
mkdir -p "$UH/bin"
printf '#!/bin/sh\necho "sbcast: error: this one fails" >&2\nexit 1\n' > "$UH/bin/sbcast"
chmod 0755 "$UH/bin/sbcast"
chown -R "$TU:" "$UH/bin"
untraced env PATH="$UH/bin:$PATH" timeout 60 srun -N "$N" --kpy-env=demo python -c "$PY"
ok "sbcast fails: the job still succeeds, each node reads the shared copy" shared_reads $(seq "$N")
ok "  ... and srun says why" grep -q "kpy: cannot broadcast environment 'demo' to the job's nodes: sbcast exited with status 1: sbcast: error: this one fails; nodes without a sound copy read the shared one instead" "$T/err"

# the real sbcast, then a pause while the test damages n3's copy and removes n2's
cat > "$UH/bin/sbcast" <<SH
#!/bin/sh
"$SBCAST" "\$@" || exit \$?
touch "\$HOME/sbcast.done"
while [ ! -e "\$HOME/sbcast.go" ]; do sleep 0.1; done
SH
rm -f "$UH/sbcast.done" "$UH/sbcast.go"
trace_start
as_user env PATH="$UH/bin:$PATH" strace -f -e trace=open,openat -o "$UH/st.cmd" \
	timeout 60 srun -N "$N" --kpy-env=demo python -c "$PY" > "$T/dmg.out" 2> "$T/dmg.err" &
srun_pid=$!
for _ in $(seq 300); do [ -e "$UH/sbcast.done" ] && break; sleep 0.1; done
JOB=$(last_job)
damage() {
	local f3 f2
	f3=$(mnc_node 3 find "$SCR/kpy-bcast" -name "$JOB.$TUID.*") && [ -n "$f3" ] || return 1
	f2=$(mnc_node 2 find "$SCR/kpy-bcast" -name "$JOB.$TUID.*") && [ -n "$f2" ] || return 1
	mnc_node 3 dd if=/dev/urandom of="$f3" bs=16 count=1 seek=100 conv=notrunc status=none &&
	mnc_node 2 rm -f "$f2"
}
ok "the copies arrived; damage n3's, remove n2's" damage
touch "$UH/sbcast.go"
wait "$srun_pid"; RC=$?
trace_stop
NODE_OPENS=$(count_opens "$T"/st.n[0-9]*); CMD_OPENS=$(count_opens "$UH/st.cmd")
ok "  ... the job succeeds; srun, n2 and n3 opened the shared archive" opens_are 1 2
ok "  ... python imports hello on all $N nodes" same "$(awk '{print $1}' "$T/dmg.out" | sort -u | wc -l)" "$N"
ok "  ... n3's log says its copy's checksum is wrong" \
	same "$(log_lines 3 "$JOB" "not using the broadcast copy of demo: the copy .* has checksum [0-9a-f]*, the original [0-9a-f]*; restoring from the shared copy")" 1
ok "  ... n2, without a copy, restored from the shared one" \
	same "$(log_lines 2 "$JOB" "restored demo into .* from the broadcast copy"):$(log_lines 2 "$JOB" "restored demo into ")" 0:1
ok "  ... n1 and n4 used theirs" from_copy "$JOB" 1 4
rm -f "$UH/bin/sbcast"

# ---- another user squats a node's kpy-bcast --------------------------------------------------
squat() {
	mnc_node 2 sh -c 'rm -rf "$1/kpy-bcast" && mkdir -m 0755 "$1/kpy-bcast" && chown "$2:" "$1/kpy-bcast"' \
		_ "$SCR" "$TU2"
}
ok "$TU2 made n2's $SCR/kpy-bcast, a directory of theirs" squat
untraced timeout 60 srun -N "$N" --kpy-env=demo python -c "$PY"
squat_outcome() { shared_reads 2 && from_copy "$JOB" 1 3 4; }
ok "  ... srun -N $N succeeds: n2 reads the shared copy, the others their copies" squat_outcome
ok "  ... n2's restore moved the squatter's directory aside, saying so" \
	same "$(log_lines 2 "$JOB" "$SCR/kpy-bcast was not root's: moved aside to kpy-bcast.squatted")" 1
ok "  ... n2's kpy-bcast is root's, mode 1733, again; the squatter's is kept aside" \
	mnc_node 2 sh -c '[ "$(stat -c %U:%a "$1/kpy-bcast")" = root:1733 ] && [ "$(stat -c %U "$1"/kpy-bcast.squatted.*)" = "$2" ]' _ "$SCR" "$TU2"
untraced timeout 60 srun -N "$N" --kpy-env=demo true
ok "  ... and the next job uses n2's copy again" from_copy "$JOB" 1 2 3 4

# ---- batch jobs -------------------------------------------------------------------------------
cat > "$T/steps.sh" <<'SH'
#!/bin/bash
srun --kpy-env=demo python -c 'import hello, socket; print(socket.gethostname(), "step1")' || exit 1
srun --kpy-env=demo python -c 'import hello, socket; print(socket.gethostname(), "step2")' || exit 1
SH
cat > "$T/batchenv.sh" <<'SH'
#!/bin/bash
#SBATCH --kpy-env=demo
python -c 'import hello, socket; print(socket.gethostname(), "batch")' || exit 1
srun python -c 'import hello, socket; print(socket.gethostname(), "step")' || exit 1
srun python -c 'import hello, socket; print(socket.gethostname(), "step")' || exit 1
SH
chmod 0755 "$T/steps.sh" "$T/batchenv.sh"
traced timeout 120 sbatch -W -N "$N" -o "$UH/steps.out" "$T/steps.sh"
ok "sbatch -N $N with two srun --kpy-env=demo steps: the archive is opened once" opens_are 0 1
ok "  ... both steps ran on every node" same "$(grep -c 'step[12]$' "$UH/steps.out")" "$((2 * N))"
ok "  ... every node restored from its copy" from_copy "$JOB" $(seq "$N")
ok "  ... and the copies are gone after the job" no_copies "$JOB"
diag "sbatch -N $N, srun steps: restore per node: $(restore_ms "$JOB")"

traced timeout 120 sbatch -W -N "$N" -o "$UH/benv.out" "$T/batchenv.sh"
ok "sbatch -N $N with #SBATCH --kpy-env=demo and two plain srun steps: opened once (the batch step)" opens_are 0 1
ok "  ... the script on n1, the steps on every node" \
	same "$(grep -c ' batch$' "$UH/benv.out"):$(grep -c ' step$' "$UH/benv.out")" "1:$((2 * N))"
ok "  ... every node restored from its copy" from_copy "$JOB" $(seq "$N")
ok "  ... and the copies are gone after the job" no_copies "$JOB"
diag "sbatch -N $N #SBATCH --kpy-env: restore per node: $(restore_ms "$JOB")"

untraced timeout 120 sbatch -W -N "$N" --kpy-bcast=no -o "$UH/benv.out" "$T/batchenv.sh"
ok "sbatch -N $N --kpy-bcast=no: each node reads the shared copy" shared_reads $(seq "$N")

# ---- a hanging sbcast in a batch step: stopped at restore_timeout, the job goes on -----------
printf '#!/bin/sh\nsleep 60\n' > "$UH/bin/sbcast"
chmod 0755 "$UH/bin/sbcast"
chown -R "$TU:" "$UH/bin"
mnc_plugstack tmpdir="$SCR" pipdir="$P" restore_timeout=4
untraced env PATH="$UH/bin:$PATH" timeout 120 sbatch -W -N "$N" --kpy-bcast=yes -o "$UH/slow.out" "$T/batchenv.sh"
ok "a batch step whose sbcast hangs past restore_timeout=4: the job succeeds, every node reads the shared copy" \
	shared_reads $(seq "$N")
ok "  ... and n1's log says the broadcast was stopped" \
	same "$(log_lines 1 "$JOB" "cannot broadcast environment 'demo' to the job's nodes: sbcast took longer than 4 seconds and was stopped")" 1
mnc_plugstack tmpdir="$SCR" pipdir="$P"
rm -f "$UH/bin/sbcast"

# ---- the site store on every node ------------------------------------------------------------
# an admin's read-only store (root's, 0755) holding only "blessed"; the user's pipdir has none
SITE=$T/site
site_store() {
	rm -rf "$SITE" && mkdir -p "$SITE" &&
	env VIRTUAL_ENV="$T/venvs/demo" KPY_PIPDIR="$SITE" "$KPY" save blessed > /dev/null &&
	chmod -R go-w,a+rX "$SITE" && [ "$(stat -c %U:%a "$SITE")" = root:755 ]
}
ok "a site store of root's, mode 0755, with the env blessed" site_store
mnc_plugstack tmpdir="$SCR" pipdir="$P" site_pipdir="$SITE"
before=$(find "$SITE" -printf '%p %s %T@ %C@\n' | sort)
count_site() { cat "$@" 2> /dev/null | grep -F "\"$SITE/venv_archives/blessed.tar.zst\"" | grep -vc '= -1 '; }
trace_start
as_user strace -f -e trace=open,openat -o "$UH/st.cmd" timeout 60 srun -N "$N" --kpy-env=site:blessed \
	python -c 'import hello, socket; print(socket.gethostname())' > "$T/out" 2> "$T/err"
RC=$?
trace_stop
JOB=$(last_job)
ok "srun -N $N --kpy-env=site:blessed: runs on every node" same "$RC:$(sort -u "$T/out" | wc -l)" "0:$N"
ok "  ... the site archive is opened once per job (by srun's fan-out), not on the nodes" \
	same "$(count_site "$UH/st.cmd"):$(count_site "$T"/st.n[0-9]*)" 1:0
ok "  ... every node restored it from its broadcast copy" \
	same "$(for k in $(seq "$N"); do log_lines "$k" "$JOB" "restored site:blessed into .* from the broadcast copy"; done | sort -u)" 1
untraced timeout 60 srun -N "$N" --kpy-bcast=no --kpy-env=blessed true
ok "srun -N $N --kpy-bcast=no --kpy-env=blessed (only in the site store): every node restores it" \
	same "$(for k in $(seq "$N"); do log_lines "$k" "$JOB" "restored blessed into "; done | sort -u)" 1
ok "  ... and nothing in the site store changed" same "$(find "$SITE" -printf '%p %s %T@ %C@\n' | sort)" "$before"
mnc_plugstack tmpdir="$SCR" pipdir="$P"

# ---- for information: opens per job (traced) and restore time per node (untraced) -------------
for m in no yes; do
	traced timeout 60 srun -N 1 --kpy-bcast=$m --kpy-env=demo true
	ok "srun -N 1 --kpy-bcast=$m: one open" same "$RC:$((CMD_OPENS + NODE_OPENS))" 0:1
	diag "srun -N 1 --kpy-bcast=$m (job $JOB): archive opens: $OPENS"
done
for n in $(printf '%s\n' 1 2 "$N" | sort -nu); do
	for m in no yes; do
		s0=$(date +%s%N)
		as_user timeout 60 srun -N "$n" --kpy-bcast=$m --kpy-env=demo true > /dev/null 2>&1
		s1=$(date +%s%N)
		diag "srun -N $n --kpy-bcast=$m (job $(last_job), not traced): srun took $(((s1 - s0) / 1000000)) ms; restores: $(restore_ms "$(last_job)")"
	done
done
ok "all nodes idle, none drained" all_idle

done_testing
