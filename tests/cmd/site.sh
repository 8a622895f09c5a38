#!/bin/bash
# site.sh: the site store (site_pipdir in the site file): an admin publishes envs and
# uv caches with kpy save --site; an ordinary user lists them apart from their own,
# loads and exports them (their own name wins, site:NAME forces the site's), cannot
# write or remove there, and a load writes nothing there (the store is read-only for
# them: a root-owned 0755 directory as root, a 0555 one otherwise). Missing or
# unreadable site pipdirs get a message, not a crash.
. "$KPY_SRCDIR/tests/lib/common.sh"

need_venv_tools
export PIP_DISABLE_PIP_VERSION_CHECK=1
SITE=$T/site
SITE2=$T/site2
mkdir -p "$SITE" "$SITE2"
printf '[kpy]\nsite_pipdir = %s\n' "$SITE" > "$KPY_SITE_CONFIG"

# The ordinary user: kpytest when run as root, else whoever runs the tests (then the
# store is made read-only with chmod, which binds its owner too).
UH=$T/uhome
mkdir -p "$UH/tmp"
if [ "$(id -u)" -eq 0 ]; then
	TU=kpytest
	id -u "$TU" > /dev/null 2>&1 || useradd -M -d /nonexistent -s /bin/sh "$TU" ||
		{ echo "Bail out! cannot create the test user $TU"; exit 1; }
	chown -R "$TU:" "$UH"
	as_user() {
		(cd "$UH" && runuser -u "$TU" -- env HOME="$UH" TMPDIR="$UH/tmp" XDG_CONFIG_HOME="$UH/.config" \
			XDG_DATA_HOME="$UH/.local/share" KPY_SITE_CONFIG="$KPY_SITE_CONFIG" "$@")
	}
	lock_site() { :; }
	unlock_site() { :; }
else
	TU=$U
	as_user() {
		(cd "$UH" && env HOME="$UH" TMPDIR="$UH/tmp" XDG_CONFIG_HOME="$UH/.config" \
			XDG_DATA_HOME="$UH/.local/share" "$@")
	}
	lock_site() { chmod -R a-w "$SITE" "$SITE2"; }
	unlock_site() { chmod -R u+w "$SITE" "$SITE2"; }
	at_exit unlock_site
fi
UPIP=$UH/.local/share/kpy
ULIVE=$UH/tmp/kpy-$TU

# mkvenv DIR MARK: a venv (no pip: fast) whose file mark says MARK
mkvenv() { "$KPY_TEST_PYTHON" -m venv --without-pip "$1" && echo "$2" > "$1/mark"; }
# listing DIR: every entry with type, mode, size, mtime and ctime: what a write changes
listing() { (cd "$1" && find . -printf '%p|%y|%m|%s|%T@|%C@\n' | LC_ALL=C sort); }

# ---- the admin publishes ----
setup_venvs() {
	mkvenv "$T/sci" site-sci && mkvenv "$T/sitedup" site-dup && mkvenv "$T/owndup" own-dup &&
		mkvenv "$T/other" site2-sci && chown -R "$TU" "$T/owndup"
}
ok "setup: venvs for the site and the user" setup_venvs
ok "save --site publishes to the site pipdir" \
	says 0 "$SITE/venv_archives/sci.tar.zst" env VIRTUAL_ENV="$T/sci" sh -c 'umask 077; exec "$0" save --site sci' "$KPY"
ok "  ... readable by everyone, whatever the admin's umask" \
	same "$(stat -c %a "$SITE/venv_archives/sci.tar.zst" "$SITE/venv_archives")" "644
755"
ok "  ... and nothing in the admin's own pipdir" test ! -e "$ARCH/sci.tar.zst"
ok "save --site again without -f is refused" \
	says 1 "save -f" env VIRTUAL_ENV="$T/sci" "$KPY" save --site sci
ok "save --site -f replaces it" quiet env VIRTUAL_ENV="$T/sci" "$KPY" save --site -f sci
ok "save --site dup (the same name as a user's)" quiet env VIRTUAL_ENV="$T/sitedup" "$KPY" save --site dup
mkdir -p "$T/uvc/wheels-v5"
printf 'Signature: 8a477f597d28d172789f06886806bc55\n' > "$T/uvc/CACHEDIR.TAG"
echo wheel > "$T/uvc/wheels-v5/w"
ok "save --site --uv-cache publishes a uv cache" quiet "$KPY" save --site --uv-cache ml "$T/uvc"
ok "  ... to <site>/uv_caches" test -f "$SITE/uv_caches/ml.tar.zst"
ok "no temporary files left in the site pipdir" \
	same "$(find "$SITE" -name '.*' | wc -l)" 0
ok "rm --site by the admin removes from the site pipdir" \
	sh -c 'VIRTUAL_ENV="$2/sci" "$1" save --site gone >/dev/null 2>&1 && "$1" rm --site gone 2>/dev/null &&
		test ! -e "$3/venv_archives/gone.tar.zst"' sh "$KPY" "$T" "$SITE"
