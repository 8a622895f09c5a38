#!/bin/bash
# crash.sh: kill -9 at random points of `save -f` and `load`: the previous archive
# always loads, a new load succeeds, and the next command removes the temporaries
# the killed ones left (hidden .NAME.tar.zst.* files, .NAME.kpy-* directories).
. "$KPY_SRCDIR/tests/lib/common.sh"

need_venv_tools
W=$T/wheels
mkwheel "$W" hello 1.0 > /dev/null
mkdir -p "$T/pybin"
ln -s "$KPY_TEST_PYTHON" "$T/pybin/python3"
export PATH="$T/pybin:$PATH"

# the live envs on a tmpfs where we may mount one: a load then takes a second, not ten
if [ "$(id -u)" -eq 0 ] && mount -t tmpfs -o size=1g,mode=0755 kpy-crash "$TMPDIR"; then
	at_exit "umount -l '$TMPDIR'"
fi
ITER=${KPY_CRASH_ITER:-30}
BUDGET=${KPY_CRASH_SECONDS:-60} # per loop: stop early rather than run long

# --- a venv big enough that a kill lands mid-way -----------------------------------
quiet "$KPY" create big
ok "setup: a wheel installed into big" \
	quiet "$LIVE/big/bin/pip" install -q --no-index --find-links "$W" hello
# a few thousand small files and one large incompressible one
"$KPY_TEST_PYTHON" - "$LIVE/big/lib" << 'EOF'
import os, sys
root = os.path.join(sys.argv[1], "bulk")
for d in range(20):
    os.makedirs(os.path.join(root, "d%02d" % d))
    for f in range(60):
        with open(os.path.join(root, "d%02d" % d, "f%02d.py" % f), "w") as fh:
            fh.write("# %d %d\nVALUE = %r\n" % (d, f, os.urandom(64).hex()))
with open(os.path.join(root, "big.bin"), "wb") as fh:
    fh.write(os.urandom(16 << 20))
EOF
ok "setup: big saved" quiet env VIRTUAL_ENV="$LIVE/big" "$KPY" save big
ok "setup: big has thousands of files" \
	test "$(find "$LIVE/big" | wc -l)" -gt 2000

# milliseconds one run of COMMAND... takes
ms() { local t0 t1; t0=$(date +%s%N); "$@" > /dev/null 2>&1; t1=$(date +%s%N); echo $(((t1 - t0) / 1000000)); }
# run COMMAND... in the background and kill -9 it after a random part of MAXMS;
# prints "killed" or "finished"
kill_at_random() {
	local maxms=$1 pid d; shift
	d=$((RANDOM % (maxms * 6 / 5 + 1))) # a few land after the end
	"$@" > /dev/null 2>&1 &
	pid=$!
	sleep "$(printf '%d.%03d' $((d / 1000)) $((d % 1000)))"
	if kill -9 "$pid" 2> /dev/null; then
		wait "$pid" 2> /dev/null
		echo killed
	else
		wait "$pid" 2> /dev/null
		echo finished
	fi
}
# hidden temporaries beside the archives / beside the live envs
save_junk() { find "$ARCH" -mindepth 1 -maxdepth 1 -name '.*' | wc -l; }
load_junk() { find "$LIVE" -mindepth 1 -maxdepth 1 -name '.*' ! -name '.*.lock' | wc -l; }
# loads NAME --as AS, runs its script, removes it
loads_and_runs() {
	quiet "$KPY" load "$1" --as "$2" && quiet "$LIVE/$2/bin/hello" && rm -rf "${LIVE:?}/$2"
}

# --- save -f, killed -------------------------------------------------------------
cp "$ARCH/big.tar.zst" "$T/big.orig"
save_ms=$(ms env VIRTUAL_ENV="$LIVE/big" "$KPY" save -f big)
diag "one save -f takes ${save_ms} ms"
killed=0 finished=0 i=0 worst=0 bad_load=0 start=$SECONDS
while [ "$i" -lt "$ITER" ] && [ $((SECONDS - start)) -lt "$BUDGET" ]; do
	i=$((i + 1))
	case $(kill_at_random "$save_ms" env VIRTUAL_ENV="$LIVE/big" "$KPY" save -f big) in
	killed) killed=$((killed + 1)) ;;
	*) finished=$((finished + 1)) ;;
	esac
	# at most the killed save's own temporary: the earlier ones were swept
	j=$(save_junk)
	[ "$j" -gt "$worst" ] && worst=$j
	# the archive is the old one or a new complete one, and loads
	if [ $((i % 5)) -eq 0 ] && ! loads_and_runs big "check$i"; then
		bad_load=$((bad_load + 1))
	fi
