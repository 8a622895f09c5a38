#!/bin/bash
# batch_export.sh: #SBATCH --kpy-env reaches the batch step and its sruns whatever
# sbatch --export says (NONE, ALL, a list), as an ordinary user; KPY_ENV too.
. "$KPY_SRCDIR/tests/slurm/lib.sh"

ok "save demo in the site pipdir" runs make_site_pipdir
slurm_start tmpdir="$SCR" pipdir="$P"

cat > "$UH/job.sh" <<'EOS'
#!/bin/sh
#SBATCH --kpy-env=demo
echo "job=$SLURM_JOB_ID"
echo "venv=${VIRTUAL_ENV-}"
echo "import=$(python -c 'import hello, sys; print(sys.prefix)' 2>&1)"
echo "step=$(srun sh -c 'python -c "import hello, sys; print(sys.prefix)"' 2>&1)"
EOS
sed '/^#SBATCH --kpy-env/d' "$UH/job.sh" > "$UH/plain.sh"
chmod 0755 "$UH/job.sh" "$UH/plain.sh"
chown "$TU:" "$UH/job.sh" "$UH/plain.sh"

# batch EXPORT NAME SCRIPT [VAR=VALUE|--OPTION...]: sbatch -W --export=EXPORT SCRIPT
# as the user, with VAR=VALUE in its environment and the options; checks the output
batch() {
	local export=$1 name=$2 script=$3 out job venv a rc
	local -a envs=(FOO=1) opts=()
	shift 3
	for a in "$@"; do
		case $a in --*) opts+=("$a") ;; *) envs+=("$a") ;; esac
	done
	out=$UH/$name.out
	as_user env "${envs[@]}" timeout 120 sbatch -W --export="$export" "${opts[@]}" \
		-o "$out" "$UH/$script" > "$T/sb.out" 2> "$T/sb.err"
	rc=$?
	[ "$rc" -eq 0 ] || sed 's/^/#   /' "$T/sb.err" "$out"
	ok "$name: sbatch -W succeeds" test "$rc" -eq 0
	job=$(val job "$out")
	venv=$SCR/kpy-jobs/$job.$TUID/kpy/demo
	ok "$name: the batch script has VIRTUAL_ENV" same "$(val venv "$out")" "$venv"
	ok "$name: python in the batch script imports hello from the env" \
		same "$(val import "$out")" "$venv"
	ok "$name: an srun inside gets the env too" same "$(val step "$out")" "$venv"
}
batch NONE export-none job.sh
batch ALL export-all job.sh
batch FOO,HOME export-list job.sh
batch NONE kpy-env-export-none plain.sh KPY_ENV=demo
batch NONE option-export-none plain.sh --kpy-env=demo
ok "node idle at the end" node_idle

done_testing
