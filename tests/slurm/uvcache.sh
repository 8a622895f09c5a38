#!/bin/bash
# uvcache.sh: srun/sbatch --kpy-uv-cache and KPY_UV_CACHE as an ordinary user: the uv
# cache restored once per job beside the env, UV_CACHE_DIR and offline variables for
# the tasks, combined with --kpy-env, one message each on failure, gone after the job.
. "$KPY_SRCDIR/tests/slurm/lib.sh"

# a uv-shaped cache with a hard link and a relative pointer, saved in the site pipdir
C=$T/uvsrc
mkdir -p "$C/archive-v0/X1/hello" "$C/wheels-v5/pypi/hello"
printf 'Signature: 8a477f597d28d172789f06886806bc55\n' > "$C/CACHEDIR.TAG"
: > "$C/.lock"
echo 'print("hi")' > "$C/archive-v0/X1/hello/__init__.py"
ln "$C/archive-v0/X1/hello/__init__.py" "$C/archive-v0/X1/hello/same.py"
ln -s ../../../archive-v0/X1 "$C/wheels-v5/pypi/hello/hello-1.0-py3-none-any"
ok "save demo in the site pipdir" runs make_site_pipdir
ok "save the uv cache uvc there" runs env KPY_PIPDIR="$P" "$KPY" save --uv-cache uvc "$C"
chmod -R a+rX "$P"
slurm_start tmpdir="$SCR" pipdir="$P"
log_count() { grep -cE "\[$1\.[^]]*\] kpy: $2" "$CLUSTER_SLURMD_LOG"; }

probe='echo "job=$SLURM_JOB_ID"; echo "cache=${UV_CACHE_DIR-}"; echo "venv=${VIRTUAL_ENV-}"
echo "offline=${UV_OFFLINE-}:${PIP_NO_INDEX-}:${UV_FIND_LINKS-}"
test -f "$UV_CACHE_DIR/CACHEDIR.TAG" && echo tag=yes
test "$(stat -c %i "$UV_CACHE_DIR/archive-v0/X1/hello/__init__.py")" = "$(stat -c %i "$UV_CACHE_DIR/archive-v0/X1/hello/same.py")" && echo hardlink=yes
test -f "$UV_CACHE_DIR/wheels-v5/pypi/hello/hello-1.0-py3-none-any/hello/same.py" && echo pointer=yes
if [ -n "${VIRTUAL_ENV-}" ]; then
	echo "samefs=$(test "$(stat -c %d "$VIRTUAL_ENV")" = "$(stat -c %d "$UV_CACHE_DIR")" && echo yes)"
	ln "$UV_CACHE_DIR/archive-v0/X1/hello/same.py" "$VIRTUAL_ENV/linked.py" && echo linked=yes
	echo "import=$(python -c "import hello, sys; print(sys.prefix)" 2>&1)"
fi'

# --kpy-uv-cache alone
as_user srun --kpy-uv-cache=uvc bash -c "$probe" > "$T/a.out" 2> "$T/a.err"
rc=$?
[ "$rc" -eq 0 ] || sed 's/^/#   /' "$T/a.err"
ok "srun --kpy-uv-cache succeeds" test "$rc" -eq 0
job=$(val job "$T/a.out")
jobdir=$SCR/kpy-jobs/$job.$TUID
ok "UV_CACHE_DIR is the job's copy beside its envs" same "$(val cache "$T/a.out")" "$jobdir/kpy/.uv/uvc"
ok "the restored cache has its tag" same "$(val tag "$T/a.out")" yes
ok "its hard links are links" same "$(val hardlink "$T/a.out")" yes
ok "its pointers resolve" same "$(val pointer "$T/a.out")" yes
ok "uv and pip are offline" same "$(val offline "$T/a.out")" "1:1:$P/wheels"
ok "no venv is activated" same "$(val venv "$T/a.out")" ""
ok "the slurmd log shows the restore" same "$(log_count "$job" 'restored the uv cache uvc into')" 1
ok "the job's scratch is removed after the job" gone "$jobdir"

