#!/bin/bash
# args.sh: the one argument parser (main.c, driven by the command table): "--" ends
# options in every command, a lone "-" is an operand, --help anywhere before "--",
# options before or after operands, one message for wrong operand counts, "did you
# mean" from each command's own options, and the config keys from their one table.
. "$KPY_SRCDIR/tests/lib/common.sh"

# usage_line CMD: the last stderr ends with CMD's usage line
usage_line() { tail -n 1 "$T/err" | grep -q "^usage: kpy $1" || { diag "no 'usage: kpy $1' line:"; sed 's/^/#   /' "$T/err"; return 1; }; }

"$KPY_TEST_PYTHON" -m venv --without-pip "$T/v" || skip_all "$KPY_TEST_PYTHON cannot make venvs"
for n in sci gone; do quiet env VIRTUAL_ENV="$T/v" "$KPY" save "$n"; done
ok "setup: sci and gone saved" test -f "$ARCH/sci.tar.zst" -a -f "$ARCH/gone.tar.zst"

# --- "--" ends options, everywhere ------------------------------------------------------
ok "load -- NAME loads NAME" quiet "$KPY" load -- sci
ok "  ... restored" test -x "$LIVE/sci/bin/python"
ok "rm -- NAME removes NAME" quiet "$KPY" rm -- gone
ok "  ... gone" test ! -e "$ARCH/gone.tar.zst"
ok "  ... sci kept" test -f "$ARCH/sci.tar.zst"
ok "list -- lists" bash -c '"$1" list -- 2> /dev/null | grep -q "^sci "' _ "$KPY"
ok "config -- KEY prints it" same "$("$KPY" config -- level 2> /dev/null)" 3
ok "config KEY -- VALUE sets it" quiet "$KPY" config level -- 4
ok "  ... set" same "$("$KPY" config level)" 4
ok "config --unset -- KEY removes it" quiet "$KPY" config --unset -- level
ok "  ... back to the default" same "$("$KPY" config level)" 3
ok "bash -- prints the code" bash -c 'c=$("$1" bash --) && [ -n "$c" ] && bash -n <<< "$c"' _ "$KPY"
ok "activate -- NAME" same "$("$KPY" activate -- sci)" "source '$LIVE/sci/bin/activate'"
ok "export -- NAME PATH" quiet "$KPY" export -- sci "$T/exp"
ok "save -f -- NAME" quiet env VIRTUAL_ENV="$T/v" "$KPY" save -f -- sci
ok "create -- NAME" quiet "$KPY" create -- made
ok "unload -- NAME" quiet "$KPY" unload -- made

# after "--", a name starting with '-' is a name, refused by the name check
for c in create save load activate unload rm export; do
	args=(-x); [ "$c" = export ] && args+=("$T/exp-x")
	ok "$c -- -x: refused as a name" says 1 "name '-x' starts with '-'" env VIRTUAL_ENV="$T/v" "$KPY" $c -- "${args[@]}"
	ok "  ... not as an option" lacks "unknown option"
done
ok "load --as -- -x: the value of --as is the next word" says 1 "'-x'" "$KPY" load sci --as -x
# a lone '-' is an operand, never an option
ok "list -: an unexpected argument, exit 2" says 2 "unexpected argument '-'" "$KPY" list -
ok "  ... not an unknown option" lacks "unknown option"
ok "  ... with list's usage line" usage_line list
ok "bash -: the same" says 2 "unexpected argument '-'" "$KPY" bash -
ok "load -: a name, refused by the name check" says 1 "name '-'" "$KPY" load -
ok "  ... not an unknown option" lacks "unknown option"

# --- --help before "--" is help; after it, an operand ------------------------------------
for c in create save load activate unload list rm export config bash; do
	"$KPY" help "$c" > "$T/help-$c" 2> /dev/null
	run "$KPY" "$c" x --help
	ok "$c x --help: the help, exit 0" bash -c '[ "$1" -eq 0 ] && cmp -s "$2" "$3"' _ "$rc" "$T/out" "$T/help-$c"
done
"$KPY" help run > "$T/help-run" 2> /dev/null
run "$KPY" run --prepare --help x.py
ok "run --prepare --help SCRIPT: the help (before SCRIPT)" bash -c '[ "$1" -eq 0 ] && cmp -s "$2" "$3"' _ "$rc" "$T/out" "$T/help-run"
ok "load --bogus --help: help wins over the error" bash -c '"$1" load --bogus --help | grep -q "^usage: kpy load"' _ "$KPY"
ok "load -- --help: a name, not help" says 1 "name '--help'" "$KPY" load -- --help
ok "  ... nothing on stdout" test ! -s "$T/out"
ok "rm -- --help: a name" says 1 "name '--help'" "$KPY" rm -- --help
ok "config -- --help: a key" says 2 "unknown setting '--help'" "$KPY" config -- --help
ok "run -- --help: a script" says 1 "no script --help" "$KPY" run -- --help
ok "run nosuch.py --help: the script's (options end at SCRIPT)" says 1 "no script nosuch.py" "$KPY" run nosuch.py --help
ok "  ... no help on stdout" test ! -s "$T/out"

