#!/bin/bash
# scratch_squat.sh: another user cannot squat a job's scratch. kpytest2 plants
# directories, files and symlinks at every predictable name in tmpdir=; kpytest's
# --kpy-env jobs still work, and nothing planted is followed or deleted.
. "$KPY_SRCDIR/tests/slurm/lib.sh"

ok "save demo in the site pipdir" runs make_site_pipdir
slurm_start tmpdir="$SCR" pipdir="$P"
cat > "$UH/show.sh" <<'EOS'
#!/bin/sh
echo "job=$SLURM_JOB_ID"
echo "tmpdir=$SLURM_TMPDIR"
echo "import=$(python -c 'import hello, sys; print(sys.prefix)' 2>&1)"
EOS
chmod 0755 "$UH/show.sh"
chown "$TU:" "$UH/show.sh"

# squat DIR KIND: kpytest2 plants KIND (dir, file or link) at every name a job of
# kpytest could get next in DIR: the base and the old per-job names
squat() {
	local dir=$1 kind=$2 next name
	next=$(($(last_job) + 1))
	for name in kpy-jobs kpy-job.$next.$TUID kpy-job.$((next + 1)).$TUID \
		kpy-jobs/$next.$TUID; do
		case $kind in
		dir) as_user2 mkdir "$dir/$name" && as_user2 sh -c 'echo mine > "$1/file"' _ "$dir/$name" ;;
		file) as_user2 sh -c 'echo mine > "$1"' _ "$dir/$name" ;;
		link) as_user2 ln -s "$T/victim" "$dir/$name" ;;
		esac 2> /dev/null
	done
}
# planted DIR KIND: what kpytest2 planted is still there, still theirs, unchanged
planted() {
	local dir=$1 kind=$2 n=0 f
	for f in "$dir"/kpy-jobs.squatted.* "$dir"/kpy-job.*; do
		[ -e "$f" ] || [ -L "$f" ] || continue
		[ "$(stat -c %U "$f")" = "$TU2" ] || { diag "$f is not $TU2's"; return 1; }
		case $kind in
		dir) [ "$(cat "$f/file")" = mine ] ;;
		file) [ "$(cat "$f")" = mine ] ;;
		link) [ "$(readlink "$f")" = "$T/victim" ] ;;
		esac || { diag "$f changed"; return 1; }
		n=$((n + 1))
	done
	same "$n" 3
}

for kind in dir file link; do
	S=$T/tmp-$kind
	mkdir -m 1777 "$S"
	cluster_plugstack tmpdir="$S" pipdir="$P"
	squat "$S" "$kind"
	as_user timeout 120 srun --kpy-env=demo "$UH/show.sh" > "$T/$kind.out" 2> "$T/$kind.err"
	rc=$?
	[ "$rc" -eq 0 ] || sed 's/^/#   /' "$T/$kind.err"
	ok "$kind squatted: $TU's srun --kpy-env=demo works" test "$rc" -eq 0
	job=$(val job "$T/$kind.out")
	ok "$kind squatted: the job's scratch is under the root-owned base" \
		same "$(val tmpdir "$T/$kind.out")" "$S/kpy-jobs/$job.$TUID"
	ok "$kind squatted: python imports hello from the env" \
		same "$(val import "$T/$kind.out")" "$S/kpy-jobs/$job.$TUID/kpy/demo"
	ok "$kind squatted: the base is root's, mode 711" same "$(stat -c %U:%a "$S/kpy-jobs")" root:711
	ok "$kind squatted: the job's scratch removed at the end" gone "$S/kpy-jobs/$job.$TUID"
	ok "$kind squatted: the planted things are moved aside or left, untouched" planted "$S" "$kind"
	ok "$kind squatted: the symlinks' target is untouched" same "$(ls "$T/victim")" file
	ok "$kind squatted: $TU2 cannot make anything in the base" \
		bash -c '! runuser -u "$2" -- mkdir "$1/kpy-jobs/x" 2> /dev/null' _ "$S" "$TU2"
	ok "$kind squatted: the slurmd log says what was moved aside" \
		grep -q "kpy: $S/kpy-jobs belonged to uid $TU2ID.*moved aside" "$CLUSTER_SLURMD_LOG"
done
ok "node idle at the end" node_idle

done_testing
