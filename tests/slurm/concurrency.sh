#!/bin/bash
# concurrency.sh: 32 steps of one job start at once with --kpy-env, as an ordinary
# user: one restore on the node, every step gets the env and succeeds.
. "$KPY_SRCDIR/tests/slurm/lib.sh"

ok "save demo in the site pipdir" runs make_site_pipdir
slurm_start tmpdir="$SCR" pipdir="$P"
log_count() { grep -cE "\[$1\.[^]]*\] kpy: $2" "$CLUSTER_SLURMD_LOG"; }

cat > "$UH/many.sh" <<'SCRIPT'
#!/bin/sh
# the batch step has no --kpy-env: the 32 steps race for the first restore
for i in $(seq 32); do
	( srun --overlap -n 1 --kpy-env=demo python -c 'import hello, sys; print(sys.prefix)' \
		> "out.$i" 2> "err.$i"; echo $? > "rc.$i" ) &
done
wait
SCRIPT
chown "$TU:" "$UH/many.sh"
ok "a job with 32 simultaneous srun --kpy-env steps runs" \
	runs as_user timeout 300 sbatch --wait -o "$UH/many.out" "$UH/many.sh"
job=$(last_job)
rcs=$(cat "$UH"/rc.* 2> /dev/null | sort | uniq -c | awk '{ printf "%s:%s ", $2, $1 }')
ok "all 32 steps succeed" same "$rcs" "0:32 "
[ "$rcs" = "0:32 " ] || sed 's/^/#   /' "$UH"/err.* | sort | uniq -c | head
ok "every step ran the env's python" \
	same "$(cat "$UH"/out.* | sort -u | sed 's|.*/kpy/||')" demo
ok "one restore on the node" same "$(log_count "$job" 'restored demo into')" 1
ok "31 steps found it already restored" same "$(log_count "$job" 'demo already restored')" 31
ok "node idle at the end" node_idle
done_testing