if [ "$(id -u)" -eq 0 ]; then
	chown -R root:root "$SITE" && chmod -R go-w "$SITE"
fi

# ---- the user ----
ok "the user saves their own dup" quiet as_user env VIRTUAL_ENV="$T/owndup" "$KPY" save dup
lock_site
before=$(listing "$SITE")

ok "list: the user's envs, then a site section" run as_user "$KPY" list
ok "  ... exit 0, and the user's table first" \
	sh -c '[ "$1" -eq 0 ] && head -n 2 "$2" | tail -n 1 | grep -q "^dup "' sh "$rc" "$T/out"
ok "  ... 'site envs (SITE):' heads the site's" grep -qxF "site envs ($SITE):" "$T/out"
ok "  ... sci is listed after it" \
	sh -c 'sed -n "/^site envs/,\$p" "$1" | grep -q "^sci "' sh "$T/out"
ok "  ... the site's dup shows as site:dup (the user's own wins)" \
	sh -c 'sed -n "/^site envs/,\$p" "$1" | grep -q "^site:dup "' sh "$T/out"
ok "  ... and the site's uv caches have their section" \
	sh -c 'grep -qxF "site uv caches ($2):" "$1" && sed -n "/^site uv caches/,\$p" "$1" | grep -q "^ml "' sh "$T/out" "$SITE"
ok "list --names: own, then the site's as load takes them" \
	same "$(as_user "$KPY" list --names)" "dup
site:dup
sci"
run as_user "$KPY" list --uv-cache
ok "list --uv-cache: the site's uv caches too" \
	sh -c 'grep -qxF "site uv caches ($2):" "$1" && grep -q "^ml " "$1"' sh "$T/out" "$SITE"

ok "load NAME finds the site's env (the user has none)" \
	says 0 "loaded sci into $ULIVE/sci" as_user "$KPY" load sci
ok "  ... it is the site's, and runs" \
	sh -c 'grep -qx site-sci "$1/sci/mark" && "$1/sci/bin/python" -c "import sys; assert sys.prefix == \"$1/sci\""' sh "$ULIVE"
ok "load dup: the user's own wins" quiet as_user "$KPY" load dup
ok "  ... it holds the user's" grep -qx own-dup "$ULIVE/dup/mark"
ok "load site:dup forces the site's" quiet as_user "$KPY" load site:dup --as sdup
ok "  ... it holds the site's" grep -qx site-dup "$ULIVE/sdup/mark"
ok "load site:dup without --as, once dup is live: not the user's copy" \
	says 1 "kpy load -f site:dup --as dup" as_user "$KPY" load site:dup
ok "load site:sci again: already loaded" says 0 "sci is already loaded" as_user "$KPY" load site:sci
run as_user "$KPY" activate -l
ok "activate -l: the site env is 'as saved'" grep -Eq "^sci +sci .*as saved" "$T/out"
ok "  ... site:dup loaded as sdup holds the site's save" grep -Eq "^sdup +dup .*as saved \(site:dup\)" "$T/out"
ok "  ... and the user's own dup is as saved" grep -Eq "^dup +dup .*as saved +/" "$T/out"
ok "export site:sci PATH" quiet as_user "$KPY" export site:sci "$UH/exported"
ok "  ... the site's env, relocated" \
	sh -c 'grep -qx site-sci "$1/mark" && grep -q "$1" "$1/bin/activate"' sh "$UH/exported"
ok "load --uv-cache ml: the site's uv cache" quiet as_user "$KPY" load --uv-cache ml
ok "  ... restored" grep -qx wheel "$ULIVE/.uv/ml/wheels-v5/w"
ok "nothing written in the site pipdir by any of it" same "$(listing "$SITE")" "$before"

# ---- what users cannot do there ----
ok "rm site:NAME is refused" says 1 "the site store is read-only for users" as_user "$KPY" rm site:sci
ok "rm NAME the user lacks names the site's" \
	says 1 "the site store $SITE has 'sci', which is read-only for you" as_user "$KPY" rm sci
ok "save site:NAME is refused, naming save --site and the own name" \
	says 1 "'kpy save x'" as_user env VIRTUAL_ENV="$T/owndup" "$KPY" save site:x
ok "save --site by a user: read-only for them" \
	says 1 "the site pipdir $SITE is read-only for you" as_user env VIRTUAL_ENV="$T/owndup" "$KPY" save --site x
ok "rm --site by a user: read-only for them" \
	says 1 "the site pipdir $SITE is read-only for you" as_user "$KPY" rm --site sci
ok "  ... and the site's archives are all still there" same "$(listing "$SITE")" "$before"
ok "the user's own rm still works" quiet as_user "$KPY" rm dup
run as_user "$KPY" list --names
ok "  ... and then dup is the site's" same "$(cat "$T/out")" "dup
sci"

# the user's pipdir there but unreadable: an error, not the site's env of that name
chmod 000 "$UPIP/venv_archives"
ok "own pipdir unreadable: load sci (a site env) fails naming the user's store" \
	says 1 "$UPIP" as_user "$KPY" load sci --as unreadable
