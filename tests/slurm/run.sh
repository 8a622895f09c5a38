#!/bin/bash
# run.sh: kpy run in real Slurm jobs (no plugin), as the ordinary user kpytest, on a
# throwaway one-node Slurm: a script prepared on the "login node" (kpy run --prepare
# from a stand-in index), then `srun -n 4 kpy run eval.py` restores once on the node,
# offline; and 4 tasks racing for the first build of a new set build it once.
. "$KPY_SRCDIR/tests/lib/common.sh"

[ "$(id -u)" -eq 0 ] || skip_all "needs root to run slurmctld, slurmd and munged"
for b in slurmctld slurmd slurmstepd srun sbatch sinfo scontrol munged; do
	command -v "$b" > /dev/null ||
		skip_all "$b not installed (Debian: slurmctld slurmd slurm-client munge)"
done
"$KPY_TEST_PYTHON" -c 'import venv, ensurepip' 2> /dev/null ||
	skip_all "$KPY_TEST_PYTHON cannot make venvs with pip (install python3-venv)"
unset KPY_PLUGIN # the plugin is not involved: plain kpy run
. "$KPY_SRCDIR/tests/slurm/cluster.sh"

TU=kpytest
id -u "$TU" > /dev/null 2>&1 || useradd -M -d /nonexistent -s /bin/sh "$TU" ||
	{ echo "Bail out! cannot create the test user $TU"; exit 1; }
cd "$T" || exit 1
UH=$T/user
WH=$UH/.local/share/kpy/wheels
mkdir -p "$UH/tmp" "$UH/index" "$WH" "$T/bin" "$T/out"
cp "$KPY" "$T/bin/kpy"
ln -s "$KPY_TEST_PYTHON" "$T/bin/python3"
chmod -R a+rX "$T/bin"
mkwheel "$UH/index" hello 1.0 > /dev/null
mkwheel --requires hello "$UH/index" sci 2.0 > /dev/null
mkwheel "$WH" extra 3.0 > /dev/null
chown -R "$TU:" "$UH" "$T/out"
export PATH="$T/bin:$PATH"
ULIVE=$UH/tmp/kpy-$TU
H=$(hostname)

as_user() {
	(cd "$UH" && runuser -u "$TU" -- env -u KPY_PIPDIR HOME="$UH" PATH="$PATH" \
		XDG_CONFIG_HOME="$UH/.config" XDG_DATA_HOME="$UH/.local/share" \
		XDG_STATE_HOME="$UH/.local/state" TMPDIR="$UH/tmp" PIP_DISABLE_PIP_VERSION_CHECK=1 "$@")
}
cat > "$UH/eval.py" << 'EOF'
# /// script
# dependencies = ["sci"]
# ///
import os, sys, sci, hello
print("task", sys.argv[1], sys.prefix, os.environ.get("PIP_NO_INDEX", "-"))
EOF
cat > "$UH/first.py" << 'EOF'
# /// script
# dependencies = ["extra"]
# ///
import sys, extra
print("first", sys.argv[1], sys.prefix)
EOF
chown "$TU:" "$UH/eval.py" "$UH/first.py"
prep() { as_user env PIP_FIND_LINKS="$UH/index" PIP_NO_INDEX=1 kpy run --prepare eval.py > "$T/prep.out" 2>&1 ||
	{ sed 's/^/#   /' "$T/prep.out"; return 1; }; }
ok "login node: kpy run --prepare eval.py from the index" prep
ok "  ... the wheelhouse has sci and hello" bash -c 'ls "$1"/sci-2.0-*.whl "$1"/hello-1.0-*.whl > /dev/null' _ "$WH"

if ! cluster_start "$T/cluster"; then
	echo "Bail out! the local Slurm did not start"
	tail -n 20 "$T"/cluster/*.log "$T"/cluster/*.out | sed 's/^/# /'
	exit 1
fi
at_exit cluster_stop

cat > "$T/eval.sh" << 'EOF'
#!/bin/bash
#SBATCH -n 4
#SBATCH -O
srun -n 4 -O bash -c 'kpy run eval.py "$SLURM_PROCID" 2> "$HOME/eval.$SLURM_PROCID.err"'
EOF
chmod 0755 "$T/eval.sh"
job=$(as_user timeout 180 sbatch -W --parsable -o "$T/out/eval.out" "$T/eval.sh" 2> "$T/eval.err")
ok "srun -n 4 kpy run eval.py: the job succeeds" test $? -eq 0 -a -n "$job"
ok "  ... all four tasks ran the script in the job's env, offline (PIP_NO_INDEX=1)" \
	same "$(grep -cE "^task [0-3] $ULIVE/\.job-$job@$H/\.run/py[0-9.]+-[0-9a-f]{16} 1\$" "$T/out/eval.out")" 4
ok "  ... restored once on the node" same "$(cat "$UH"/eval.*.err | grep -c 'restored the env of eval.py')" 1
ok "  ... nothing built in the job" bash -c '! grep -q built "$1"/eval.*.err' _ "$UH"

cat > "$T/first.sh" << 'EOF'
#!/bin/bash
#SBATCH -n 4
#SBATCH -O
srun -n 4 -O bash -c 'kpy run first.py "$SLURM_PROCID" 2> "$HOME/first.$SLURM_PROCID.err"'
EOF
chmod 0755 "$T/first.sh"
job=$(as_user timeout 300 sbatch -W --parsable -o "$T/out/first.out" "$T/first.sh" 2> "$T/first.err")
ok "srun -n 4 kpy run first.py, never built: the job succeeds" test $? -eq 0 -a -n "$job"
ok "  ... all four ran it" same "$(grep -cE "^first [0-3] $ULIVE/\.job-$job@$H/\.run/" "$T/out/first.out")" 4
ok "  ... one task built the env" same "$(cat "$UH"/first.*.err | grep -c 'built the env of first.py')" 1
ok "  ... one saved env per set (eval.py's and first.py's)" \
	same "$(ls "$UH/.local/share/kpy/script_envs" | grep -c '\.tar\.zst$')" 2

done_testing
