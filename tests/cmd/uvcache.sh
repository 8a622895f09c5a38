#!/bin/bash
# uvcache.sh: kpy save/load/list/rm --uv-cache on a cache tree shaped like uv's
# (CACHEDIR.TAG, .lock files, archive-v0/ unpacked wheels, wheels-v*/ pointers,
# relative and absolute symlinks, hard links), round trip byte for byte, once per job,
# UV_CACHE_DIR through --sh and the shell function, on the envs' file system.
. "$KPY_SRCDIR/tests/lib/common.sh"

need_venv_tools
mkdir -p "$T/pybin"
ln -s "$KPY_TEST_PYTHON" "$T/pybin/python3"
export PATH="$T/pybin:$PATH" PIP_DISABLE_PIP_VERSION_CHECK=1
UVA=$PIPDIR/uv_caches

# mkcache DIR: a uv-like cache holding the unpacked hello wheel
mkcache() {
	local c=$1 id=01HZX4Q8K2 whl
	mkdir -p "$c/archive-v0/$id" "$c/wheels-v5/pypi/hello" "$c/simple-v16/pypi" \
		"$c/interpreter-v4" "$c/sdists-v9/.git"
	printf 'Signature: 8a477f597d28d172789f06886806bc55\n# This file is a cache directory tag created by uv.\n' > "$c/CACHEDIR.TAG"
	: > "$c/.lock"
	: > "$c/wheels-v5/pypi/hello/.lock"
	whl=$(mkwheel "$T/whl" hello 1.0) || return 1
	"$KPY_TEST_PYTHON" -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' \
		"$whl" "$c/archive-v0/$id" || return 1
	# uv's pointer to the unpacked wheel (a symlink), its HTTP metadata, an index entry
	ln -s "../../../archive-v0/$id" "$c/wheels-v5/pypi/hello/hello-1.0-py3-none-any"
	printf 'http-cache-policy\0binary\n' > "$c/wheels-v5/pypi/hello/hello-1.0-py3-none-any.http"
	ln -s "$c/archive-v0/$id" "$c/simple-v16/pypi/hello-abs"
	printf 'cache made at %s\n' "$c" > "$c/simple-v16/pypi/hello.rkyv"
	# hard links inside the cache
	ln "$c/archive-v0/$id/hello/__init__.py" "$c/archive-v0/$id/hello/linked.py"
	chmod 0444 "$c/archive-v0/$id/hello/__init__.py"
	# a file with a second link outside the cache: stored as a file
	ln "$c/simple-v16/pypi/hello.rkyv" "$T/outside-link"
}
# shape DIR: one line per entry (type, mode, size or link target), .kpy/ left out
shape() {
	(cd "$1" && find . -path ./.kpy -prune -o -printf '%P|%y|%m|%s|%l\n' | LC_ALL=C sort)
}
sums() { (cd "$1" && find . -path ./.kpy -prune -o -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum); }

C=$T/cache
ok "setup: a uv-shaped cache" mkcache "$C"
ok "save --uv-cache NAME DIR" quiet "$KPY" save --uv-cache c1 "$C"
ok "archive in <pipdir>/uv_caches" test -f "$UVA/c1.tar.zst"
ok "no venv archive made" test ! -e "$ARCH/c1.tar.zst"
ok "saving wrote nothing into the cache" test ! -e "$C/.kpy"
ok "tar --zstd lists it, hard link as a link" \
	sh -c 'tar --zstd -tvf "$1" | grep -q "hello/linked.py link to"' sh "$UVA/c1.tar.zst"
sum1=$(sha256sum < "$UVA/c1.tar.zst")
ok "save again without -f fails, naming -f --uv-cache" \
	fails "kpy save -f --uv-cache c1" "$KPY" save --uv-cache c1 "$C"
