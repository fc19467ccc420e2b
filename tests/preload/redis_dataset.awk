# tests/preload/redis_dataset.awk: writes the redis-cli command script of
# preload.redis: strings, big values, lists, hashes, sets, zsets, streams in
# two databases, with updates and deletes, then prints digests and selected
# values. Same seed, same script: replies must not depend on the allocator, so
# no command with a random or time-dependent reply (SPOP, SCAN, XADD *, ...).
# Usage: awk -f redis_dataset.awk

# Park-Miller, as in common.sh's ta_gen_lines: exact in awk's doubles.
function rnd(n) { seed = (seed * 16807) % 2147483647; return seed % n }
# A deterministic word of about len characters (no spaces, no quotes).
function word(len,    s, k) {
    s = w[rnd(12) + 1] rnd(1000)
    while (length(s) < len) s = s "-" w[rnd(12) + 1] rnd(100000)
    return substr(s, 1, len)
}
BEGIN {
    seed = 20240611
    split("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu", w, " ")
    # The benchmark's keys are freed by the lazyfree thread while we load.
    print "FLUSHALL ASYNC"

    # Strings: mostly small, some medium, a few of several KB; then appends,
    # in-place edits, counters and deletes.
    for (i = 1; i <= 6000; i++) {
        r = rnd(10)
        len = r < 6 ? 1 + rnd(40) : (r < 9 ? 100 + rnd(1400) : 2000 + rnd(4000))
        print "SET s:" i " " word(len)
    }
    for (i = 3; i <= 6000; i += 3) print "APPEND s:" i " " word(1 + rnd(300))
    for (i = 7; i <= 6000; i += 7) print "SETRANGE s:" i " " rnd(50) " " word(10)
    for (i = 1; i <= 3000; i++) print "INCRBY n:" rnd(200) " " rnd(1000) - 500
    for (i = 1; i <= 200; i += 9) print "INCRBYFLOAT n:" i " 1.25"
    for (i = 1; i <= 400; i++) {
        line = "MSET"
        for (k = 0; k < 5; k++) line = line " m:" rnd(1500) " " word(5 + rnd(60))
        print line
    }
    for (i = 5; i <= 6000; i += 5) print "DEL s:" i
    for (i = 11; i <= 6000; i += 22) print "GETDEL s:" i
    for (i = 1; i <= 6000; i += 97) print "GETRANGE s:" i " 2 30"
    for (i = 1; i <= 6000; i += 89) print "STRLEN s:" i

    # Big values, built on the server by Lua (the command lines stay short):
    # grown by APPEND and SETRANGE (large reallocs), then deleted.
    lua = "\"return redis.call('SET', KEYS[1], string.rep(ARGV[1], tonumber(ARGV[2])))\""
    print "EVAL " lua " 1 big:1 abcdefgh 16384"
    print "EVAL " lua " 1 big:2 0123456789 120000"
    print "EVAL " lua " 1 big:3 xyz 1000000"
    print "EVAL " lua " 1 big:4 q 3000000"
    for (i = 1; i <= 4; i++) {
        print "APPEND big:" i " " word(5000)
        print "SETRANGE big:" i " " (i * 1500000) " tail" i
        print "STRLEN big:" i
        print "GETRANGE big:" i " 10000 10040"
    }
    print "DEL big:2"
    print "UNLINK big:4"

    # Lists: small ones stay listpacks, long ones and long elements make
    # quicklists; then trims, pops, inserts, moves.
    for (l = 1; l <= 40; l++) {
        n = l % 4 == 0 ? 2000 + rnd(2000) : 3 + rnd(150)
        for (e = 0; e < n; e += 8) {
            line = (rnd(2) ? "RPUSH" : "LPUSH") " l:" l
            for (k = 0; k < 8; k++) line = line " " word(rnd(20) == 0 ? 100 + rnd(400) : 3 + rnd(30))
            print line
        }
    }
    for (l = 1; l <= 40; l++) {
        print "LTRIM l:" l " " rnd(5) " -" (1 + rnd(20))
        print "LPOP l:" l " " (1 + rnd(3))
        print "RPOP l:" l
        print "LINSERT l:" l " BEFORE nosuchpivot x"
        print "LPUSH l:" l " dup dup dup"
        print "LSET l:" l " 1 " word(50)
        print "LREM l:" l " 2 dup"
        print "LMOVE l:" l " l:" (l % 40 + 1) " LEFT RIGHT"
        print "LLEN l:" l
        print "LRANGE l:" l " 0 4"
        print "LINDEX l:" l " -3"
    }

    # Hashes: small listpacks, large hashtables, long values convert too.
    for (h = 1; h <= 60; h++) {
        n = h % 6 == 0 ? 500 + rnd(1500) : 2 + rnd(60)
        for (f = 0; f < n; f += 4) {
            line = "HSET h:" h
            for (k = 0; k < 4; k++) line = line " f" rnd(n + 10) " " word(rnd(15) == 0 ? 70 + rnd(200) : 1 + rnd(20))
            print line
        }
        print "HINCRBY h:" h " counter " rnd(100)
        print "HINCRBYFLOAT h:" h " ratio 0.5"
    }
    for (h = 1; h <= 60; h++) {
        for (k = 0; k < 5; k++) print "HDEL h:" h " f" rnd(40)
        print "HLEN h:" h
        print "HGET h:" h " f" rnd(10)
        print "HSTRLEN h:" h " f" rnd(10)
        print "HMGET h:" h " counter ratio f1 f2"
    }

    # Sets: intsets, listpack-free string sets (hashtables), set algebra.
    for (s = 1; s <= 30; s++) {
        n = s % 5 == 0 ? 1000 + rnd(3000) : 5 + rnd(200)
        for (e = 0; e < n; e += 8) {
            line = "SADD set:" s
            for (k = 0; k < 8; k++) line = line " " (s % 2 ? rnd(5000) : word(4 + rnd(12)))
            print line
        }
    }
    for (s = 1; s <= 30; s++) {
        print "SREM set:" s " " rnd(5000) " " rnd(5000) " " rnd(5000)
        print "SCARD set:" s
        print "SISMEMBER set:" s " " rnd(5000)
        print "SINTERSTORE inter:" s " set:" s " set:" ((s + 2) % 30 + 1)
        print "SUNIONSTORE union:" s " set:" s " set:" ((s + 1) % 30 + 1)
        print "SDIFFSTORE diff:" s " set:" s " inter:" s
        print "SORT set:" s " ALPHA LIMIT 0 5"
        print "SCARD union:" s
    }

    # Sorted sets: integer and fractional scores, ranges, stores.
    for (z = 1; z <= 30; z++) {
        n = z % 6 == 0 ? 400 + rnd(2000) : 3 + rnd(100)
        for (e = 0; e < n; e += 4) {
            line = "ZADD z:" z
            for (k = 0; k < 4; k++) line = line " " (rnd(1000) / 8) " " word(3 + rnd(20))
            print line
        }
    }
    for (z = 1; z <= 30; z++) {
        print "ZINCRBY z:" z " 2.5 " word(5)
        print "ZREMRANGEBYRANK z:" z " 0 " rnd(3)
        print "ZCARD z:" z
        print "ZCOUNT z:" z " 10 (60"
        print "ZRANGE z:" z " 0 5 WITHSCORES"
        print "ZREVRANGE z:" z " 0 2 WITHSCORES"
        print "ZUNIONSTORE zu:" z " 2 z:" z " z:" (z % 30 + 1) " WEIGHTS 1 3 AGGREGATE MAX"
        print "ZINTERSTORE zi:" z " 2 z:" z " zu:" z
        print "ZRANGESTORE zr:" z " z:" z " 10 50 BYSCORE"
        print "ZRANGE zu:" z " 0 3 WITHSCORES"
    }

    # Streams with explicit IDs (an automatic ID would be the clock).
    for (x = 1; x <= 5; x++) {
        for (e = 1; e <= 400 * x; e++) print "XADD st:" x " " e "-" x " f " word(5 + rnd(40)) " g " rnd(100000)
        print "XDEL st:" x " 3-" x " 7-" x
        print "XTRIM st:" x " MAXLEN = " (100 * x)
        print "XLEN st:" x
        print "XRANGE st:" x " - + COUNT 3"
    }

    # A second database: filled, partly moved, renamed, copied, one flushed.
    print "SELECT 5"
    for (i = 1; i <= 2000; i++) print "SET d5:" i " " word(1 + rnd(200))
    for (i = 1; i <= 50; i++) print "RPUSH d5l:" (i % 5) " " word(20) " " word(30)
    print "RENAME d5:1 d5:renamed"
    print "COPY d5l:1 d5l:copy"
    print "MOVE d5:2 0"
    print "SELECT 9"
    for (i = 1; i <= 1000; i++) print "HSET d9 k" i " " word(30)
    print "FLUSHDB"
    print "SELECT 0"

    # Deletes of whole aggregates: big ones go to the lazyfree thread.
    for (l = 4; l <= 40; l += 8) print "UNLINK l:" l
    for (h = 6; h <= 60; h += 12) print "UNLINK h:" h
    print "UNLINK set:5 set:10 z:6"
    print "DEL set:3 z:2 st:2"

    # What must match: sizes, encodings, digests (order-independent), values;
    # then a save and load of the whole dataset (DEBUG RELOAD) and again.
    print "DBSIZE"
    print "INFO keyspace"
    split("s:1 s:3 s:9 n:1 m:7 big:1 big:3 l:1 l:8 h:1 h:12 set:1 set:2 set:15 z:1 z:12 zu:3 st:1", keys, " ")
    for (k = 1; k <= 18; k++) {
        print "TYPE " keys[k]
        print "OBJECT ENCODING " keys[k]
        print "DEBUG DIGEST-VALUE " keys[k]
    }
    print "GET s:1"
    print "LRANGE l:8 100 110"
    print "HGET h:12 f3"
    print "ZRANGE z:12 -5 -1 WITHSCORES"
    print "DEBUG DIGEST"
    print "DEBUG RELOAD"
    print "DEBUG DIGEST"
    print "DBSIZE"
    print "SELECT 5"
    print "DBSIZE"
    print "GET d5:renamed"
    print "LRANGE d5l:copy 0 -1"
}
