# bench/tools/common.sh: shell helpers shared by bench/compare and
# bench/variants (sourced, not run).

# command_line ARGS...: sets COMMAND_LINE to the command as typed, quoting only
# what needs it, so it can be pasted back.
command_line() {
    COMMAND_LINE=
    local arg
    for arg in "$@"; do
        if [[ $arg =~ ^[A-Za-z0-9_./=,:@+-]+$ ]]; then COMMAND_LINE+="$arg "; else COMMAND_LINE+="$(printf '%q' "$arg") "; fi
    done
}

# trim STRING: without leading/trailing blanks, inner runs of blanks squeezed.
trim() { local -a w; read -r -a w <<<"$1"; echo "${w[*]}"; }

# load_workloads CONF QUICK: reads bench/workloads.conf into WL_ORDER (names
# in file order), WL_PROG[name] (program) and WL_ARGS[name] (the full-size
# arguments, or the --quick ones when QUICK is 1).
load_workloads() {
    local conf=$1 quick=$2 name prog full small
    declare -gA WL_PROG=() WL_ARGS=()
    WL_ORDER=()
    while IFS='|' read -r name prog full small; do
        name=$(trim "$name")
        [ -n "$name" ] && [ "${name:0:1}" != "#" ] || continue
        WL_PROG[$name]=$(trim "$prog")
        if [ "$quick" = 1 ]; then WL_ARGS[$name]=$(trim "$small"); else WL_ARGS[$name]=$(trim "$full"); fi
        WL_ORDER+=("$name")
    done <"$conf"
}

# cpu_model: the CPU's model name.
cpu_model() {
    local cpu
    cpu=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n 1)
    [ -n "$cpu" ] || cpu=$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1)
    echo "$cpu"
}
