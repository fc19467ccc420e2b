# tests/preload/gen_c.awk: writes the C source that preload.gcc compiles:
# n small functions of varied shapes plus a table of pointers to them, so the
# compiler keeps (and emits) all of them. Deterministic (Park-Miller, exact in
# awk's doubles). Usage: awk -v n=3000 -v seed=7 -f gen_c.awk
BEGIN {
    if (seed <= 0) seed = 7
    x = seed
    print "struct rec { int id; long acc; const char *name; struct rec *next; };"
    for (i = 0; i < n; i++) {
        x = (x * 16807) % 2147483647
        k = x % 4
        printf "static const char name_%d[] = \"function %d of %d\";\n", i, i, n
        printf "long f%d_%d(struct rec *r, int a)\n{\n    long s = %d;\n", seed, i, x % 1000
        printf "    for (int j = 0; j < a; j++)\n        s = s * %d + (j ^ %d);\n", x % 97 + 1, k
        if (k == 0) printf "    switch (a) { case 1: s += %d; break; case 2: s -= 3; break; default: s ^= a; }\n", x % 31
        if (k == 1) printf "    for (; r; r = r->next) r->acc += s ^ r->id;\n"
        if (k == 2) printf "    if (r && r->acc > %d) r->name = name_%d;\n", x % 10000, i
        if (k == 3) printf "    while (s > %d) s /= 3;\n", x % 5000 + 10
        printf "    return s + (long)sizeof(name_%d);\n}\n", i
    }
    printf "typedef long (*fn)(struct rec *, int);\nconst fn table_%d[%d] = {\n", seed, n
    for (i = 0; i < n; i++) printf "    f%d_%d,\n", seed, i
    printf "};\n"
}
