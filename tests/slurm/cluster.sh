# cluster.sh: a throwaway one-node Slurm on 127.0.0.1, all state in one directory.
# Sourced. cluster_start DIR [PLUGSTACK_ARGS...] starts munged, slurmctld and slurmd
# with a plugstack.conf loading $KPY_PLUGIN (if set) and waits for the node to be idle;
# cluster_stop cancels the jobs and stops exactly the processes cluster_start started.
# Exports SLURM_CONF; sets CLUSTER_DIR, CLUSTER_SLURMD_LOG, CLUSTER_PLUGSTACK.

CLUSTER_DIR=
CLUSTER_PIDS=
CLUSTER_MUNGE_PID=

# _cluster_port_free PORT: nothing listens on PORT (tcp, any address).
_cluster_port_free() {
	! ss -Htln "sport = :$1" 2>/dev/null | grep -q .
}

# cluster_plugstack [ARGS...]: (re)write plugstack.conf; srun and every new step read it.
cluster_plugstack() {
	if [ -n "${KPY_PLUGIN:-}" ]; then
		echo "required $KPY_PLUGIN $*" > "$CLUSTER_PLUGSTACK.tmp"
	else
		: > "$CLUSTER_PLUGSTACK.tmp"
	fi
	mv -f "$CLUSTER_PLUGSTACK.tmp" "$CLUSTER_PLUGSTACK"
}

# cluster_wait_idle [SECONDS]: until sinfo says the node is idle.
cluster_wait_idle() {
	local i state
	for i in $(seq $((${1:-30} * 10))); do
		state=$(sinfo -h -n localhost -o %T 2>/dev/null)
		[ "$state" = idle ] && return 0
		sleep 0.1
	done
	echo "cluster: node not idle (state '${state:-}'); see $CLUSTER_DIR/*.log" >&2
	return 1
}

cluster_start() {
	local dir=$1 base cpus i
	shift
	mkdir -p "$dir" || return 1
	CLUSTER_DIR=$(cd "$dir" && pwd) || return 1
	chmod 0755 "$CLUSTER_DIR"
	mkdir -p "$CLUSTER_DIR/state" "$CLUSTER_DIR/spool" "$CLUSTER_DIR/munge"
	chmod 0700 "$CLUSTER_DIR/state" "$CLUSTER_DIR/spool" "$CLUSTER_DIR/munge"

	# Two free ports next to each other, spread by our PID so parallel suites differ.
	base=$((20000 + ($$ * 7) % 30000))
	for i in $(seq 50); do
		_cluster_port_free "$base" && _cluster_port_free $((base + 1)) && break
		base=$((base + 2))
	done

	dd if=/dev/urandom of="$CLUSTER_DIR/munge/munge.key" bs=1024 count=1 status=none
	chmod 0600 "$CLUSTER_DIR/munge/munge.key"
	munged --foreground --force --socket="$CLUSTER_DIR/munge.sock" \
		--key-file="$CLUSTER_DIR/munge/munge.key" \
		--pid-file="$CLUSTER_DIR/munge/munged.pid" \
		--log-file="$CLUSTER_DIR/munged.log" \
		--seed-file="$CLUSTER_DIR/munge/munged.seed" > /dev/null 2>&1 &
	CLUSTER_MUNGE_PID=$!
	for i in $(seq 100); do
		[ -S "$CLUSTER_DIR/munge.sock" ] && break
		sleep 0.05
	done

	cpus=$(slurmd -C | sed -n 's/^NodeName=[^ ]* \(.*\) RealMemory=.*/\1/p')
	CLUSTER_PLUGSTACK="$CLUSTER_DIR/plugstack.conf"
	CLUSTER_SLURMD_LOG="$CLUSTER_DIR/slurmd.log"
	cat > "$CLUSTER_DIR/slurm.conf" <<-EOF
	ClusterName=kpytest
	SlurmctldHost=localhost(127.0.0.1)
	SlurmctldPort=$base
	SlurmdPort=$((base + 1))
	SlurmUser=root
	SlurmdUser=root
	AuthType=auth/munge
	CredType=cred/munge
	AuthInfo=socket=$CLUSTER_DIR/munge.sock
	StateSaveLocation=$CLUSTER_DIR/state
	SlurmdSpoolDir=$CLUSTER_DIR/spool
	SlurmctldPidFile=$CLUSTER_DIR/slurmctld.pid
	SlurmdPidFile=$CLUSTER_DIR/slurmd.pid
	SlurmctldLogFile=$CLUSTER_DIR/slurmctld.log
	SlurmdLogFile=$CLUSTER_SLURMD_LOG
	SlurmdDebug=info
	SlurmctldDebug=info
	ProctrackType=proctrack/linuxproc
	TaskPlugin=task/none
	JobAcctGatherType=jobacct_gather/none
	AccountingStorageType=accounting_storage/none
	SelectType=select/cons_tres
	SelectTypeParameters=CR_Core
	ReturnToService=2
	MailProg=/bin/true
	MpiDefault=none
	SwitchType=switch/none
	SchedulerType=sched/builtin
	PlugStackConfig=$CLUSTER_PLUGSTACK
	NodeName=localhost NodeAddr=127.0.0.1 $cpus State=UNKNOWN
	PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
	EOF
	cluster_plugstack "$@"
	export SLURM_CONF="$CLUSTER_DIR/slurm.conf"

	(cd "$CLUSTER_DIR" && exec slurmctld -D -c -f "$SLURM_CONF") \
		> "$CLUSTER_DIR/slurmctld.out" 2>&1 &
	CLUSTER_PIDS="$!"
	(cd "$CLUSTER_DIR" && exec slurmd -D -N localhost -f "$SLURM_CONF") \
		> "$CLUSTER_DIR/slurmd.out" 2>&1 &
	CLUSTER_PIDS="$CLUSTER_PIDS $!"
	cluster_wait_idle 30
}

cluster_stop() {
	local pid i
	[ -n "$CLUSTER_DIR" ] || return 0
	if [ -n "$CLUSTER_PIDS" ]; then
		# slurmstepd outlives slurmd: end the jobs (and wait out COMPLETING) first.
		scancel --quiet --full $(squeue -h -o %i 2>/dev/null) 2>/dev/null || true
		for i in $(seq 100); do
			[ -z "$(squeue -h -o %i 2>/dev/null)" ] && break
			sleep 0.1
		done
		for pid in $CLUSTER_PIDS; do
			kill -TERM "$pid" 2>/dev/null || true
		done
		for pid in $CLUSTER_PIDS; do
			wait "$pid" 2>/dev/null || true
		done
	fi
	if [ -n "$CLUSTER_MUNGE_PID" ]; then
		kill -TERM "$CLUSTER_MUNGE_PID" 2>/dev/null || true
		wait "$CLUSTER_MUNGE_PID" 2>/dev/null || true
	fi
	CLUSTER_PIDS=
	CLUSTER_MUNGE_PID=
	CLUSTER_DIR=
}
