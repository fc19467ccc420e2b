#!/usr/bin/env bash
# one-off: final vs chain-only outbox flush, xmalloc nn/1n at 4 and 16 threads
DEV=$(cd "$(dirname "$0")" && pwd); export LD_LIBRARY_PATH=$DEV/lib; B=$DEV/bin; chmod +x $B/*
for rep in 1 2 3; do for t in 4 16; do for w in "mode=nn threads=$t blocks=2000000" "mode=1n threads=$t blocks=3000000"; do
  for v in final-checks chainonly; do
    r=$(env LD_PRELOAD=$DEV/v/$v/libtarena.so $B/xmalloc $w | grep -o 'elapsed_s=[0-9.]*\|peak_rss_kb=[0-9]*' | tr '\n' ' ')
    echo "$rep $t ${w%% *} $v $r"
  done; done; done; done