ok "  ... and restores nothing" test ! -e "$ULIVE/unreadable"
chmod 0755 "$UPIP/venv_archives"

# ---- errors ----
ok "load site:NAME of no site env lists the site's" \
	says 1 "no site environment 'nope': no saved environment named 'nope' in $SITE" as_user "$KPY" load site:nope
ok "  ... with did-you-mean among them" says 1 "did you mean 'sci'?" as_user "$KPY" load site:scy
ok "load NAME in neither store names both" \
	says 1 "; nor in the site store: no saved environment named 'nope' in $SITE" as_user "$KPY" load nope
ok "site: with a bad name is refused as a name" \
	says 1 "environment name 'a/b' contains '/'" as_user "$KPY" load site:a/b
ok "kpy config site_pipdir is refused: a site setting" \
	says 1 "site_pipdir is read from the site file only" as_user "$KPY" config site_pipdir /x
mkdir -p "$UH/.config/kpy" && printf '[kpy]\nsite_pipdir = /x\n' > "$UH/.config/kpy/config.ini" &&
	chown -R "$TU" "$UH/.config"
ok "site_pipdir in the user's file: an error naming it" \
	says 1 "site_pipdir is set in $UH/.config/kpy/config.ini" as_user "$KPY" list
ok "  ... which kpy config --unset removes" quiet as_user "$KPY" config --unset site_pipdir
ok "  ... and list works again" quiet as_user "$KPY" list
ok "kpy config shows site_pipdir" sh -c '"$0" config site_pipdir | grep -qxF "$1"' "$KPY" "$SITE"
printf '[kpy]\nsite_pipdir = site-relative\n' > "$T/rel.conf"
ok "a relative site_pipdir is an error" \
	says 1 "site_pipdir 'site-relative' (from $T/rel.conf) is not an absolute path" \
	env KPY_SITE_CONFIG="$T/rel.conf" "$KPY" list

# a site pipdir that is not there
printf '[kpy]\nsite_pipdir = %s/nosuch\n' "$T" > "$T/missing.conf"
ok "list with a missing site pipdir: a warning, exit 0" \
	says 0 "the site pipdir $T/nosuch does not exist" env KPY_SITE_CONFIG="$T/missing.conf" "$KPY" list
ok "  ... once" once "the site pipdir $T/nosuch does not exist"
ok "load site:NAME from it: exit 1, naming it, and who to ask" \
	says 1 "set by your admin: ask them" env KPY_SITE_CONFIG="$T/missing.conf" "$KPY" load site:sci
ok "  ... saying it does not exist" grep -q "the site pipdir $T/nosuch does not exist" "$T/err"
ok "site:NAME with no site_pipdir set: a clear error" \
	says 1 "'site:sci' names the site store, but none is set up here" env KPY_SITE_CONFIG=/nonexistent "$KPY" load site:sci
if [ "$(id -u)" -eq 0 ]; then
	mkdir -p "$T/closed/venv_archives" && chmod 0700 "$T/closed"
	printf '[kpy]\nsite_pipdir = %s/closed\n' "$T" > "$T/closed.conf"
	ok "an unreadable site pipdir: load says so" \
		says 1 "the site pipdir $T/closed is not readable by you" \
		as_user env KPY_SITE_CONFIG="$T/closed.conf" "$KPY" load site:sci
	ok "  ... and list warns, exit 0" \
		says 0 "cannot list the site store" as_user env KPY_SITE_CONFIG="$T/closed.conf" "$KPY" list
fi

# ---- a list of site pipdirs: the first that has the name wins ----
unlock_site
printf '[kpy]\nsite_pipdir = %s:%s\n' "$SITE2" "$SITE" > "$T/two.conf"
ok "save --site publishes to the first site pipdir" \
	says 0 "$SITE2/venv_archives/sci.tar.zst" env KPY_SITE_CONFIG="$T/two.conf" VIRTUAL_ENV="$T/other" "$KPY" save --site sci
lock_site
# (without ctimes: unlock_site and lock_site chmod it when not run as root)
ok "  ... the other site pipdir is unchanged" same "$(listing "$SITE" | cut -d'|' -f1-5)" "$(echo "$before" | cut -d'|' -f1-5)"
ok "load site:sci takes the first site pipdir's" \
	quiet as_user env KPY_SITE_CONFIG="$T/two.conf" "$KPY" load site:sci --as first
ok "  ... it is SITE2's" grep -qx site2-sci "$ULIVE/first/mark"
ok "load dup falls through to the second site pipdir" \
	quiet as_user env KPY_SITE_CONFIG="$T/two.conf" "$KPY" load dup --as second
ok "  ... it is SITE's" grep -qx site-dup "$ULIVE/second/mark"
ok "list shows both site sections, SITE2 first" \
	same "$(KPY_SITE_CONFIG=$T/two.conf "$KPY" list 2>/dev/null | grep '^site envs' | tr '\n' ' ')" \
	"site envs ($SITE2): site envs ($SITE): "

done_testing
