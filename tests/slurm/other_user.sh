#!/bin/bash
# other_user.sh: two ordinary users and each other's pipdirs through the plugin (no
# pipdir= in plugstack.conf: each job reads its user's own KPY_PIPDIR). kpytest2
# publishes hostile archives aimed at kpytest's files and tries kpytest's private
# pipdir; the restore runs as the job's user only, so neither gets anywhere.
. "$KPY_SRCDIR/tests/slurm/lib.sh"

slurm_start tmpdir="$SCR"

# kpytest's private pipdir (mode 0700) with a good env, and a victim directory of theirs
MINE=$UH/.local/share/kpy
V=$UH/victim
as_user mkdir -p "$V" "$UH/venvs"
as_user sh -c 'echo original > "$1/victim"' sh "$V"
as_user "$KPY_TEST_PYTHON" -m venv --without-pip "$UH/venvs/mine"
ok "kpytest saves an env in its own pipdir" runs as_user env VIRTUAL_ENV="$UH/venvs/mine" "$KPY" save mine
chmod 0700 "$MINE"
ok "kpytest's pipdir is private" same "$(stat -c %U:%a "$MINE")" "$TU:700"

# kpytest2's world-readable pipdir with hostile archives forged from a real one
P2=$T/u2/pipdir
U2=$T/u2
mkdir -p "$U2" && chown "$TU2:" "$U2"
as_user2 "$KPY_TEST_PYTHON" -m venv --without-pip "$U2/lean"
ok "kpytest2 saves an env in its own pipdir" \
	runs as_user2 env HOME="$U2" VIRTUAL_ENV="$U2/lean" KPY_PIPDIR="$P2" "$KPY" save lean
zstd -q -d -c "$P2/venv_archives/lean.tar.zst" > "$T/lean.tar"
for kind in symfile dotdot abs hardout; do
	"$KPY_TEST_PYTHON" "$KPY_SRCDIR/tests/lib/forge.py" "$T/lean.tar" "$T/evil_$kind.tar" "$kind" "$V" &&
		zstd -q --check -f "$T/evil_$kind.tar" -o "$P2/venv_archives/evil_$kind.tar.zst"
done
chown -R "$TU2:" "$P2" && chmod -R a+rX "$P2"
ok "the hostile archives are kpytest2's" same "$(stat -c %U "$P2/venv_archives/evil_symfile.tar.zst")" "$TU2"

# no_scratch_left: the epilog has removed every job's scratch (it runs after the job)
no_scratch_left() {
	for _ in $(seq 100); do
		[ -z "$(ls -A "$SCR/kpy-jobs" 2> /dev/null)" ] && return 0
		sleep 0.1
	done
	diag "left in $SCR/kpy-jobs: $(ls -A "$SCR/kpy-jobs")"; return 1
}
victim_intact() {
	same "$(ls -A "$V" | tr '\n' ' ')" "victim " && same "$(cat "$V/victim")" original &&
		same "$(stat -c %h "$V/victim")" 1
}
for kind in symfile dotdot abs hardout; do
	as_user env KPY_PIPDIR="$P2" timeout 120 srun --kpy-env="evil_$kind" true > "$T/$kind.out" 2> "$T/$kind.err"
	ok "kpytest's step with kpytest2's evil_$kind fails" test $? -ne 0
	ok "  ... naming the archive as damaged" grep -q "evil_$kind.tar.zst.*damaged" "$T/$kind.err"
	ok "  ... and nothing of kpytest's is touched" victim_intact
done
ok "no restore leftovers in the scratch base" no_scratch_left

# kpytest2 and kpytest's private pipdir
as_user2 env KPY_PIPDIR="$MINE" timeout 120 srun --kpy-env=mine true > "$T/p.out" 2> "$T/p.err"
ok "kpytest2's step with kpytest's private pipdir fails" test $? -ne 0
ok "  ... saying it cannot be read" grep -Eq "not readable|Permission denied" "$T/p.err"
ok "  ... and leaves nothing" no_scratch_left
ok "kpytest2 cannot remove kpytest's archive" \
	bash -c '! runuser -u "$1" -- env KPY_PIPDIR="$2" "$3" rm mine > /dev/null 2>&1' _ "$TU2" "$MINE" "$KPY"
ok "  ... it is still there" test -f "$MINE/venv_archives/mine.tar.zst"
as_user timeout 120 srun --kpy-env=mine sh -c 'echo "venv=$VIRTUAL_ENV"' > "$T/m.out" 2> "$T/m.err"
ok "kpytest's own step with its own env works" grep -q "^venv=.*/kpy/mine$" "$T/m.out"
ok "node idle at the end (not drained)" node_idle

done_testing
