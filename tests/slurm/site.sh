#!/bin/bash
# site.sh: the site store through the plugin, as the ordinary user kpytest: envs and
# a uv cache an admin published with kpy save --site into a root-owned 0755 site
# pipdir; --kpy-env=NAME (only in the site) and --kpy-env=site:NAME restore them, the
# user's own NAME wins over the site's, sbatch passes site:NAME to its steps, and
# nothing is written in the site pipdir. site_pipdir= of plugstack.conf wins over the
# site file's; a bad one is refused; a missing site pipdir fails the step, naming it.
. "$KPY_SRCDIR/tests/slurm/lib.sh"

S=$T/sitestore
S2=$T/sitestore2
mkdir -p "$S" "$S2"
printf '[kpy]\nsite_pipdir = %s\n' "$S" > "$KPY_SITE_CONFIG"
chmod 0644 "$KPY_SITE_CONFIG"
mkvenv() { "$KPY_TEST_PYTHON" -m venv --without-pip "$1" && echo "$2" > "$1/mark"; }
listing() { (cd "$1" && find . -printf '%p|%y|%m|%s|%T@|%C@\n' | LC_ALL=C sort); }
publish() { # publish DIR NAME VENV: as root, into the first site pipdir of the site file
	env KPY_SITE_CONFIG="$1" VIRTUAL_ENV="$3" "$KPY" save --site "$2" > /dev/null
}
printf '[kpy]\nsite_pipdir = %s\n' "$S2" > "$T/site2.conf"

setup_venvs() { mkvenv "$T/v/sci" site-sci && mkvenv "$T/v/sdup" site-dup && mkvenv "$T/v/s2" site2-sci; }
ok "setup: site venvs" setup_venvs
ok "the admin publishes sci" publish "$KPY_SITE_CONFIG" sci "$T/v/sci"
ok "  ... and dup" publish "$KPY_SITE_CONFIG" dup "$T/v/sdup"
ok "  ... and sci to the second store" publish "$T/site2.conf" sci "$T/v/s2"
mkdir -p "$T/uvc/wheels-v5"
printf 'Signature: 8a477f597d28d172789f06886806bc55\n' > "$T/uvc/CACHEDIR.TAG"
echo wheel > "$T/uvc/wheels-v5/w"
ok "  ... and the uv cache ml" runs "$KPY" save --site --uv-cache ml "$T/uvc"
ok "the site store is root's, mode 0755" same "$(stat -c %U:%a "$S" "$S/venv_archives")" "root:755
root:755"
# the user's own dup
as_user "$KPY_TEST_PYTHON" -m venv --without-pip "$UH/owndup" && as_user sh -c 'echo own-dup > "$1/mark"' sh "$UH/owndup"
ok "kpytest saves an own dup" runs as_user env VIRTUAL_ENV="$UH/owndup" "$KPY" save dup
before=$(listing "$S")

slurm_start tmpdir="$SCR"
probe='echo "venv=${VIRTUAL_ENV-}"; echo "kpyenv=${KPY_ENV-}"; echo "mark=$(cat "$VIRTUAL_ENV/mark")"; echo "py=$(python -c "import sys; print(sys.prefix)")"; echo "uid=$(id -u)"'

as_user timeout 120 srun --kpy-env=sci bash -c "$probe" > "$T/a.out" 2> "$T/a.err"
rc=$?; [ "$rc" -eq 0 ] || sed 's/^/#   /' "$T/a.err"
ok "srun --kpy-env=NAME (only in the site store) succeeds" test "$rc" -eq 0
ok "  ... the site's env, restored as NAME" sh -c 'grep -qx "mark=site-sci" "$1" && grep -q "^venv=.*/kpy/sci$" "$1"' sh "$T/a.out"
ok "  ... active for the task" same "$(val py "$T/a.out")" "$(val venv "$T/a.out")"
ok "  ... which runs as kpytest" same "$(val uid "$T/a.out")" "$TUID"

as_user timeout 120 srun --kpy-env=dup bash -c "$probe" > "$T/b.out" 2> "$T/b.err"
ok "srun --kpy-env=dup: the user's own wins" grep -qx "mark=own-dup" "$T/b.out"

as_user timeout 120 srun --kpy-env=site:dup bash -c "$probe" > "$T/c.out" 2> "$T/c.err"
rc=$?; [ "$rc" -eq 0 ] || sed 's/^/#   /' "$T/c.err"
ok "srun --kpy-env=site:dup: the site's" grep -qx "mark=site-dup" "$T/c.out"
ok "  ... restored as dup" grep -q "^venv=.*/kpy/dup$" "$T/c.out"
ok "  ... KPY_ENV stays site:dup for the job's later steps" grep -qx "kpyenv=site:dup" "$T/c.out"