ok "the archive is unchanged" same "$(sha256sum < "$UVA/c1.tar.zst")" "$sum1"
echo more > "$C/interpreter-v4/new"
ok "save -f --uv-cache replaces it" quiet "$KPY" save -f --uv-cache c1 "$C"
ok "the new archive holds the new file" \
	sh -c 'tar --zstd -tf "$1" | grep -qx "interpreter-v4/new"' sh "$UVA/c1.tar.zst"

# the default cache: UV_CACHE_DIR, then XDG_CACHE_HOME/uv, then ~/.cache/uv
mkdir -p "$T/xdg" "$HOME/.cache"
cp -a "$C" "$T/xdg/uv" && cp -a "$C" "$HOME/.cache/uv"
ok "default DIR: UV_CACHE_DIR" quiet env UV_CACHE_DIR="$C" "$KPY" save --uv-cache d1
ok "it names the cache it saved" has "$T/q.out" "$C"
ok "default DIR: XDG_CACHE_HOME/uv" quiet env XDG_CACHE_HOME="$T/xdg" "$KPY" save --uv-cache d2
ok "it names it" has "$T/q.out" "$T/xdg/uv"
ok "default DIR: ~/.cache/uv" quiet env -u XDG_CACHE_HOME "$KPY" save --uv-cache d3
ok "it names it" has "$T/q.out" "$HOME/.cache/uv"
ok "a relative DIR (.) is saved under its clean absolute path" \
	sh -c 'cd "$1" && "$2" save --uv-cache dot . 2>&1 | grep -q "saved the uv cache $1 to"' sh "$C" "$KPY"
ok "  ... which its manifest records as the prefix" \
	sh -c 'tar --zstd -xOf "$1" .kpy/manifest.ini | grep -qx "prefix = $2"' sh "$UVA/dot.tar.zst" "$C"
"$KPY" rm --uv-cache dot > /dev/null 2>&1
mkdir -p "$T/notcache"
ok "a directory without CACHEDIR.TAG is refused" \
	fails "is not a uv cache.*CACHEDIR.TAG" "$KPY" save --uv-cache bad "$T/notcache"
ok "a missing directory is named" fails "no uv cache at $T/nope" "$KPY" save --uv-cache bad "$T/nope"
ok "nothing saved for them" test ! -e "$UVA/bad.tar.zst"
ok "a bad name is refused" fails "uv cache name" "$KPY" save --uv-cache ../x "$C"
ok "too many arguments" fails "too many arguments" "$KPY" save --uv-cache x "$C" extra

# list
"$KPY" list > "$T/list.out" 2> "$T/list.err"
ok "list shows a UV CACHE section" grep -q '^UV CACHE' "$T/list.out"
ok "with c1 and its file count" grep -Eq '^c1 .* [0-9]+$' "$T/list.out"
ok "list --uv-cache --names prints the names" \
	same "$("$KPY" list --uv-cache --names | tr '\n' ' ')" "c1 d1 d2 d3 "
ok "list --names stays the envs' names (none)" same "$("$KPY" list --names)" ""

# load in a job: once, beside the envs, with UV_CACHE_DIR and pip/uv offline
J=$T/job
mkdir -p "$J"
injob() { env SLURM_JOB_ID=77 SLURM_TMPDIR="$J" "$@"; }
injob "$KPY" load --uv-cache c1 --sh > "$T/sh.out" 2> "$T/sh.err"
ok "load --uv-cache --sh in a job succeeds" test $? -eq 0
ok "it exports UV_CACHE_DIR at <live root>/.uv/NAME" has "$T/sh.out" "export UV_CACHE_DIR='$J/kpy/.uv/c1'"
ok "and makes pip and uv offline" sh -c 'grep -q "PIP_NO_INDEX=1 UV_OFFLINE=1" "$1" && grep -q "UV_FIND_LINKS=" "$1"' sh "$T/sh.out"
ok "eval of it sets UV_CACHE_DIR to the restored cache" \
	sh -c 'eval "$(cat "$1")"; test -f "$UV_CACHE_DIR/CACHEDIR.TAG"' sh "$T/sh.out"