# with --kpy-env: both restored, on one file system, the cache links into the venv
as_user srun --kpy-env=demo --kpy-uv-cache=uvc bash -c "$probe" > "$T/b.out" 2> "$T/b.err"
rc=$?
[ "$rc" -eq 0 ] || sed 's/^/#   /' "$T/b.err"
ok "srun --kpy-env --kpy-uv-cache succeeds" test "$rc" -eq 0
job=$(val job "$T/b.out")
jobdir=$SCR/kpy-jobs/$job.$TUID
ok "the env is active" same "$(val venv "$T/b.out")" "$jobdir/kpy/demo"
ok "python imports from it" same "$(val import "$T/b.out")" "$jobdir/kpy/demo"
ok "and UV_CACHE_DIR is set" same "$(val cache "$T/b.out")" "$jobdir/kpy/.uv/uvc"
ok "the cache and the env share a file system" same "$(val samefs "$T/b.out")" yes
ok "a cache file hard-links into the env" same "$(val linked "$T/b.out")" yes

# KPY_UV_CACHE as the fallback
as_user env KPY_UV_CACHE=uvc srun bash -c "$probe" > "$T/c.out" 2> "$T/c.err"
ok "KPY_UV_CACHE=uvc srun restores it" same "$(val tag "$T/c.out")" yes

# a batch job with --export=NONE: the script and its sruns get it, restored once
cat > "$UH/uvjob.sh" <<EOS
#!/bin/bash
#SBATCH --kpy-uv-cache=uvc
$probe
srun bash -c 'echo "step=\$UV_CACHE_DIR"'
EOS
chown "$TU:" "$UH/uvjob.sh"
as_user timeout 120 sbatch -W --export=NONE -o "$UH/uvjob.out" "$UH/uvjob.sh" > /dev/null 2> "$T/d.err"
rc=$?
[ "$rc" -eq 0 ] || sed 's/^/#   /' "$T/d.err" "$UH/uvjob.out"
ok "sbatch --export=NONE with #SBATCH --kpy-uv-cache succeeds" test "$rc" -eq 0
job=$(val job "$UH/uvjob.out")
jobdir=$SCR/kpy-jobs/$job.$TUID
ok "the batch script has UV_CACHE_DIR" same "$(val cache "$UH/uvjob.out")" "$jobdir/kpy/.uv/uvc"
ok "an srun inside gets it too" same "$(val step "$UH/uvjob.out")" "$jobdir/kpy/.uv/uvc"
ok "restored once for the job" same "$(log_count "$job" 'restored the uv cache uvc into')" 1
ok "the step after found it in place" same "$(log_count "$job" 'the uv cache uvc already restored')" 1

# failures: the missing one is named with what is saved; both get their message
as_user srun --kpy-uv-cache=nosuch true > "$T/e.out" 2> "$T/e.err"
ok "a missing uv cache fails the step" test $? -ne 0
ok "naming it and the saved ones" grep -q "cannot restore uv cache 'nosuch'.*no saved uv cache named 'nosuch'.*saved: uvc" "$T/e.err"
as_user srun --kpy-env=nope --kpy-uv-cache=nosuch true > "$T/f.out" 2> "$T/f.err"
ok "both missing fails the step" test $? -ne 0
ok "with a message for the env" grep -q "cannot restore environment 'nope'" "$T/f.err"
ok "and one for the uv cache" grep -q "cannot restore uv cache 'nosuch'" "$T/f.err"
as_user srun --kpy-uv-cache=../x true > "$T/g.out" 2> "$T/g.err"
ok "a bad uv cache name is refused before the job" grep -q "kpy-uv-cache=../x: the uv cache name" "$T/g.err"
ok "node idle at the end (not drained)" node_idle

done_testing