# --- options before and after operands -------------------------------------------------
ok "load NAME --as NEW" quiet "$KPY" load sci --as sci2
ok "  ... there" test -x "$LIVE/sci2/bin/python"
ok "load NAME --as=NEW" quiet "$KPY" load sci --as=sci3
ok "  ... there" test -x "$LIVE/sci3/bin/python"
ok "load -f NAME --as NEW reloads" says 0 "loaded sci as sci2" "$KPY" load -f sci --as sci2
ok "load NAME --as: a usage error" says 2 "--as needs a name" "$KPY" load sci --as
ok "list --names=x: --names takes no value" says 2 "--names takes no value" "$KPY" list --names=x
ok "rm NAME --uv-cache (option last) is rm --uv-cache NAME" expect_fail 1 "uv.cache" "$KPY" rm sci --uv-cache
ok "  ... sci kept" test -f "$ARCH/sci.tar.zst"
ok "rm --uv-cache --script: one or the other" says 2 "give one of them" "$KPY" rm --uv-cache --script k

# --- operand counts: one message, exit 2, the usage line --------------------------------
ok "export a b c: too many, naming the first extra" says 2 "too many arguments: unexpected 'c'" "$KPY" export a b c
ok "  ... usage line" usage_line export
ok "save a b: too many" says 2 "too many arguments: unexpected 'b'" env VIRTUAL_ENV="$T/v" "$KPY" save a b
ok "save --uv-cache a b c: too many" says 2 "too many arguments: unexpected 'c'" "$KPY" save --uv-cache a b c
ok "rm a b: too many" says 2 "too many arguments: unexpected 'b'" "$KPY" rm a b
ok "rm --script KEY... takes many (not a usage error)" says 1 "script_envs" "$KPY" rm --script k1 k2
ok "config --unset a b: too many" says 2 "too many arguments: unexpected 'b'" "$KPY" config --unset a b
ok "config --keys x: unexpected" says 2 "unexpected argument 'x'" "$KPY" config --keys x
ok "export a: what is missing" says 2 "give the saved NAME and the PATH" "$KPY" export a
ok "rm --script: the KEY is missing" says 2 "give the KEY of the script environment" "$KPY" rm --script
ok "rm --uv-cache: the NAME is missing" says 2 "give the NAME of the saved uv cache" "$KPY" rm --uv-cache
ok "unload: the NAME is missing" says 2 "give the NAME of the live environment" "$KPY" unload
ok "a usage error under --sh prints 'false' (load too)" bash -c '[ "$("$1" load --sh --bogus 2> /dev/null)" = false ]' _ "$KPY"

# --- did you mean: each command's own options ------------------------------------------
while read -r c typo want; do
	ok "$c $typo: did you mean '$want'" says 2 "unknown option '$typo'; did you mean '$want'?" env VIRTUAL_ENV="$T/v" "$KPY" $c $typo
	ok "  ... with $c's usage line" usage_line "$c"
done << 'EOF'
create --hlep --help
save --froce --force
save --uv-cach --uv-cache
load --ass --as
load --frce --force
load --jbos --jobs
save --jbos --jobs
activate --lnog --long
activate --hs --sh
unload --hepl --help
list --nmaes --names
rm --scirpt --script
export --hlep --help
config --kyes --keys
run --prepar --prepare
bash --hlp --help
EOF
ok "load --ass=x: the value is left out of the guess" says 2 "did you mean '--as'?" "$KPY" load sci --ass=x
ok "list --sh: another command's option is unknown here" says 2 "unknown option '--sh'" "$KPY" list --sh
ok "  ... and not offered" lacks "did you mean"

# --- config keys: one table -------------------------------------------------------------
keys=$("$KPY" config --keys)
ok "config --keys lists the keys" same "$(echo $keys)" "pipdir compute_hosts level site_pipdir threads"
"$KPY" help config > "$T/help-config"
"$KPY" config > "$T/config-all"
for k in $keys; do
	ok "help config describes $k, with its default" grep -Eq "^  $k +.*\(default: .+\)$" "$T/help-config"
	ok "  ... in one line of at most 80 columns" bash -c 'grep -E "^  $2 " "$1" | awk "length > 80 { exit 1 }"' _ "$T/help-config" "$k"
	ok "config prints $k" grep -q "^$k = " "$T/config-all"
	ok "kpy(1) names $k" grep -qw -- "$k" "$KPY_SRCDIR/man/kpy.1.in"
	ok "kpy.conf(5) describes $k under KEYS" \
		bash -c 'sed -n "/^\.SH KEYS/,/^\.SH [^K]/p" "$1" | grep -qx "\.B $2"' _ "$KPY_SRCDIR/man/kpy.conf.5.in" "$k"
	ok "README's table has $k" grep -q "^| \`$k\` |" "$KPY_SRCDIR/README.md"
done
ok "config nokey: the unknown-key message names every key" says 2 "the settings are pipdir, compute_hosts, level, site_pipdir, threads" "$KPY" config nokey
ok "completion offers the binary's keys" \
	same "$(bash -c 'eval "$("$1" bash)"; COMP_WORDS=(kpy config ""); COMP_CWORD=2; __kpy_complete; echo ${COMPREPLY[*]}' _ "$KPY")" "$(echo $keys)"
ok "completion offers config's options" \
	same "$(bash -c 'eval "$("$1" bash)"; COMP_WORDS=(kpy config --k); COMP_CWORD=2; __kpy_complete; echo ${COMPREPLY[*]}' _ "$KPY")" "--keys"

done_testing
