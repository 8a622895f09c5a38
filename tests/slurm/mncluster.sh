# mncluster.sh: a throwaway multi-node Slurm on one machine, in Linux namespaces.
# Sourced (after cluster.sh, whose _cluster_port_free and cluster_plugstack it uses).
#
#   mncluster_start DIR N [PLUGSTACK_ARGS...]
#       One munged and slurmctld on the host, slurmctld on a new bridge's address, and N
#       slurmds n1..nN, each in its own network namespace (a veth into the bridge, its
#       own address), UTS namespace (hostname nK) and mount namespace with a private
#       tmpfs over the plugin's scratch base (the tmpdir= of PLUGSTACK_ARGS, else
#       $MNC_SCRATCH), so each node sees only its own scratch while the rest of the
#       filesystem (the pipdir, DIR, the munge socket) is shared. plugstack.conf loads
#       $KPY_PLUGIN with PLUGSTACK_ARGS, as cluster_start does. Waits until all N nodes
#       are idle. Exports SLURM_CONF.
#   mncluster_stop
#       Cancels the jobs, stops exactly the processes mncluster_start started (and what
#       is left inside its node namespaces), deletes the veths and the bridge, by name.
#       Safe to call twice and after a failed start.
#   mnc_node K COMMAND...     run COMMAND as root in node K's mount, UTS and network
#                             namespaces (look at or break that node's scratch, hide its
#                             interpreter with a bind mount)
#   mnc_pid K                 the PID of node K's slurmd
#   mnc_log K                 node K's slurmd log
#   mncluster_wait_idle [SECONDS]   until sinfo says every node is idle
#   mnc_plugstack [ARGS...]   rewrite plugstack.conf (new steps read it)
#
# Why not `ip netns exec`: it remounts /sys, and slurmd then finds no cgroup filesystem.
# Why not `ip netns add` at all: an unshare'd process owns its namespaces, so they vanish
# (taking the node's end of the veth, hence the pair) when the node's last process ends,
# even if this shell is killed; only the bridge is left to delete, and a later start
# deletes bridges of runs whose shell is gone.

MNC_DIR=
MNC_N=0
MNC_TAG=
MNC_BR=
MNC_NET=
MNC_CTLD_PID=
MNC_MUNGE_PID=
MNC_SCRATCH=${MNC_SCRATCH:-}
declare -a MNC_PID=() MNC_MNTNS=()

# _mnc_scratch_arg ARGS...: the tmpdir= among the plugstack arguments
_mnc_scratch_arg() {
	local a
	for a in "$@"; do
		case $a in tmpdir=*) echo "${a#tmpdir=}"; return 0 ;; esac
	done
	return 1
}

mnc_plugstack() { cluster_plugstack "$@"; }
mnc_pid() { echo "${MNC_PID[$1]}"; }
mnc_log() { echo "$MNC_DIR/slurmd-n$1.log"; }
mnc_node() {
	local k=$1; shift
	nsenter -t "${MNC_PID[$k]}" -m -u -n -- "$@"
}