done
diag "save -f: $i iterations, $killed killed, $finished finished, at most $worst temporaries at once"
ok "save -f killed at random points: some really were killed mid-way" test "$killed" -gt 0
ok "the archive always loaded between the kills" same "$bad_load" 0
ok "each save removed the temporaries of the saves killed before it" test "$worst" -le 1
ok "the archive loads after the last kill" loads_and_runs big after_save
ok "a new save -f succeeds" quiet env VIRTUAL_ENV="$LIVE/big" "$KPY" save -f big
ok "and no temporary stays beside the archive" same "$(save_junk)" 0
ok "list shows only big" same "$("$KPY" list 2> /dev/null | grep -c big)" 1

# --- load, killed ---------------------------------------------------------------
load_ms=$(ms "$KPY" load big --as timing)
rm -rf "${LIVE:?}/timing"
diag "one load takes ${load_ms} ms"
killed=0 finished=0 i=0 worst=0 bad=0 start=$SECONDS
while [ "$i" -lt "$ITER" ] && [ $((SECONDS - start)) -lt "$BUDGET" ]; do
	i=$((i + 1))
	case $(kill_at_random "$load_ms" "$KPY" load big --as crashed) in
	killed) killed=$((killed + 1)) ;;
	*) finished=$((finished + 1)) ;;
	esac
	j=$(load_junk)
	[ "$j" -gt "$worst" ] && worst=$j
	# either no env, or a complete one that works
	if [ -e "$LIVE/crashed" ]; then
		quiet "$LIVE/crashed/bin/hello" || bad=$((bad + 1))
		rm -rf "${LIVE:?}/crashed"
	fi
done
diag "load: $i iterations, $killed killed, $finished finished, at most $worst temporaries at once"
ok "load killed at random points: some really were killed mid-way" test "$killed" -gt 0
ok "a load that got its env in place left a working env" same "$bad" 0
ok "each load removed the temporaries of the loads killed before it" test "$worst" -le 1
ok "a new load succeeds" quiet "$KPY" load big --as crashed
ok "the loaded env runs its script" quiet "$LIVE/crashed/bin/hello"
ok "and no temporary stays beside the live envs" same "$(load_junk)" 0
ok "activate offers only the real envs" \
	same "$("$KPY" activate 2> /dev/null | tr '\n' ' ')" "big crashed "

# --- only dead writers' temporaries go ----------------------------------------------
# a temporary of a live writer on this host, one of another host, and one of a dead
# pid whose file is still locked (a writer in another pid namespace): all stay
host=$(hostname)
sleep 60 &
alive=$!
at_exit "kill $alive 2> /dev/null"
: > "$ARCH/.big.tar.zst.$host-$alive-AAAAAA"
: > "$ARCH/.big.tar.zst.otherhost-999999-BBBBBB"
: > "$ARCH/.big.tar.zst.$host-999999-CCCCCC"
"$KPY_TEST_PYTHON" -c 'import fcntl, sys, time
f = open(sys.argv[1]); fcntl.flock(f, fcntl.LOCK_EX); time.sleep(60)' "$ARCH/.big.tar.zst.$host-999999-CCCCCC" &
locker=$!
at_exit "kill $locker 2> /dev/null"
sleep 0.2
mkdir "$LIVE/.other.kpy-otherhost-999999-DDDDDD"
ok "save -f with foreign temporaries around" quiet env VIRTUAL_ENV="$LIVE/big" "$KPY" save -f big
ok "a live writer's temporary stays" test -e "$ARCH/.big.tar.zst.$host-$alive-AAAAAA"
ok "another host's temporary stays" test -e "$ARCH/.big.tar.zst.otherhost-999999-BBBBBB"
ok "a locked temporary stays" test -e "$ARCH/.big.tar.zst.$host-999999-CCCCCC"
kill "$locker" 2> /dev/null
wait "$locker" 2> /dev/null
ok "load with another host's temporary dir around" quiet "$KPY" load big --as last
ok "another host's temporary dir stays" test -d "$LIVE/.other.kpy-otherhost-999999-DDDDDD"
ok "once unlocked and dead, the next save removes it" \
	quiet env VIRTUAL_ENV="$LIVE/big" "$KPY" save -f big
ok "the unlocked dead one is gone" test ! -e "$ARCH/.big.tar.zst.$host-999999-CCCCCC"

done_testing
