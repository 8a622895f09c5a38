# kpy shell integration for bash, printed by `kpy bash`.
#   eval "$(kpy bash)"        in ~/.bashrc (recommended: always the kpy in PATH's code)
#   kpy bash >> ~/.bashrc     a frozen copy, for every new shell
# It defines: the kpy function (create, load, activate and save change this
# shell's active venv; unload deactivates a removed one), pip/pip3 wrappers
# (offline on compute nodes, the pipdir wheelhouse everywhere), a prompt mark
# (*NAME) when the installed packages differ from the saved ones, and
# completion for kpy. A venv the job started with (srun --kpy-env, which
# exports VIRTUAL_ENV and PATH) is activated for real: prompt and deactivate.
# Nothing here runs a Slurm command or forks at shell start; set -u safe.

# __kpy_exe: set __kpy_x to the kpy in PATH (so an upgrade or a module switch
# takes effect), or to the binary that printed this code if PATH has none.
function __kpy_exe {
	local __kpy_d __kpy_rest=${PATH:-}:
	while [ -n "$__kpy_rest" ]; do
		__kpy_d=${__kpy_rest%%:*}
		__kpy_rest=${__kpy_rest#*:}
		if [ -n "$__kpy_d" ] && [ -f "$__kpy_d/kpy" ] && [ -x "$__kpy_d/kpy" ]; then
			__kpy_x=$__kpy_d/kpy
			return 0
		fi
	done
	__kpy_x="@KPY@"
}

# __kpy_strip DIR: set __kpy_p to PATH without its first entry DIR.
function __kpy_strip {
	local __kpy_s=":${PATH:-}:"
	__kpy_s=${__kpy_s/":$1:"/:}
	__kpy_s=${__kpy_s#:}
	__kpy_p=${__kpy_s%:}
}

# __kpy_offline: on a compute node make every pip and uv offline, as the
# plugin does (python -m pip, scripts and uv do not go through the wrapper).
# The export lines come from the binary (kpy bash --offline, not for users),
# which prints them only on a compute node: one table of variables and one
# compute-node rule for the plugin, kpy load --sh, kpy run and this.
function __kpy_offline {
	local __kpy_code __kpy_x
	__kpy_exe
	__kpy_code=$("$__kpy_x" bash --offline 2> /dev/null) || return 0
	eval "$__kpy_code"
}

# __kpy_switch DIR: make DIR the active venv. PATH stays as it is (entries
# added since the last activation, such as a module load, are kept), apart
# from the old venv's bin/ leaving and the new one's coming first.
function __kpy_switch {
	local __kpy_p
	if [ -n "${VIRTUAL_ENV:-}" ]; then
		__kpy_strip "$VIRTUAL_ENV/bin"
		if declare -F deactivate > /dev/null; then
			deactivate
		fi
		PATH=$__kpy_p
	fi
	# shellcheck disable=SC1090,SC1091
	. "$1/bin/activate"
}

# kpy ARGS...: run the kpy binary; if it names an environment on fd 9
# (KPY_ACTIVATE_FD), switch to it (__kpy_switch) and, on a compute node, make
# pip offline; if it names a uv cache there (UV_CACHE_DIR=PATH), export that. Stdout and stderr of the binary pass through untouched. If the
# active venv was removed (kpy unload), deactivate it.
function kpy {
	local __kpy_act __kpy_rc __kpy_x
	__kpy_exe
	{ __kpy_act=$(KPY_ACTIVATE_FD=9 "$__kpy_x" "$@" 9>&1 1>&8 8>&-); __kpy_rc=$?; } 8>&1
	# keep only the last line the binary wrote, if it wrote several
	__kpy_act=${__kpy_act##*$'\n'}
	if [ "${__kpy_act#UV_CACHE_DIR=}" != "$__kpy_act" ]; then
		# kpy load --uv-cache: uv finds the restored cache
		export UV_CACHE_DIR="${__kpy_act#UV_CACHE_DIR=}"
		__kpy_offline
	elif [ -n "$__kpy_act" ]; then
		if [ ! -f "$__kpy_act/bin/activate" ]; then
			printf 'kpy: cannot activate %s: %s/bin/activate not found\n' \
				"$__kpy_act" "$__kpy_act" >&2
			[ "$__kpy_rc" -ne 0 ] || __kpy_rc=1
			return "$__kpy_rc"
		fi
		__kpy_switch "$__kpy_act"
		__kpy_offline
	elif [ -n "${VIRTUAL_ENV:-}" ] && [ ! -d "$VIRTUAL_ENV" ] && declare -F deactivate > /dev/null; then
		deactivate
	fi
	return "$__kpy_rc"
}

# __kpy_on_compute: true inside a Slurm job or on a host matching one of the
# patterns of `kpy config compute_hosts`: the binary decides (kpy bash
# --on-compute, not for users), as it does for kpy load --sh and kpy run.
function __kpy_on_compute {
	[ -n "${SLURM_JOB_ID:-}" ] && return 0 # the common case, without a fork
	local __kpy_x
	__kpy_exe
	"$__kpy_x" bash --on-compute 2> /dev/null
}

# __kpy_pip PIP ARGS...: run PIP (the active venv's pip, found in PATH) with
# ARGS; for install, download and wheel add --no-index on compute nodes,
# --find-links <pipdir>/wheels everywhere, and for wheel a --wheel-dir of
# <pipdir>/wheels unless one was given (the wheelhouse path from the binary,
# kpy bash --wheelhouse; the flags agree with __kpy_offline's variables).
function __kpy_pip {
	local __kpy_pipcmd=$1
	shift
	local -a __kpy_pre=() __kpy_add=()
	local __kpy_sub="" __kpy_a __kpy_want="" __kpy_wheels __kpy_w=0 __kpy_x
	# global options before the subcommand; those listed take a value
	while [ $# -gt 0 ]; do
		__kpy_a=$1
		case $__kpy_a in
		--python|--log|--log-file|--local-log|--proxy|--retries|--timeout| \
		--exists-action|--trusted-host|--cert|--client-cert|--cache-dir| \
		--use-feature|--use-deprecated|--keyring-provider)
			__kpy_pre+=("$__kpy_a")
			shift
			[ $# -gt 0 ] || break
			__kpy_pre+=("$1")
			shift
			;;
		-*)
			__kpy_pre+=("$__kpy_a")
			shift
			;;
		*)
			__kpy_sub=$__kpy_a
			shift
			break
			;;
		esac
	done
	case $__kpy_sub in
	install|download|wheel) ;;
	*)
		if [ -n "$__kpy_sub" ]; then
			command "$__kpy_pipcmd" ${__kpy_pre[@]+"${__kpy_pre[@]}"} "$__kpy_sub" "$@"
		else
			command "$__kpy_pipcmd" ${__kpy_pre[@]+"${__kpy_pre[@]}"} "$@"
		fi
		return
		;;
	esac
	if __kpy_on_compute; then
		__kpy_add+=(--no-index)
	fi
	__kpy_exe
	__kpy_wheels=$("$__kpy_x" bash --wheelhouse 2> /dev/null) || __kpy_wheels=""
	if [ -n "$__kpy_wheels" ]; then
		[ -d "$__kpy_wheels" ] || mkdir -p -- "$__kpy_wheels" 2> /dev/null || true
		if [ -d "$__kpy_wheels" ]; then
			__kpy_add+=(--find-links "$__kpy_wheels")
			if [ "$__kpy_sub" = wheel ]; then
				for __kpy_a in "$@"; do
					case $__kpy_a in
					--) break ;;
					-w*|--wheel-dir|--wheel-dir=*) __kpy_w=1; break ;;
					esac
				done
				[ "$__kpy_w" -eq 1 ] || __kpy_add+=(--wheel-dir "$__kpy_wheels")
			fi
		fi
	fi
	command "$__kpy_pipcmd" ${__kpy_pre[@]+"${__kpy_pre[@]}"} "$__kpy_sub" \
		${__kpy_add[@]+"${__kpy_add[@]}"} "$@"
}
function pip { __kpy_pip pip "$@"; }
function pip3 { __kpy_pip pip3 "$@"; }

