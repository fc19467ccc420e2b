#!/usr/bin/env bash
# tests/preload/redis.sh: preload.redis. A redis-server on a unix socket,
# without and then with the allocator preloaded (its clients too): driven by
# redis-benchmark (bounded request counts, pipelined and not, big values),
# then loaded with redis_dataset.awk's commands through redis-cli; the replies,
# digests and selected values must be identical, and the server must exit
# cleanly having made its allocations in tarena.
# Usage: redis.sh /path/to/libtarena.so
#
# Debian's redis-server is linked to libjemalloc. Under the preload malloc,
# calloc, realloc, free and malloc_usable_size bind to tarena (checked below);
# it also calls jemalloc-only functions, which stay jemalloc's: mallctl (stats
# and background-thread settings of jemalloc's own, unused, heap),
# malloc_stats_print, and nallocx (sds.c: skips a realloc when nallocx(n) ==
# malloc_usable_size(p), which still implies that p holds n bytes). None of
# them is given a heap pointer. check_jemalloc_binds fails if a redis build
# binds anything else to jemalloc (sallocx, sdallocx, rallocx, ... would be
# handed tarena's pointers); C++ new/delete, also jemalloc's, are explained there.
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/preload/common.sh
. "$here/common.sh"
ta_init "$@"
ta_require redis-server redis-cli redis-benchmark awk

server_pid=
stop_server() {
    if [ -n "$server_pid" ]; then
        kill -KILL "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
        server_pid=
    fi
}
# Never leave a server behind, whatever fails; a signal (ctest's timeout)
# goes through the EXIT trap too.
trap 'stop_server; rm -rf "$TA_TMP"' EXIT
trap 'exit 1' INT TERM HUP

