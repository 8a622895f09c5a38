# lib.sh: sourced by the Slurm tests beside spank.sh: skips when Slurm is missing,
# makes the test users, a site pipdir with demo saved (the hello wheel) and helpers.
# Call slurm_start [PLUGSTACK_ARGS...] to start the one-node cluster.
. "$KPY_SRCDIR/tests/lib/common.sh"

[ "$(id -u)" -eq 0 ] || skip_all "needs root to run slurmctld, slurmd and munged"
for b in slurmctld slurmd slurmstepd srun sbatch salloc sinfo scontrol munged; do
	command -v "$b" > /dev/null ||
		skip_all "$b not installed (Debian: slurmctld slurmd slurm-client munge)"
done
[ -f "${KPY_PLUGIN:-}" ] || skip_all "spank_kpy.so not built (configured --without-slurm?)"
"$KPY_TEST_PYTHON" -c 'import venv, ensurepip' 2> /dev/null ||
	skip_all "$KPY_TEST_PYTHON cannot make venvs with pip (install python3-venv)"
. "$KPY_SRCDIR/tests/slurm/cluster.sh"

TU=kpytest      # the job user
TU2=kpytest2    # another ordinary user, who tries to get in the way
for u in "$TU" "$TU2"; do
	id -u "$u" > /dev/null 2>&1 || useradd -M -d /nonexistent -s /bin/sh "$u" ||
		{ echo "Bail out! cannot create the test user $u"; exit 1; }
done
TUID=$(id -u "$TU")
TU2ID=$(id -u "$TU2")

cd "$T" || exit 1
chmod 0755 "$T"
SCR=$T/scratch  # plugstack tmpdir=
P=$T/site-pipdir  # plugstack pipdir=, readable by everyone
UH=$T/user      # the job user's home and working directory
W=$T/wheels
mkdir -p "$SCR" "$W" "$UH/tmp" "$T/victim"
chmod 1777 "$SCR"
echo keep > "$T/victim/file"
chown -R "$TU:" "$UH"

# as_user / as_user2 COMMAND...: run as the test users, from the user's home
as_user() {
	(cd "$UH" && runuser -u "$TU" -- env -u KPY_PIPDIR HOME="$UH" TMPDIR="$UH/tmp" \
		XDG_CONFIG_HOME="$UH/.config" XDG_DATA_HOME="$UH/.local/share" "$@")
}
as_user2() { (cd / && runuser -u "$TU2" -- env -u KPY_PIPDIR "$@"); }
# runs COMMAND...: COMMAND succeeds; its stderr is shown only when it fails
runs() {
	"$@" > "$T/out" 2> "$T/err" && return 0
	diag "failed: $*"; sed 's/^/#   /' "$T/err"; return 1
}
val() { sed -n "s/^$1=//p" "$2" | head -n 1; }
last_job() { scontrol show jobs -o 2> /dev/null | sed -n 's/^JobId=\([0-9]*\).*/\1/p' | sort -n | tail -n 1; }
# gone PATH: PATH disappears within 10 s (the job epilog runs after the job ends)
gone() {
	for _ in $(seq 100); do
		[ -e "$1" ] || [ -L "$1" ] || return 0
		sleep 0.1
	done
	diag "$1 still exists"; return 1
}
node_idle() { cluster_wait_idle 10; }

# the site pipdir: demo = a venv with the hello wheel
make_site_pipdir() {
	mkwheel "$W" hello 1.0 > /dev/null &&
	"$KPY_TEST_PYTHON" -m venv "$T/venvs/demo" &&
	"$T/venvs/demo/bin/pip" install -q --no-index --find-links "$W" hello &&
	env VIRTUAL_ENV="$T/venvs/demo" KPY_PIPDIR="$P" "$KPY" save demo > /dev/null &&
	chmod -R a+rX "$P"
}

slurm_start() {
	if ! cluster_start "$T/cluster" "$@"; then
		echo "Bail out! the local Slurm did not start"
		tail -n 20 "$T"/cluster/*.log "$T"/cluster/*.out | sed 's/^/# /'
		exit 1
	fi
	at_exit cluster_stop
}