as_user timeout 120 srun --kpy-uv-cache=site:ml bash -c 'echo "cache=$UV_CACHE_DIR"; cat "$UV_CACHE_DIR/wheels-v5/w"' > "$T/d.out" 2> "$T/d.err"
rc=$?; [ "$rc" -eq 0 ] || sed 's/^/#   /' "$T/d.err"
ok "srun --kpy-uv-cache=site:ml: the site's uv cache" sh -c 'grep -q "^cache=.*/kpy/.uv/ml$" "$1" && grep -qx wheel "$1"' sh "$T/d.out"

cat > "$T/batch.sh" <<'EOF'
#!/bin/bash
#SBATCH --kpy-env=site:dup
echo "batch=$(cat "$VIRTUAL_ENV/mark")"
srun bash -c 'echo "step=$(cat "$VIRTUAL_ENV/mark") $KPY_ENV"'
EOF
chmod 0755 "$T/batch.sh"
as_user timeout 120 sbatch -W -o "$UH/batch.out" "$T/batch.sh" > /dev/null 2> "$T/batch.err"
rc=$?; [ "$rc" -eq 0 ] || sed 's/^/#   /' "$T/batch.err" "$UH/batch.out" 2>/dev/null
ok "sbatch --kpy-env=site:dup: the batch script has the site's" grep -qx "batch=site-dup" "$UH/batch.out"
ok "  ... and so has its srun step" grep -qx "step=site-dup site:dup" "$UH/batch.out"

as_user timeout 120 srun --kpy-env=site:nope true > "$T/e.out" 2> "$T/e.err"
ok "srun --kpy-env=site:nope fails" test $? -ne 0
ok "  ... naming the site store and what it has" \
	grep -q "no site environment 'nope': no saved environment named 'nope' in $S; saved: dup, sci" "$T/e.err"
as_user timeout 120 srun --kpy-env=nope true > "$T/e.out" 2> "$T/e.err"
ok "srun --kpy-env=nope names both stores" grep -q "; nor in the site store: no saved environment named 'nope' in $S" "$T/e.err"
ok "nothing was written in the site store" same "$(listing "$S")" "$before"

# site_pipdir= in plugstack.conf wins over the site file's
cluster_plugstack tmpdir="$SCR" site_pipdir="$S2:$S"
as_user timeout 120 srun --kpy-env=site:sci bash -c "$probe" > "$T/f.out" 2> "$T/f.err"
rc=$?; [ "$rc" -eq 0 ] || sed 's/^/#   /' "$T/f.err"
ok "site_pipdir= of plugstack.conf: its first store's sci" grep -qx "mark=site2-sci" "$T/f.out"
as_user timeout 120 srun --kpy-env=site:dup bash -c "$probe" > "$T/g.out" 2> "$T/g.err"
ok "  ... and the second store's dup" grep -qx "mark=site-dup" "$T/g.out"
cluster_plugstack tmpdir="$SCR" pipdir="$P" site_pipdir="$S2"
as_user timeout 120 srun --kpy-env=sci bash -c "$probe" > "$T/h.out" 2> "$T/h.err"
rc=$?; [ "$rc" -eq 0 ] || sed 's/^/#   /' "$T/h.err"
ok "with pipdir= too: a name pipdir= lacks is the site's" grep -qx "mark=site2-sci" "$T/h.out"
cluster_plugstack tmpdir="$SCR" site_pipdir=relative
ok "a relative site_pipdir= is refused, naming it" \
	expect_fail 1 "'site_pipdir=relative': 'relative' is not an absolute path" as_user srun true

# a site pipdir that is not there fails the step, naming it; the node stays up
cluster_plugstack tmpdir="$SCR" site_pipdir="$T/nosuch"
as_user timeout 120 srun --kpy-env=site:sci true > "$T/m.out" 2> "$T/m.err"
ok "a missing site pipdir fails the step" test $? -ne 0
ok "  ... naming it, and who to ask" \
	sh -c 'grep -q "the site pipdir $1 does not exist" "$2" && grep -q "ask them" "$2"' sh "$T/nosuch" "$T/m.err"
cluster_plugstack tmpdir="$SCR"
ok "the user's own env still works" runs as_user timeout 120 srun --kpy-env=dup true
ok "nothing was written in either site store" same "$(listing "$S")" "$before"
ok "node idle at the end (not drained)" node_idle

done_testing
