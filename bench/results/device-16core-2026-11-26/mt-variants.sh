#!/usr/bin/env bash
# .devbench/mt-variants.sh OUTFILE [LIMIT_S]: alternates tarena variants (v/*/libtarena.so)
# and the other allocators on the multi-thread workloads at 2-16 threads; one line per run:
# rep threads workload variant elapsed_s cpu_s peak_rss_kb
set -u
DEV=$(cd "$(dirname "$0")" && pwd)
OUTF=$1; LIMIT=${2:-500}
export LD_LIBRARY_PATH=$DEV/lib
B=$DEV/bin; chmod +x $B/*
start=$(date +%s)
TIMEFORMAT='TIME %U %S'

declare -A LIBS=([jemalloc]=$DEV/lib/libjemalloc.so.2)
ORDER=()
for d in "$DEV"/v/*/; do v=$(basename "$d"); LIBS[$v]=$d/libtarena.so; ORDER+=("$v"); done
ORDER+=(jemalloc)
{ echo "# $(nproc) cpus, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1), $(uname -r)"; } >"$OUTF"
for rep in 1 2 3; do
 for t in 2 4 8 16; do
  for w in "xmalloc mode=nn threads=$t blocks=2000000" "xmalloc mode=1n threads=$t blocks=3000000" \
           "larson threads=$t ops=2000000" "server threads=$t requests=8000" "mstress threads=$t steps=300000" \
           "cache mode=scratch threads=$t iterations=30000"; do
   # rotate the start so no variant always runs first
   n=${#ORDER[@]}
   for ((i = 0; i < n; i++)); do
    v=${ORDER[$(( (i + rep + t) % n ))]}
    [ $(( $(date +%s) - start )) -lt $LIMIT ] || { echo "# stopped at the time limit" >>"$OUTF"; exit 0; }
    read -r -a args <<<"$w"
    prog=${args[0]}
    label=$prog; [[ ${args[1]} == mode=* ]] && label=$prog-${args[1]#mode=}
    res=$( { time env LD_PRELOAD=${LIBS[$v]} $B/$prog "${args[@]:1}" ; } 2>&1 )
    el=$(grep -o 'elapsed_s=[0-9.]*' <<<"$res" | cut -d= -f2)
    rss=$(grep -o 'peak_rss_kb=[0-9]*' <<<"$res" | cut -d= -f2)
    cpu=$(awk '/^TIME/{print $2+$3}' <<<"$res")
    from=$(grep -o '^malloc-from: .*' <<<"$res" | head -1)
    echo "$rep $t $label $v ${el:-NA} ${cpu:-NA} ${rss:-NA} ${from##*/}" >>"$OUTF"
   done
  done
 done
done
echo "# done in $(( $(date +%s) - start )) s" >>"$OUTF"