# A unix socket path must fit in sun_path (108 bytes).
[ ${#TA_TMP} -lt 80 ] || ta_fail "scratch dir path too long for a unix socket: $TA_TMP"
awk -f "$here/redis_dataset.awk" >"$TA_TMP/dataset.txt"

# start_server MODE: a server with its own dir and socket, no persistence, no
# TCP port; DEBUG allowed for local (unix socket) clients. Sets $sock and
# $server_pid (the server itself: the subshell execs env, env execs it).
start_server() {
    local mode=$1 dir=$TA_TMP/$1 pre=()
    mkdir -p "$dir"
    sock=$dir/redis.sock
    # With the preload, tarena's statistics at exit show where the
    # allocations went.
    [ "$mode" = plain ] || pre=("LD_PRELOAD=$TA_LIB" TARENA_STATS=json "TARENA_STATS_FILE=$dir/tarena-stats.json")
    (cd "$dir" && exec env "${pre[@]}" redis-server --port 0 --unixsocket "$sock" --unixsocketperm 700 \
        --save "" --appendonly no --dir "$dir" --logfile "$dir/server.log" \
        --enable-debug-command local >"$dir/server.out" 2>&1) &
    server_pid=$!
    for _ in $(seq 1 200); do
        [ "$(redis-cli -s "$sock" PING 2>/dev/null)" = PONG ] && return 0
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.1
    done
    tail -n 20 "$dir/server.out" "$dir/server.log" >&2 || true
    ta_fail "$mode: redis-server did not come up on $sock"
}

# stop_server_cleanly MODE: SHUTDOWN, then the server must exit with status 0
# within 30 s (not crash while freeing everything at exit).
stop_server_cleanly() {
    local mode=$1 rc=0
    redis-cli -s "$sock" SHUTDOWN NOSAVE >/dev/null 2>&1 || true
    for _ in $(seq 1 300); do
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$server_pid" 2>/dev/null && ta_fail "$mode: redis-server still running 30 s after SHUTDOWN"
    wait "$server_pid" || rc=$?
    server_pid=
    if [ "$rc" != 0 ]; then
        tail -n 30 "$TA_TMP/$mode/server.out" "$TA_TMP/$mode/server.log" >&2
        ta_fail "$mode: redis-server exited with status $rc"
    fi
}

# info_field NAME: a field of INFO from the running server.
info_field() { redis-cli -s "$sock" INFO | tr -d '\r' | sed -n "s/^$1://p"; }

# check_jemalloc_binds: see the header. Every symbol that any object binds to
# libjemalloc under the preload must be one of: a function that is never
# given a heap pointer, or jemalloc's own data; mallocx/sdallocx, only from
# jemalloc itself; C++ operator new/delete, only from libstdc++ itself.
# The last are a real hazard: jemalloc's operator new allocates in jemalloc
# while its unsized operator delete calls free(), now tarena's (which aborts
# on the foreign pointer, "free(): invalid pointer"). Only libstdc++ uses them
# in this process (redis-server is C; libstdc++ is there because libjemalloc
# needs it), a gdb breakpoint on them in a full run of this test is never hit,
# and another binder would be reported here.
check_jemalloc_binds() {
    local trace=$TA_TMP/redis-binds.trace binds bad
    LD_PRELOAD=$TA_LIB LD_BIND_NOW=1 LD_DEBUG=bindings redis-server --version >/dev/null 2>"$trace" || true
    # "FILE SYMBOL" for each binding to jemalloc.
    binds=$(sed -nE "s/.*binding file ([^ ]+) \[[0-9]+\] to [^ ]*libjemalloc[^ ]* \[[0-9]+\]: normal symbol \`([^']+)'.*/\1 \2/p" "$trace" | sort -u)
    bad=$(awk '
        $2 ~ /^(mallctl|mallctlnametomib|mallctlbymib|nallocx|malloc_stats_print|malloc_conf|malloc_message|je_test_hooks_.*)$/ { next }
        $1 ~ /libjemalloc[^\/]*$/ && $2 ~ /^(mallocx|sdallocx)$/ { next }
        $1 ~ /\/libstdc\+\+\.so[^\/]*$/ && $2 ~ /^_Z(nw|na|dl|da)/ { next }
        { print }' <<<"$binds")
    [ -z "$bad" ] || ta_fail "these bindings to jemalloc would hand it tarena's pointers: $(tr '\n' ' ' <<<"$bad")"
    grep -qF "binding file redis-server [0] to $TA_LIB [0]: normal symbol \`malloc_usable_size'" "$trace" \
        || ta_fail "redis-server does not bind malloc_usable_size to $TA_LIB"
    echo "ok: redis-server: malloc_usable_size binds to $(basename "$TA_LIB"); to jemalloc only $(awk '{ print $2 }' <<<"$binds" | sort -u | tr '\n' ' ')"
}

for mode in plain preload; do
    start_server "$mode"
    # Pipelined, 2 client threads, random keys: every data type's commands.
    ta_run "$mode" bench-pipelined timeout 120 redis-benchmark -s "$sock" -n 20000 -c 16 -P 16 -r 100000 \
        --threads 2 --csv -t set,get,incr,lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,zpopmin,lrange_100,mset
    # One request at a time from 20 clients: many more reads and replies.
    ta_run "$mode" bench-single timeout 120 redis-benchmark -s "$sock" -n 10000 -c 20 -P 1 -d 512 -r 50000 \
        --csv -t set,get,lrange_100
    # 100 KB values: large blocks, query buffers grown and shrunk.
    ta_run "$mode" bench-big timeout 120 redis-benchmark -s "$sock" -n 1000 -c 4 -P 4 -d 100000 -r 500 \
        --csv -t set,get
    for b in bench-pipelined bench-single bench-big; do
        [ "$(cat "$TA_TMP/$b.$mode.rc")" = 0 ] || { cat "$TA_TMP/$b.$mode.err" >&2; ta_fail "$mode: $b: redis-benchmark failed"; }
        n=$(grep -cE '^"[A-Z]' "$TA_TMP/$b.$mode.out" || true)
        [ "$n" -ge 2 ] || { cat "$TA_TMP/$b.$mode.out" >&2; ta_fail "$mode: $b: no results"; }
    done
    echo "ok: $mode: redis-benchmark: $(cat "$TA_TMP"/bench-*."$mode".out | grep -cE '^"[A-Z]') tests run"
    ta_run "$mode" dataset timeout 120 redis-cli -s "$sock" <"$TA_TMP/dataset.txt"

    # Where the server's data lives. INFO's used_memory is redis' own count
    # (malloc_usable_size of each block it holds); allocator_allocated is
    # jemalloc's mallctl stats. With the preload jemalloc holds (almost)
    # nothing, so the live server's data must be in tarena.
    maps=no
    grep -qF " $TA_LIB" "/proc/$server_pid/maps" && maps=yes
    used=$(info_field used_memory)
    allocator=$(info_field mem_allocator)
    jem=$(info_field allocator_allocated)
    echo "ok: $mode: server pid $server_pid, tarena mapped: $maps, used_memory $used, mem_allocator $allocator, jemalloc's allocator_allocated ${jem:-n/a}"
    if [ "$mode" = preload ]; then
        [ $maps = yes ] || ta_fail "$TA_LIB is not mapped in the preloaded redis-server"
        case $allocator in
            jemalloc*) [ $((jem * 10)) -lt "$used" ] \
                || ta_fail "jemalloc reports $jem bytes allocated of redis' $used: not all allocations went to tarena" ;;
        esac
    else
        [ $maps = no ] || ta_fail "$TA_LIB is mapped in redis-server without the preload"
    fi

    stop_server_cleanly "$mode"
done

ta_compare dataset
out=$TA_TMP/dataset.plain.out
if grep -a -n '^ERR' "$out" >&2; then
    ta_fail "the dataset script has commands that fail even without the preload"
fi
# The digest before and after DEBUG RELOAD (RDB save and load) must agree.
digests=$(grep -a -xE '[0-9a-f]{40}' "$out" | tail -n 2 | sort -u | wc -l)
[ "$digests" = 1 ] || ta_fail "DEBUG DIGEST changed across DEBUG RELOAD"
echo "ok: dataset: $(wc -l <"$TA_TMP/dataset.txt") commands, same replies and digests; $(grep -a '^db[0-9]*:keys=' "$out" | tr -d '\r' | tr '\n' ' ')"

if ! ta_standin; then
    stats=$TA_TMP/preload/tarena-stats.json
    [ -s "$stats" ] || ta_fail "the preloaded redis-server wrote no tarena statistics at exit"
    allocs=$(grep -o '"allocs": [0-9]*' "$stats" | head -n 1 | grep -o '[0-9]*$')
    [ "${allocs:-0}" -gt 500000 ] || ta_fail "tarena counted only ${allocs:-0} allocations in redis-server"
    echo "ok: tarena's statistics at the server's exit: $allocs allocations"
fi
check_jemalloc_binds
ta_check_binds redis-server --version
echo "PASS: preload.redis"
