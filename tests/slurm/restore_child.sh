#!/bin/bash
# restore_child.sh: the restore child of slurmstepd, caught while it reads an archive
# from a FIFO: only its own few descriptors, oom_score_adj 0, the job user's identity,
# not dumpable, default signals, its memory bounded; a restore_timeout stops a stalled
# restore with a clear message and no half-restored env.
. "$KPY_SRCDIR/tests/slurm/lib.sh"

ok "save demo in the site pipdir" runs make_site_pipdir
FIFO=$P/venv_archives/slow.tar.zst
mkfifo -m 0644 "$FIFO"
slurm_start tmpdir="$SCR" pipdir="$P"
# slurmstepd (forked by slurmd) inherits slurmd's oom_score_adj; real sites protect it
# with -1000, which needs CAP_SYS_RESOURCE (not in every test container): any value other
# than 0 shows whether the restore child inherits it
echo 500 > "/proc/${CLUSTER_PIDS##* }/oom_score_adj"

# holders PATH: pids with PATH open
holders() {
	local f
	for f in /proc/[0-9]*/fd/*; do
		[ "$(readlink "$f" 2> /dev/null)" = "$1" ] && { f=${f#/proc/}; echo "${f%%/*}"; }
	done | sort -u
}
# the writer opens the FIFO, waits for $T/go, then sends the whole archive
rm -f "$T/go"
( exec 7> "$FIFO"; while [ ! -e "$T/go" ]; do sleep 0.1; done
  cat "$P/venv_archives/demo.tar.zst" >&7 ) &
writer=$!
as_user timeout 120 srun --kpy-env=slow sh -c 'python -c "import hello, sys; print(sys.prefix)"' \
	> "$T/slow.out" 2> "$T/slow.err" &
srun_pid=$!
child=
for _ in $(seq 300); do
	for p in $(holders "$FIFO"); do
		[ "$(cat "/proc/$p/comm" 2> /dev/null)" = slurmstepd ] && child=$p
	done
	[ -n "$child" ] && break
	sleep 0.1
done
ok "the restore child is reading the archive" test -n "$child"
if [ -n "$child" ]; then
	fds=$(for f in /proc/"$child"/fd/*; do echo "${f##*/} $(readlink "$f")"; done)
	diag "descriptors of the restore child $child:"
	echo "$fds" | sed 's/^/#   /'
	ok "stdin, stdout and stderr are /dev/null" \
		same "$(echo "$fds" | awk '$1 <= 2 { print $2 }' | sort -u)" /dev/null
	ok "besides, only the reply pipe, the env's lock file and the archive" \
		same "$(echo "$fds" | awk '$1 > 2 { print $2 }' | sed 's|.*/\.slow\.lock$|LOCK|; s|^pipe:.*|PIPE|' | sort)" \
		"$(printf '%s\n' LOCK PIPE "$FIFO" | sort)"
	ok "no socket and not the slurmd log" bash -c '! echo "$1" | grep -Eq "socket:|slurmd.log"' _ "$fds"
	parent=$(awk '/^PPid:/ { print $2 }' "/proc/$child/status")
	ok "slurmstepd itself has oom_score_adj 500 (the premise)" same "$(cat "/proc/$parent/oom_score_adj")" 500
	ok "the child has oom_score_adj 0" same "$(cat "/proc/$child/oom_score_adj")" 0
	ok "it runs as $TU (real, effective, saved, fs)" \
		same "$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "/proc/$child/status")" "$TUID $TUID $TUID $TUID"
	ok "it is not dumpable (its /proc files stay root's)" same "$(stat -c %u "/proc/$child/environ")" 0
	ok "no signal blocked" same "$(awk '/^SigBlk:/ { print $2 }' "/proc/$child/status")" 0000000000000000
	# glibc's own handlers for signals 32 and 33 (thread cancel, setxid) cannot be reset
	cgt=$(awk '/^SigCgt:/ { print $2 }' "/proc/$child/status")
	ok "no signal handler of slurmstepd's" same "$(( 16#$cgt & ~0x300000000 ))" 0
	ok "its address space is bounded (restore_memory, 4 GiB by default)" \
		same "$(awk '/^Max address space/ { print $4 }' "/proc/$child/limits")" 4294967296
fi
touch "$T/go"
wait "$srun_pid"
ok "with the archive sent, the step runs in the restored env" test $? -eq 0
ok "python imports hello from it" has "$T/slow.out" "$SCR/kpy-jobs/"
wait "$writer"

# a stalled restore: half an archive, then nothing until long after restore_timeout
cluster_plugstack tmpdir="$SCR" pipdir="$P" restore_timeout=2
size=$(stat -c %s "$P/venv_archives/demo.tar.zst")
( exec 7> "$FIFO"; head -c $((size / 2)) "$P/venv_archives/demo.tar.zst" >&7; sleep 30 ) &
writer=$!
rm -f "$UH/stalled-done" "$UH/checked"
as_user timeout 120 salloc -n 1 sh -c '
	echo "job=$SLURM_JOB_ID"
	srun --kpy-env=slow true 2> "$1/stalled.err"; echo "stalled=$?"
	touch "$1/stalled-done"
	while [ ! -e "$1/checked" ]; do sleep 0.1; done' _ "$UH" > "$T/alloc.out" 2> "$T/alloc.err" &
salloc_pid=$!
for _ in $(seq 600); do [ -e "$UH/stalled-done" ] && break; sleep 0.1; done
job=$(val job "$T/alloc.out")
ls -a "$SCR/kpy-jobs/$job.$TUID/kpy" > "$T/kpy.ls" 2>&1
touch "$UH/checked"
wait "$salloc_pid"
kill "$writer" 2> /dev/null; wait "$writer" 2> /dev/null
sed 's/^/#   /' "$UH/stalled.err"
diag "the job's kpy directory after the stalled restore: $(tr '\n' ' ' < "$T/kpy.ls")"
ok "the stalled restore fails the step" grep -qx "stalled=1" "$T/alloc.out"
ok "the message names the env, the timeout and restore_timeout" \
	grep -Eq "environment 'slow' took longer than 2 seconds.*restore_timeout=2" "$UH/stalled.err"
ok "the restore had begun (its temporary directory is there)" grep -q '^\.slow\.kpy-' "$T/kpy.ls"
ok "no env named slow is left in the job's scratch" bash -c '! grep -qx slow "$1"' _ "$T/kpy.ls"
ok "node idle at the end" node_idle

cluster_plugstack tmpdir="$SCR" pipdir="$P" restore_memory=3G restore_timeout=60
ok "restore_memory=3G and restore_timeout=60 are accepted" runs as_user timeout 60 srun --kpy-env=demo true
cluster_plugstack tmpdir="$SCR" restore_timeout=0
ok "restore_timeout=0 is refused, naming it" expect_fail 1 "'restore_timeout=0'" srun true
cluster_plugstack tmpdir="$SCR" restore_memory=12x
ok "a bad restore_memory is refused, naming it" expect_fail 1 "'restore_memory=12x'" srun true
cluster_plugstack tmpdir="$SCR"

done_testing
