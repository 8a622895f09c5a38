#!/bin/bash
# cli.sh: help, version, exit codes (0 ok, 1 failure, 2 usage error), messages
# on stderr prefixed "kpy: ", data on stdout.
. "$KPY_SRCDIR/tests/lib/common.sh"

CMDS="create save load activate list rm export config bash"
# usage_error ARGS...: kpy ARGS exits 2, stdout empty, stderr starts with "kpy: "
usage_error() {
	run "$KPY" "$@"
	[ "$rc" -eq 2 ] || { diag "kpy $*: expected exit 2, got $rc"; sed 's/^/#   /' "$T/err"; return 1; }
	[ ! -s "$T/out" ] || { diag "kpy $*: stdout not empty"; return 1; }
	head -n 1 "$T/err" | grep -q '^kpy: ' || { diag "kpy $*: stderr not 'kpy: ...'"; sed 's/^/#   /' "$T/err"; return 1; }
}
# failure ARGS...: kpy ARGS exits 1, stdout empty, every stderr line "kpy: "
failure() {
	run "$KPY" "$@"
	[ "$rc" -eq 1 ] || { diag "kpy $*: expected exit 1, got $rc"; sed 's/^/#   /' "$T/err"; return 1; }
	[ ! -s "$T/out" ] || { diag "kpy $*: stdout not empty"; return 1; }
	head -n 1 "$T/err" | grep -q '^kpy: ' || { diag "kpy $*: stderr not 'kpy: ...'"; sed 's/^/#   /' "$T/err"; return 1; }
}

# --- help ---------------------------------------------------------------------------
run "$KPY" --help
ok "--help exits 0" test "$rc" -eq 0
ok "--help prints on stdout" test -s "$T/out"
ok "--help nothing on stderr" test ! -s "$T/err"
ok "--help names every command" bash -c 'for c in $2; do grep -qw -- "$c" "$1" || exit 1; done' _ "$T/out" "$CMDS"
ok "--help shows usage" grep -qi 'usage' "$T/out"
ok "--help mentions --version" grep -q -- '--version' "$T/out"
cp "$T/out" "$T/help"
for c in $CMDS; do
	run "$KPY" help "$c"
	ok "help $c exits 0" test "$rc" -eq 0
	ok "help $c prints a usage naming $c" grep -q -- "kpy $c" "$T/out"
	cp "$T/out" "$T/help-$c"
	run "$KPY" "$c" --help
	ok "$c --help exits 0" test "$rc" -eq 0
	ok "$c --help is help $c" cmp -s "$T/out" "$T/help-$c"
done
ok "help load mentions --as" grep -q -- '--as' "$T/help-load"
ok "help save mentions -f" grep -q -- '-f' "$T/help-save"
ok "help list mentions --names" grep -q -- '--names' "$T/help-list"
ok "help config mentions --unset" grep -q -- '--unset' "$T/help-config"
ok "help config lists the keys" bash -c 'for k in pipdir compute_hosts level; do grep -q "$k" "$1" || exit 1; done' _ "$T/help-config"
ok "help of an unknown command is a usage error" usage_error help nosuch

# --- version -------------------------------------------------------------------------
ver=$(sed -n 's/^AC_INIT(\[kpy\], *\[\([^]]*\)\].*/\1/p' "$KPY_SRCDIR/configure.ac")
run "$KPY" --version
ok "--version exits 0" test "$rc" -eq 0
ok "--version prints 'kpy VERSION'" same "$(cat "$T/out")" "kpy $ver"
ok "--version nothing on stderr" test ! -s "$T/err"

# --- usage errors: exit 2 -------------------------------------------------------------
run "$KPY"
ok "no arguments: exit 2, usage on stderr, nothing on stdout" \
	bash -c '[ "$1" -eq 2 ] && [ ! -s "$2" ] && grep -qi usage "$3"' _ "$rc" "$T/out" "$T/err"
ok "unknown command" usage_error nosuchcommand
ok "unknown command is named" grep -q 'nosuchcommand' "$T/err"
ok "unknown global option" usage_error --bogus
ok "unknown option to list" usage_error list --bogus
ok "unknown option to save" usage_error save --bogus x
ok "unknown option to load" usage_error load x --bogus
ok "save without a name" usage_error save
ok "save with two names" usage_error save a b
ok "load --as without a value" usage_error load x --as
ok "load with two names" usage_error load a b
ok "rm without a name" usage_error rm
ok "rm with two names" usage_error rm a b
ok "export without a path" usage_error export a
ok "export without arguments" usage_error export
ok "export with three arguments" usage_error export a b c
ok "activate with two names" usage_error activate a b
ok "create with three arguments" usage_error create 3.11 a b
ok "list with an argument" usage_error list a
ok "config with three arguments" usage_error config a b c
ok "config --unset without a key" usage_error config --unset
ok "bash with an argument" usage_error bash x

# --- failures: exit 1 ---------------------------------------------------------------------
ok "rm of an unknown name" failure rm nosuch
ok "load of an unknown name" failure load nosuch
ok "export of an unknown name" failure export nosuch "$T/x"
ok "activate of an unknown name" failure activate nosuch
ok "save with no active venv" failure save x
ok "create with a Python that is not installed" failure create 3.99 x
ok "  ... names python3.99" grep -q 'python3.99' "$T/err"
ok "  ... made nothing" test ! -e "$TMPDIR/kpy-${USER:-$(id -un)}/x"

# --- success: exit 0, data on stdout ---------------------------------------------------------
run "$KPY" list
ok "list with nothing saved exits 0" test "$rc" -eq 0
ok "list with nothing saved prints the header" grep -Eq '^NAME +PYTHON +SIZE +SAVED' "$T/out"
run "$KPY" list --names
ok "list --names with nothing saved: exit 0, empty" bash -c '[ "$1" -eq 0 ] && [ ! -s "$2" ]' _ "$rc" "$T/out"
run "$KPY" activate
ok "activate with nothing live: exit 0, empty" bash -c '[ "$1" -eq 0 ] && [ ! -s "$2" ]' _ "$rc" "$T/out"
run "$KPY" config
ok "config exits 0" test "$rc" -eq 0
ok "config prints key = value lines" bash -c '[ "$(grep -Ecv "^[a-z_]+ =( |\$)" "$1")" = 0 ]' _ "$T/out"
run "$KPY" config pipdir
ok "config pipdir: value on stdout, nothing on stderr" \
	bash -c '[ "$1" -eq 0 ] && [ -s "$2" ] && [ ! -s "$3" ]' _ "$rc" "$T/out" "$T/err"
run "$KPY" bash
ok "bash exits 0 with code on stdout" bash -c '[ "$1" -eq 0 ] && [ -s "$2" ] && [ ! -s "$3" ]' _ "$rc" "$T/out" "$T/err"
ok "bash code parses" bash -n "$T/out"

done_testing