# _mnc_sweep: delete bridges (and their veths) left by runs whose shell is gone.
_mnc_sweep() {
	local br pid
	for br in $(ip -o link show type bridge 2>/dev/null | sed -n 's/^[0-9]*: \(kmb[0-9]*\)[:@].*/\1/p'); do
		pid=${br#kmb}
		if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
			ip link del "$br" 2>/dev/null || true
		fi
	done
}

mncluster_wait_idle() {
	local states
	for _ in $(seq $((${1:-30} * 10))); do
		states=$(sinfo -h -N -o '%N %T' 2>/dev/null | sort -u)
		if [ "$(printf '%s\n' "$states" | grep -c ' idle$')" -eq "$MNC_N" ]; then
			return 0
		fi
		sleep 0.1
	done
	echo "mncluster: not all $MNC_N nodes idle: $(printf '%s' "$states" | tr '\n' ','); see $MNC_DIR/*.log" >&2
	return 1
}

# _mnc_start_node K: slurmd nK in new net, UTS and mount namespaces. The node's shell
# waits on a fifo until its veth is in place, then mounts the private scratch, sets
# the hostname and execs slurmd (same PID all along: nice, unshare and sh exec).
_mnc_start_node() {
	local k=$1 pid host_ns fifo="$MNC_DIR/n$1.go" veth="kmv${MNC_TAG}n$1"
	local addr="$MNC_NET.$((10 + k))"
	mkfifo "$fifo" || return 1
	# shellcheck disable=SC2016
	(cd "$MNC_DIR" && exec nice -n 10 unshare -n -u -m --propagation private -- sh -c '
		read go < "$1" && [ "$go" = go ] || exit 1
		ip link set lo up &&
		ip addr add "$2/24" dev eth0 && ip link set eth0 up &&
		mount -t tmpfs -o mode=1777,size=256m kpy-scratch-"$3" "$4" &&
		hostname "$3" || exit 1
		exec slurmd -D -N "$3" -f "$5"' sh "$fifo" "$addr" "n$k" "$MNC_SCRATCH" "$SLURM_CONF") \
		> "$MNC_DIR/slurmd-n$k.out" 2>&1 &
	pid=$!
	MNC_PID[k]=$pid
	host_ns=$(readlink /proc/self/ns/net)
	for _ in $(seq 100); do
		[ -e "/proc/$pid/ns/net" ] || { echo "mncluster: node n$k exited at start" >&2; return 1; }
		[ "$(readlink "/proc/$pid/ns/net")" != "$host_ns" ] && break
		sleep 0.05
	done
	MNC_MNTNS[k]=$(readlink "/proc/$pid/ns/mnt")
	ip link add "$veth" type veth peer name "kmp${MNC_TAG}n$k" &&
	ip link set "kmp${MNC_TAG}n$k" netns "$pid" &&
	nsenter -t "$pid" -n ip link set "kmp${MNC_TAG}n$k" name eth0 &&
	ip link set "$veth" master "$MNC_BR" &&
	ip link set "$veth" up || return 1
	echo go > "$fifo"
}

mncluster_start() {
	local dir=$1 n=${2:-4} base cpus k a b host nodes=
	shift 2
	# a TERM or INT must still run the EXIT trap that calls mncluster_stop
	trap 'exit 143' TERM
	trap 'exit 130' INT
	trap 'exit 129' HUP
	mkdir -p "$dir" || return 1
	MNC_DIR=$(cd "$dir" && pwd) || return 1
	MNC_N=$n
	MNC_TAG=$$
	MNC_BR=kmb$MNC_TAG
	a=$(_mnc_scratch_arg "$@") && MNC_SCRATCH=$a
	if [ -z "$MNC_SCRATCH" ] || [ ! -d "$MNC_SCRATCH" ]; then
		echo "mncluster: no scratch base: pass tmpdir=DIR (an existing directory)" >&2
		return 1
	fi
	chmod 0755 "$MNC_DIR"
	mkdir -p "$MNC_DIR/state" "$MNC_DIR/munge"
	chmod 0700 "$MNC_DIR/state" "$MNC_DIR/munge"
	_mnc_sweep

	# a /24 of 10.64-127.x.0 nobody uses, spread by our PID
	a=$((64 + ($$ / 250) % 64)); b=$((($$ % 250) + 1))
	for _ in $(seq 50); do
		ip -4 route show | grep -q "^10\.$a\.$b\." || ip -4 addr show | grep -q " 10\.$a\.$b\." || break
		b=$(((b % 250) + 1))
	done
	MNC_NET=10.$a.$b
	ip link add "$MNC_BR" type bridge || return 1
	ip addr add "$MNC_NET.1/24" dev "$MNC_BR" && ip link set "$MNC_BR" up || return 1

	# one free port for slurmctld (on the host), one for the slurmds (each node has
	# its own network, but srun and slurmctld reach them all by that port)
	base=$((20000 + ($$ * 7) % 30000))
	for _ in $(seq 50); do
		_cluster_port_free "$base" && _cluster_port_free $((base + 1)) && break
		base=$((base + 2))
	done

	# munged as in cluster.sh; its socket is a file, which every node reaches
	dd if=/dev/urandom of="$MNC_DIR/munge/munge.key" bs=1024 count=1 status=none
	chmod 0600 "$MNC_DIR/munge/munge.key"
	munged --foreground --force --socket="$MNC_DIR/munge.sock" \
		--key-file="$MNC_DIR/munge/munge.key" \
		--pid-file="$MNC_DIR/munge/munged.pid" \
		--log-file="$MNC_DIR/munged.log" \
		--seed-file="$MNC_DIR/munge/munged.seed" > /dev/null 2>&1 &
	MNC_MUNGE_PID=$!
	for _ in $(seq 100); do
		[ -S "$MNC_DIR/munge.sock" ] && break
		sleep 0.05
	done

	cpus=$(slurmd -C | sed -n 's/^NodeName=[^ ]* \(.*\) RealMemory=.*/\1/p')
	host=$(hostname -s)
	CLUSTER_PLUGSTACK="$MNC_DIR/plugstack.conf"
	for k in $(seq "$n"); do
		nodes="${nodes}NodeName=n$k NodeAddr=$MNC_NET.$((10 + k)) $cpus State=UNKNOWN
"
	done
	cat > "$MNC_DIR/slurm.conf" <<-EOF
	ClusterName=kpymn
	SlurmctldHost=$host($MNC_NET.1)
	SlurmctldPort=$base
	SlurmdPort=$((base + 1))
	SlurmUser=root
	SlurmdUser=root
	AuthType=auth/munge
	CredType=cred/munge
	AuthInfo=socket=$MNC_DIR/munge.sock
	StateSaveLocation=$MNC_DIR/state
	SlurmdSpoolDir=$MNC_DIR/spool-%n
	SlurmctldPidFile=$MNC_DIR/slurmctld.pid
	SlurmdPidFile=$MNC_DIR/slurmd-%n.pid
	SlurmctldLogFile=$MNC_DIR/slurmctld.log
	SlurmdLogFile=$MNC_DIR/slurmd-%n.log
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
	${nodes}PartitionName=debug Nodes=n[1-$n] Default=YES MaxTime=INFINITE State=UP
	EOF
	cluster_plugstack "$@"
	export SLURM_CONF="$MNC_DIR/slurm.conf"

	(cd "$MNC_DIR" && exec nice -n 10 slurmctld -D -c -f "$SLURM_CONF") \
		> "$MNC_DIR/slurmctld.out" 2>&1 &
	MNC_CTLD_PID=$!
	for k in $(seq "$n"); do
		_mnc_start_node "$k" || return 1
	done
	mncluster_wait_idle 60
}

# _mnc_ns_pids K: the processes still in node K's mount namespace
_mnc_ns_pids() {
	local ns=${MNC_MNTNS[$1]:-} p
	[ -n "$ns" ] || return 0
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/ns/mnt" 2>/dev/null)" = "$ns" ] && echo "${p#/proc/}"
	done
}

mncluster_stop() {
	local k left
	[ -n "$MNC_DIR" ] || return 0
	if [ -n "$MNC_CTLD_PID" ]; then
		# slurmstepd outlives slurmd: end the jobs (and wait out COMPLETING) first.
		# shellcheck disable=SC2046
		scancel --quiet --full $(squeue -h -o %i 2>/dev/null) 2>/dev/null || true
		for _ in $(seq 100); do
			[ -z "$(squeue -h -o %i 2>/dev/null)" ] && break
			sleep 0.1
		done
	fi
	for k in "${!MNC_PID[@]}"; do
		kill -TERM "${MNC_PID[$k]}" 2>/dev/null || true
	done
	[ -n "$MNC_CTLD_PID" ] && kill -TERM "$MNC_CTLD_PID" 2>/dev/null
	for k in "${!MNC_PID[@]}"; do
		wait "${MNC_PID[$k]}" 2>/dev/null || true
	done
	[ -n "$MNC_CTLD_PID" ] && { wait "$MNC_CTLD_PID" 2>/dev/null || true; }
	# whatever is left in a node's namespaces (a stray slurmstepd or task) is ours
	for _ in $(seq 50); do
		left=
		for k in "${!MNC_PID[@]}"; do
			left="$left $(_mnc_ns_pids "$k")"
		done
		[ -z "${left// /}" ] && break
		# shellcheck disable=SC2086
		kill -KILL $left 2>/dev/null || true
		sleep 0.1
	done
	for k in "${!MNC_PID[@]}"; do
		ip link del "kmv${MNC_TAG}n$k" 2>/dev/null || true
	done
	[ -n "$MNC_BR" ] && ip link del "$MNC_BR" 2>/dev/null
	if [ -n "$MNC_MUNGE_PID" ]; then
		kill -TERM "$MNC_MUNGE_PID" 2>/dev/null || true
		wait "$MNC_MUNGE_PID" 2>/dev/null || true
	fi
	MNC_PID=() MNC_MNTNS=()
	MNC_CTLD_PID='' MNC_MUNGE_PID='' MNC_BR='' MNC_DIR=
	return 0
}
