# common.sh: sourced by the shell tests. TAP output, a scratch directory, real venvs.
# Needs KPY (the kpy binary) and KPY_SRCDIR, which `make check` sets.
set -u
: "${KPY:?run through make check, or set KPY to the kpy binary}"
: "${KPY_SRCDIR:?run through make check, or set KPY_SRCDIR to the source tree}"
# A base interpreter every user can reach (not a per-user pyenv/conda one).
KPY_TEST_PYTHON=${KPY_TEST_PYTHON:-/usr/bin/python3}
export PATH="/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
unset VIRTUAL_ENV PYTHONHOME PYTHONPATH SLURM_TMPDIR SLURM_JOB_ID KPY_PIPDIR \
	PIP_INDEX_URL PIP_FIND_LINKS PIP_NO_INDEX 2>/dev/null || true

_tap_n=0
_tap_failed=0
# ok DESCRIPTION COMMAND...: run COMMAND; one TAP line; keeps going on failure.
ok() {
	local desc=$1; shift
	_tap_n=$((_tap_n + 1))
	if "$@"; then
		echo "ok $_tap_n - $desc"
	else
		echo "not ok $_tap_n - $desc"
		_tap_failed=$((_tap_failed + 1))
	fi
}
skip_all() { echo "1..0 # SKIP $*"; exit 0; }
done_testing() { echo "1..$_tap_n"; [ "$_tap_failed" -eq 0 ]; }
diag() { printf '# %s\n' "$*"; }

# A scratch directory removed at exit; HOME and XDG dirs point inside it.
T=$(mktemp -d "${TMPDIR:-/tmp}/kpy-test.XXXXXX")
chmod 0755 "$T"
_cleanup_fns=""
at_exit() { _cleanup_fns="$1; $_cleanup_fns"; }
trap 'eval "$_cleanup_fns"; rm -rf "$T"' EXIT
export HOME="$T/home" XDG_CONFIG_HOME="$T/home/.config" XDG_DATA_HOME="$T/home/.local/share"
export TMPDIR="$T/tmp" KPY_SITE_CONFIG="$T/site-kpy.conf"
mkdir -p "$HOME" "$TMPDIR"

# mkwheel DIR NAME [VERSION]: build a small wheel with a console script NAME.
mkwheel() { "$KPY_TEST_PYTHON" "$KPY_SRCDIR/tests/lib/mkwheel.py" "$@"; }

# run CMD...: stdout to $T/out, stderr to $T/err, exit code in $rc
run() { "$@" > "$T/out" 2> "$T/err"; rc=$?; }
# says CODE TEXT CMD...: CMD exits CODE and its stderr holds the fixed string TEXT
says() {
	local code=$1 text=$2; shift 2
	run "$@"
	[ "$rc" -eq "$code" ] || { diag "expected exit $code, got $rc from: $*"; sed 's/^/#   /' "$T/err"; return 1; }
	grep -qF -- "$text" "$T/err" || { diag "stderr of '$*' lacks [$text]:"; sed 's/^/#   /' "$T/err"; return 1; }
}
# lacks TEXT: the last stderr does not hold TEXT
lacks() { ! grep -qF -- "$1" "$T/err" || { diag "stderr holds [$1]:"; sed 's/^/#   /' "$T/err"; return 1; }; }
# once TEXT: the last stderr holds TEXT exactly once
once() { [ "$(grep -oF -- "$1" "$T/err" | wc -l)" -eq 1 ] || { diag "[$1] not exactly once:"; sed 's/^/#   /' "$T/err"; return 1; }; }

# expect_fail CODE PATTERN COMMAND...: COMMAND exits CODE and its stderr matches PATTERN.
expect_fail() {
	local code=$1 pat=$2 rc; shift 2
	"$@" > "$T/out" 2> "$T/err"; rc=$?
	if [ "$rc" -ne "$code" ]; then
		diag "expected exit $code, got $rc from: $*"; sed 's/^/#   /' "$T/err"; return 1
	fi
	if ! grep -Eq -- "$pat" "$T/err"; then
		diag "stderr of '$*' does not match '$pat':"; sed 's/^/#   /' "$T/err"; return 1
	fi
}

# Where the kpy command puts things under this scratch HOME/TMPDIR.
U=${USER:-$(id -un)}
LIVE=$TMPDIR/kpy-$U
PIPDIR=$XDG_DATA_HOME/kpy
ARCH=$PIPDIR/venv_archives

# need_venv_tools: the file's tests need venvs with pip, and the zstd CLI.
need_venv_tools() {
	"$KPY_TEST_PYTHON" -c 'import venv, ensurepip' 2> /dev/null ||
		skip_all "$KPY_TEST_PYTHON cannot make venvs with pip (install python3-venv)"
	command -v zstd > /dev/null || skip_all "zstd not installed"
}

# same A B: the strings are equal (a diagnostic when not).
same() { [ "$1" = "$2" ] || { diag "expected [$2], got [$1]"; return 1; }; }
# has FILE TEXT: FILE contains the fixed string TEXT.
has() { grep -qF -- "$2" "$1"; }
# quiet COMMAND...: COMMAND with its output to $T/q.out, shown on failure.
quiet() { "$@" > "$T/q.out" 2>&1 || { sed 's/^/#   /' "$T/q.out"; return 1; }; }
# fails PATTERN COMMAND...: COMMAND exits 1 or 2 (failure or usage error) and its
# stderr matches PATTERN.
fails() {
	local pat=$1 rc; shift
	"$@" > "$T/out" 2> "$T/err"; rc=$?
	if [ "$rc" -ne 1 ] && [ "$rc" -ne 2 ]; then
		diag "expected exit 1 or 2, got $rc from: $*"; sed 's/^/#   /' "$T/err"; return 1
	fi
	grep -Eq -- "$pat" "$T/err" || { diag "stderr does not match '$pat':"; sed 's/^/#   /' "$T/err"; return 1; }
}