# __kpy_prompt: PROMPT_COMMAND hook. In a kpy venv (one with .kpy/packages,
# written by save and load), show "(*NAME) " instead of "(NAME) " while the
# *.dist-info names in site-packages differ from the saved list. No forks.
function __kpy_prompt {
	local __kpy_rc=$?
	local __kpy_env=${VIRTUAL_ENV:-}
	if [ -z "$__kpy_env" ] || [ ! -f "$__kpy_env/.kpy/packages" ]; then
		return "$__kpy_rc"
	fi
	local -A __kpy_saved=() __kpy_seen=()
	local -a __kpy_lines=() __kpy_found=()
	local __kpy_l __kpy_n=0 __kpy_m=0 __kpy_dirty=0 __kpy_name __kpy_clean __kpy_mark
	local __kpy_ng=1 __kpy_fg=1
	mapfile -t __kpy_lines < "$__kpy_env/.kpy/packages" 2> /dev/null || return "$__kpy_rc"
	for __kpy_l in ${__kpy_lines[@]+"${__kpy_lines[@]}"}; do
		__kpy_l=${__kpy_l%$'\r'}
		[ -n "$__kpy_l" ] || continue
		if [ -z "${__kpy_saved[$__kpy_l]+x}" ]; then
			__kpy_saved[$__kpy_l]=1
			__kpy_n=$((__kpy_n + 1))
		fi
	done
	shopt -q nullglob || __kpy_ng=0
	shopt -q failglob && __kpy_fg=0
	shopt -s nullglob
	shopt -u failglob
	__kpy_found=("$__kpy_env"/lib/python*/site-packages/*.dist-info)
	[ "$__kpy_ng" -eq 1 ] || shopt -u nullglob
	[ "$__kpy_fg" -eq 1 ] || shopt -s failglob
	for __kpy_l in ${__kpy_found[@]+"${__kpy_found[@]}"}; do
		__kpy_l=${__kpy_l##*/}
		[ -z "${__kpy_seen[$__kpy_l]+x}" ] || continue
		__kpy_seen[$__kpy_l]=1
		__kpy_m=$((__kpy_m + 1))
		if [ -z "${__kpy_saved[$__kpy_l]+x}" ]; then
			__kpy_dirty=1
			break
		fi
	done
	[ "$__kpy_m" -eq "$__kpy_n" ] || __kpy_dirty=1
	# the prompt name: VIRTUAL_ENV_PROMPT is "(NAME) " (3.11) or "NAME" (3.12+)
	__kpy_name=${VIRTUAL_ENV_PROMPT:-}
	if [[ $__kpy_name == "("*")"* ]]; then
		__kpy_name=${__kpy_name#"("}
		__kpy_name=${__kpy_name%" "}
		__kpy_name=${__kpy_name%")"}
	fi
	[ -n "$__kpy_name" ] || __kpy_name=${__kpy_env##*/}
	__kpy_name=${__kpy_name#"*"}
	__kpy_clean="($__kpy_name) "
	__kpy_mark="(*$__kpy_name) "
	if [ "$__kpy_dirty" -eq 1 ]; then
		if [[ ${PS1:-} == "$__kpy_clean"* ]]; then
			PS1=$__kpy_mark${PS1#"$__kpy_clean"}
		fi
	elif [[ ${PS1:-} == "$__kpy_mark"* ]]; then
		PS1=$__kpy_clean${PS1#"$__kpy_mark"}
	fi
	return "$__kpy_rc"
}

# add the hook once, after whatever PROMPT_COMMAND the user has
# bash 5.1+: PROMPT_COMMAND may be an array (${X@a} is a bad substitution before 4.4,
# hence the version test and the eval)
if [[ ${PROMPT_COMMAND+set} ]] && ((BASH_VERSINFO[0] >= 5)) &&
	eval '[[ ${PROMPT_COMMAND@a} == *a* ]]'; then
	case " ${PROMPT_COMMAND[*]} " in
	*__kpy_prompt*) ;;
	*) PROMPT_COMMAND+=(__kpy_prompt) ;;
	esac
else
	# shellcheck disable=SC2128,SC2178
	case ${PROMPT_COMMAND:-} in
	*__kpy_prompt*) ;;
	"") PROMPT_COMMAND=__kpy_prompt ;;
	*) PROMPT_COMMAND=$PROMPT_COMMAND$'\n'__kpy_prompt ;;
	esac