R=$J/kpy/.uv/c1
ok "the restored tree has the same shape, absolute links aside" \
	same "$(shape "$R" | grep -v hello-abs)" "$(shape "$C" | grep -v hello-abs)"
ok "and the same bytes" same "$(sums "$R")" "$(sums "$C")"
ok "the relative pointer into archive-v0 resolves" test -f "$R/wheels-v5/pypi/hello/hello-1.0-py3-none-any/hello/__init__.py"
ok "the absolute link points into the restored cache" \
	same "$(readlink "$R/simple-v16/pypi/hello-abs")" "$R/archive-v0/01HZX4Q8K2"
ok "text naming the old cache is left as it was (no relocation)" \
	has "$R/simple-v16/pypi/hello.rkyv" "cache made at $C"
ok "hard links come back as links" \
	same "$(stat -c %i "$R/archive-v0/01HZX4Q8K2/hello/__init__.py")" "$(stat -c %i "$R/archive-v0/01HZX4Q8K2/hello/linked.py")"
ok "with their link count" same "$(stat -c %h "$R/archive-v0/01HZX4Q8K2/hello/linked.py")" 2
ok "read-only files stay read-only" same "$(stat -c %a "$R/archive-v0/01HZX4Q8K2/hello/__init__.py")" 444
ino=$(stat -c %i "$R")
injob "$KPY" load --uv-cache c1 --sh > /dev/null 2> "$T/again.err"
ok "a second load in the job reuses it" has "$T/again.err" "already loaded"
ok "without restoring again" same "$(stat -c %i "$R")" "$ino"
ok "nothing is left beside it (no lock, no temp)" same "$(ls -A "$J/kpy/.uv")" "c1"

# on the envs' file system: an env created in the job can hard-link from the cache
injob "$KPY" create venv1 > /dev/null 2>&1
ok "a venv in the same job" test -f "$J/kpy/venv1/bin/activate"
ok "on the same file system as the cache" same "$(stat -c %d "$J/kpy/venv1")" "$(stat -c %d "$R")"
ok "a file of the cache hard-links into the venv (no copy)" \
	ln "$R/archive-v0/01HZX4Q8K2/hello/linked.py" "$J/kpy/venv1/lib/linked.py"

# 8 concurrent loads in a fresh job: one restore, all succeed
J8=$T/job8
mkdir -p "$J8"
for i in 1 2 3 4 5 6 7 8; do
	env SLURM_JOB_ID=78 SLURM_TMPDIR="$J8" "$KPY" load --uv-cache c1 --sh > "$T/c$i.out" 2> "$T/c$i.err" &
done
wait
ok "8 concurrent loads all print UV_CACHE_DIR" \
	same "$(grep -l "UV_CACHE_DIR='$J8/kpy/.uv/c1'" "$T"/c[1-8].out | wc -l)" 8
ok "exactly one of them restored" same "$(cat "$T"/c[1-8].err | grep -c 'loaded the uv cache')" 1

# exit status 3 in a job without --sh or the shell function; a hint elsewhere
ok "load --uv-cache in a job without the shell function exits 3" \
	expect_fail 3 "UV_CACHE_DIR is NOT set" injob "$KPY" load --uv-cache c1
ok "outside a job it says how to use it" \
	sh -c '"$1" load --uv-cache c1 2>&1 >/dev/null | grep -q "export UV_CACHE_DIR=$2/kpy-$3/.uv/c1"' sh "$KPY" "$TMPDIR" "$U"

# through the shell function
cat > "$T/fn.sh" <<'EOS'
set -u
eval "$("$KPY" bash)" || exit 99
export SLURM_JOB_ID=79 SLURM_TMPDIR=$1
kpy load --uv-cache c1 2> /dev/null || exit 98
echo "cache=${UV_CACHE_DIR:-}"
echo "offline=${UV_OFFLINE:-}:${PIP_NO_INDEX:-}"
echo "venv=${VIRTUAL_ENV:-}"
EOS
mkdir -p "$T/job9"
bash "$T/fn.sh" "$T/job9" > "$T/fn.out" 2> "$T/fn.err"
ok "the shell function's kpy load --uv-cache exports UV_CACHE_DIR" \
	same "$(sed -n 's/^cache=//p' "$T/fn.out")" "$T/job9/kpy/.uv/c1"
