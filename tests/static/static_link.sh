#!/usr/bin/env bash
# tests/static/static_link.sh: static.link. Links link_check.c against
# libtarena.a twice, as a dynamic executable and fully -static, at test time
# (so a link failure fails this test, not the build), runs both, and checks
# that glibc's own malloc did not end up in the static executable.
# Usage: static_link.sh CC LIBTARENA_A INCLUDE_DIR LINK_CHECK_C
set -euo pipefail
[ $# -eq 4 ] || { echo "usage: $0 CC LIBTARENA_A INCLUDE_DIR LINK_CHECK_C" >&2; exit 2; }
cc=$1 archive=$2 inc=$3 src=$4
pkg_config=${PKG_CONFIG:-pkg-config}
fail() { echo "FAIL: $*" >&2; exit 1; }
[ -f "$archive" ] || fail "$archive does not exist"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ta-static.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
# -fno-builtin: the compiler must not drop or fold the allocations checked.
cflags=(-O2 -g -Wall -Wextra -fno-builtin -I"$inc")

# libtarena.a needs liburcu (and pthreads); its dependencies come last.
urcu_shared=$("$pkg_config" --libs liburcu-cds liburcu-bp) || fail "pkg-config finds no liburcu-cds/liburcu-bp"
urcu_static=$("$pkg_config" --static --libs liburcu-cds liburcu-bp)

# 1. Dynamic executable with libtarena.a inside: the linker must export its
#    malloc & co so that libc.so.6 binds to them.
# shellcheck disable=SC2086 # pkg-config output is a word list
"$cc" "${cflags[@]}" "$src" "$archive" $urcu_shared -pthread -ldl -o link_exe 2>link_exe.log \
    || { cat link_exe.log >&2; fail "linking a dynamic executable with libtarena.a failed"; }
# Captured first: `... | grep -q` under pipefail fails when grep's early exit
# kills the writer with SIGPIPE.
exported=$(nm -D --defined-only link_exe | awk '{print $NF}')
for sym in malloc free calloc realloc; do
    grep -qx "$sym" <<<"$exported" \
        || fail "the executable linked with libtarena.a does not export $sym: libc.so.6 would keep glibc's"
done
./link_exe exe || fail "link_exe exe failed (exit $?)"

# The "Archive member included to satisfy reference by file (symbol)" part of
# the link map: libc.a(malloc.o) followed by the line naming the reference.
malloc_o_reason() {
    [ -f link_static.map ] && awk '/^Archive member included/ {on=1} /^(Discarded|Memory Configuration)/ {on=0}
        on && /^[^ ].*libc\.a\(malloc\.o\)/ {print; getline; print; found=1} END {exit !found}' link_static.map
}

# 2. Fully static executable. glibc's libc.a has its malloc in malloc.o; it
#    must not be pulled in, which happens when a libc.a member refers to a
#    symbol that tarena does not define (a duplicate-definition error then
#    names the clash). The link map says which reference pulled what.
# shellcheck disable=SC2086
if ! "$cc" -static "${cflags[@]}" -DTA_NO_DLFCN "$src" "$archive" $urcu_static -pthread \
    -Wl,-Map=link_static.map -o link_static 2>link_static.log; then
    cat link_static.log >&2
    echo "--- symbols defined twice:" >&2
    grep -o "multiple definition of \`[^']*'" link_static.log | sort -u >&2 || true
    echo "--- why libc.a(malloc.o) was included (the reference that pulled it in):" >&2
    malloc_o_reason >&2 || true
    libc_a=$("$cc" -print-file-name=libc.a)
    echo "--- symbols both libtarena.a and $libc_a(malloc.o) define:" >&2
    comm -12 <(nm --defined-only "$archive" 2>/dev/null | awk 'NF==3 && $2 ~ /[TWDBRVi]/ {print $3}' | sort -u) \
        <(nm --defined-only "$libc_a" 2>/dev/null | awk '/^malloc\.o:$/ {m=1; next} /:$/ {m=0} m && NF==3 {print $3}' | sort -u) >&2 || true
    fail "fully static link against libtarena.a failed"
fi
if malloc_o_reason >&2; then
    fail "glibc's malloc.o was linked into the static executable"
fi
# glibc's allocator internals must be absent (not only the public names).
if grep -Eqx 'main_arena|_int_malloc|sysmalloc' < <(nm link_static | awk '{print $NF}'); then
    fail "glibc's malloc internals (main_arena, _int_malloc) are in the static executable"
fi
grep -q NEEDED < <(readelf -d link_static 2>/dev/null) && fail "link_static is not fully static"
./link_static static || fail "link_static static failed (exit $?)"
echo "PASS: static.link"
