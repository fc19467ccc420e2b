#!/usr/bin/env bash
# tests/preload/sqlite.sh: preload.sqlite. sqlite3 builds a database from
# sqlite_workload.sql (large transaction, indexes, joins, windows, JSON,
# recursive CTEs, VACUUM) with and without the allocator preloaded; the query
# output, a second session's queries, the .dump and the database file itself
# must be identical.
# Usage: sqlite.sh /path/to/libtarena.so
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/preload/common.sh
. "$here/common.sh"
ta_init "$@"
ta_require sqlite3
# ~/.sqliterc would run before the script in one mode as in the other, but
# could change the output format; -init /dev/null keeps it out.
sq=(sqlite3 -init /dev/null -batch -bail)

for mode in plain preload; do
    mkdir "$TA_TMP/$mode"
    db=$mode/test.db
    ta_run "$mode" workload "${sq[@]}" "$db" ".read $here/sqlite_workload.sql"
    # A fresh process reading the file: the pages come back from disk.
    ta_run "$mode" reopen "${sq[@]}" "$db" \
        "SELECT cust, count(*), sum(qty), hex(max(memo)) FROM orders GROUP BY cust ORDER BY 2 DESC, 1 LIMIT 25;" \
        "SELECT t.name, count(*) FROM tree t JOIN tree c ON c.parent = t.id GROUP BY t.id ORDER BY t.id DESC LIMIT 5;" \
        "PRAGMA integrity_check;"
    ta_run "$mode" dump "${sq[@]}" "$db" .dump
done
ta_compare workload
ta_compare reopen
ta_compare dump
grep -qx "after|2000|571|[0-9]*|[0-9]*|[0-9]*|[0-9]*" "$TA_TMP/workload.plain.out" \
    || ta_fail "sqlite_workload.sql did not reach its final counts"
# Same statements, same SQLite, same page size: the files match byte for byte.
ta_same_files "$TA_TMP/plain/test.db" "$TA_TMP/preload/test.db"
ta_check_binds sqlite3 -init /dev/null :memory: "SELECT 1;"
echo "PASS: preload.sqlite"