ok "and makes uv and pip offline in a job" same "$(sed -n 's/^offline=//p' "$T/fn.out")" "1:1"
ok "and activates no venv" same "$(sed -n 's/^venv=//p' "$T/fn.out")" ""

# reload after a newer save
injob "$KPY" load --uv-cache c1 --sh > /dev/null 2>&1
sleep 1
echo newer > "$C/interpreter-v4/newer"
quiet "$KPY" save -f --uv-cache c1 "$C"
ok "a newer save is noticed" \
	fails "saved again.*kpy load -f --uv-cache c1" injob "$KPY" load --uv-cache c1 --sh
ok "load -f --uv-cache reloads it" quiet injob "$KPY" load -f --uv-cache c1 --sh
ok "with the new file" test -f "$R/interpreter-v4/newer"

# the same name for a venv and a uv cache; mix-ups named
"$KPY_TEST_PYTHON" -m venv --without-pip "$T/venv" &&
	VIRTUAL_ENV=$T/venv "$KPY" save c1 > /dev/null 2>&1
ok "a venv may have a uv cache's name" test -f "$ARCH/c1.tar.zst"
ok "list shows both" sh -c '"$1" list | grep -c "^c1 " | grep -qx 2' sh "$KPY"
ok "load of a venv name that only a uv cache has says so" \
	fails "no saved environment named 'd1'.*a saved uv cache has that name" "$KPY" load d1

# rm
ok "rm --uv-cache removes one" quiet "$KPY" rm --uv-cache d3
ok "it is gone" test ! -e "$UVA/d3.tar.zst"
ok "rm --uv-cache of an unknown name lists the saved ones" \
	fails "no saved uv cache named 'zz'.*saved: c1, d1, d2" "$KPY" rm --uv-cache zz
ok "the venv c1 is still there" test -f "$ARCH/c1.tar.zst"
ok "rm -- --uv-cache-looking name is a name" fails "uv cache name|environment name" "$KPY" rm -- -x

# a damaged archive is named, and nothing half-restored is left
head -c 300 "$UVA/c1.tar.zst" > "$UVA/dmg.tar.zst"
mkdir -p "$T/jobd"
ok "a truncated uv cache archive is named as damaged" \
	fails "dmg.tar.zst.*damaged|damaged.*dmg.tar.zst" env SLURM_JOB_ID=80 SLURM_TMPDIR="$T/jobd" "$KPY" load --uv-cache dmg --sh
ok "nothing is left of it" same "$(ls -A "$T/jobd/kpy/.uv")" ""

# uv itself, where it is installed (not on Debian 12): a PEP 723 script run once
# online (the wheel directory stands in for the index) fills a real cache; saved,
# restored in a job, it runs the script offline
if command -v uv > /dev/null; then
	printf '# /// script\n# dependencies = ["hello"]\n# ///\nimport hello\nprint("ran")\n' > "$T/s.py"
	UV_CACHE_DIR=$T/realuv uv run -q --no-index --find-links "$T/whl" --python "$KPY_TEST_PYTHON" "$T/s.py" > /dev/null 2>&1
	ok "a real uv cache saved" quiet "$KPY" save --uv-cache real "$T/realuv"
	mkdir -p "$T/jobu"
	ok "uv run --offline from the restored cache" sh -c '
		eval "$(env SLURM_JOB_ID=81 SLURM_TMPDIR="$1" "$2" load --uv-cache real --sh)" &&
		uv run -q --offline --no-index --python "$3" "$4" | grep -qx ran' sh "$T/jobu" "$KPY" "$KPY_TEST_PYTHON" "$T/s.py"
else
	diag "uv is not installed: a real uv run from a restored cache is not tried"
fi

done_testing