fi

# a venv the job started with (the plugin exports VIRTUAL_ENV and PATH): make
# it look and behave activated, without a second copy of its bin/ in PATH
if [ -n "${VIRTUAL_ENV:-}" ] && ! declare -F deactivate > /dev/null &&
	[ -f "$VIRTUAL_ENV/bin/activate" ]; then
	__kpy_switch "$VIRTUAL_ENV"
fi

# completion: commands; saved names (kpy list --names) for load, rm, export
# and save; live names (kpy activate) for activate; config keys (kpy config
# --keys: the binary's own table); scripts (*.py) for run, and script env keys
# for rm --script.
# __kpy_options CMD: the options of the command CMD, from the binary's command
# table (kpy bash writes this function).
@KPY_OPTIONS@

function __kpy_complete {
	local __kpy_cur=${COMP_WORDS[COMP_CWORD]:-} __kpy_cmd=${COMP_WORDS[1]:-}
	local __kpy_prev=${COMP_WORDS[COMP_CWORD-1]:-} __kpy_words="" __kpy_i __kpy_npos=0 __kpy_x
	COMPREPLY=()
	__kpy_exe
	if [ "$COMP_CWORD" -le 1 ]; then
		__kpy_words="@KPY_COMMANDS@ help --help --version"
		mapfile -t COMPREPLY < <(compgen -W "$__kpy_words" -- "$__kpy_cur")
		return 0
	fi
	# position of the current word among the command's non-option arguments,
	# and whether they name uv caches (--uv-cache) rather than envs
	local __kpy_kind=""
	for ((__kpy_i = 2; __kpy_i < COMP_CWORD; __kpy_i++)); do
		case ${COMP_WORDS[__kpy_i]} in
		--as|-j|--jobs) __kpy_i=$((__kpy_i + 1)) ;;
		--uv-cache) __kpy_kind=--uv-cache ;;
		-*) ;;
		*) __kpy_npos=$((__kpy_npos + 1)) ;;
		esac
	done
	case $__kpy_cur in
	-*)
		# the script's own options
		[ "$__kpy_cmd" != run ] || [ "$__kpy_npos" -eq 0 ] || return 0
		__kpy_words=$(__kpy_options "$__kpy_cmd")
		mapfile -t COMPREPLY < <(compgen -W "$__kpy_words" -- "$__kpy_cur")
		return 0
		;;
	esac
	# a number of threads: nothing to offer
	case $__kpy_prev in -j|--jobs) return 0 ;; esac
	case $__kpy_cmd in
	load)
		[ "$__kpy_prev" != --as ] || return 0
		[ "$__kpy_npos" -eq 0 ] || return 0
		# shellcheck disable=SC2086
		__kpy_words=$("$__kpy_x" list --names $__kpy_kind 2> /dev/null)
		;;
	rm|save)
		if [ "$__kpy_cmd" = save ] && [ -n "$__kpy_kind" ] && [ "$__kpy_npos" -eq 1 ]; then
			mapfile -t COMPREPLY < <(compgen -d -- "$__kpy_cur")
			return 0
		fi
		if [ "$__kpy_cmd" = rm ] && [ "${COMP_WORDS[2]:-}" = --script ]; then
			# the keys of the script environments (kpy list's last section)
			__kpy_words=$("$__kpy_x" list 2> /dev/null | sed -n '/^script environments/,$p' | sed '1,2d;s/ .*//')
			mapfile -t COMPREPLY < <(compgen -W "$__kpy_words" -- "$__kpy_cur")
			return 0
		fi
		[ "$__kpy_npos" -eq 0 ] || return 0
		# shellcheck disable=SC2086
		__kpy_words=$("$__kpy_x" list --names $__kpy_kind 2> /dev/null)
		;;
	export)
		if [ "$__kpy_npos" -eq 0 ]; then
			__kpy_words=$("$__kpy_x" list --names 2> /dev/null)
		else
			[ "$__kpy_npos" -eq 1 ] || return 0
			mapfile -t COMPREPLY < <(compgen -f -- "$__kpy_cur")
			return 0
		fi
		;;
	unload)
		__kpy_words=$(unset KPY_ACTIVATE_FD; "$__kpy_x" activate 2> /dev/null)
		;;
	activate)
		[ "$__kpy_npos" -eq 0 ] || return 0
		__kpy_words=$(unset KPY_ACTIVATE_FD; "$__kpy_x" activate 2> /dev/null)
		;;
	config)
		[ "$__kpy_npos" -eq 0 ] || return 0
		__kpy_words=$("$__kpy_x" config --keys 2> /dev/null)
		;;
	help)
		[ "$__kpy_npos" -eq 0 ] || return 0
		__kpy_words="@KPY_COMMANDS@ help"
		;;
	run)
		# the script: *.py files and directories; after it, its arguments: files
		if [ "$__kpy_npos" -eq 0 ]; then
			mapfile -t COMPREPLY < <(compgen -d -- "$__kpy_cur"; compgen -f -X '!*.py' -- "$__kpy_cur")
		else
			mapfile -t COMPREPLY < <(compgen -f -- "$__kpy_cur")
		fi
		return 0
		;;
	*) return 0 ;;
	esac
	mapfile -t COMPREPLY < <(compgen -W "$__kpy_words" -- "$__kpy_cur")
	return 0
}
complete -F __kpy_complete kpy 2> /dev/null || true
