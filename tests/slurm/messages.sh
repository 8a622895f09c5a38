#!/bin/bash
# messages.sh: what the plugin says. A name with a newline or an escape sequence
# cannot forge lines in the root-owned slurmd log or drive the user's terminal; a
# missing env is reported as `kpy load` reports it, listing what is saved; with
# pipdir= in plugstack.conf the advice is not 'kpy config pipdir'.
. "$KPY_SRCDIR/tests/slurm/lib.sh"

ok "save demo in the site pipdir" runs make_site_pipdir
UP=$UH/pipdir
ok "$TU sets its pipdir with kpy config" runs as_user "$KPY" config pipdir "$UP"
mkdir -p "$UP/venv_archives"
cp "$P/venv_archives/demo.tar.zst" "$UP/venv_archives/demo.tar.zst"
cp "$P/venv_archives/demo.tar.zst" "$UP/venv_archives/science.tar.zst"
chown -R "$TU:" "$UP"
slurm_start tmpdir="$SCR"

# ---- untrusted text in messages -----------------------------------------------------
bad=$(printf 'x\nkpy: FORGED \033[31mred')
as_user timeout 60 srun --export=ALL,KPY_ENV="$bad" true > "$T/bad.out" 2> "$T/bad.err"
ok "a KPY_ENV with a newline and ESC reaching the node fails the step" test $? -ne 0
sed 's/^/#   /' "$T/bad.err"
ok "the slurmd log has a single line with it" same "$(grep -c FORGED "$CLUSTER_SLURMD_LOG")" 1
ok "that line is the plugin's error, with the newline escaped" \
	grep -qF "kpy: cannot use environment 'x\\nkpy: FORGED \\x1b[31mred'" "$CLUSTER_SLURMD_LOG"
ok "no ESC byte in the slurmd log" same "$(grep -c $'\033' "$CLUSTER_SLURMD_LOG")" 0
ok "the user sees it on one line too" same "$(grep -c FORGED "$T/bad.err")" 1
ok "and no ESC byte" same "$(grep -c $'\033' "$T/bad.err")" 0
as_user timeout 60 srun --kpy-env="$bad" true > "$T/opt.out" 2> "$T/opt.err"
ok "--kpy-env with a newline and ESC fails in srun" test $? -ne 0
ok "srun shows one line for it, escaped" \
	same "$(grep -c FORGED "$T/opt.err"):$(grep -c $'\033' "$T/opt.err")" "1:0"
as_user env KPY_ENV="$bad" timeout 60 srun true > "$T/env.out" 2> "$T/env.err"
ok "KPY_ENV with a newline and ESC fails in srun" test $? -ne 0
ok "srun shows one line for it, escaped" \
	same "$(grep -c FORGED "$T/env.err"):$(grep -c $'\033' "$T/env.err")" "1:0"

# ---- a missing env: the command's message, listing what is saved ---------------------
as_user "$KPY" load scince > /dev/null 2> "$T/load.err"
want=$(sed -n 's/^kpy: //p' "$T/load.err")
diag "kpy load says: $want"
ok "kpy load scince lists the saved names" has "$T/load.err" "saved: demo, science"
ok "srun --kpy-env=scince fails" expect_fail 1 "environment 'scince'" \
	as_user timeout 60 srun --kpy-env=scince true
ok "with the same message as kpy load" has "$T/err" "$want"

cluster_plugstack tmpdir="$SCR" pipdir="$P"
ok "with pipdir= set, a missing env lists the site's saved names" \
	expect_fail 1 "no saved environment named 'scince' in $P; saved: demo" \
	as_user timeout 60 srun --kpy-env=scince true
ok "and says nothing of kpy config" bash -c '! grep -q "kpy config" "$1"' _ "$T/err"
echo notadir > "$T/notadir"
cluster_plugstack tmpdir="$SCR" pipdir="$T/notadir"
ok "with pipdir= a file, the message names it and plugstack.conf" \
	expect_fail 1 "pipdir $T/notadir is not a directory: it is set in plugstack.conf \(pipdir=\): ask your admin" \
	as_user timeout 60 srun --kpy-env=demo true
ok "and says nothing of kpy config" bash -c '! grep -q "kpy config" "$1"' _ "$T/err"
cluster_plugstack tmpdir="$SCR" pipdir="$T/nosuchpipdir"
ok "with pipdir= missing: the fact, then ask your admin, never kpy config" \
	expect_fail 1 "pipdir $T/nosuchpipdir does not exist: it is set in plugstack.conf \(pipdir=\): ask your admin$" \
	as_user timeout 60 srun --kpy-env=demo true
ok "  ... and says nothing of kpy config" bash -c '! grep -q "kpy config" "$1"' _ "$T/err"
cluster_plugstack tmpdir="$SCR"
ok "the user's own pipdir missing: the plugin's remedy names kpy config, once" \
	expect_fail 1 "pipdir $UH/gone does not exist: make it a directory you can read, or set another with 'kpy config pipdir PATH' before you submit$" \
	as_user timeout 60 srun --export=ALL,KPY_PIPDIR="$UH/gone" --kpy-env=demo true
ok "  ... once" same "$(grep -o "kpy config" "$T/err" | wc -l)" 1
ok "node idle at the end" node_idle

done_testing
