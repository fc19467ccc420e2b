/* server: a request-handling server in miniature. Each thread takes requests
 * as JSON-like text, parses them into a tree, builds a response tree with
 * formatted strings, serialises it into a growing buffer and frees it all;
 * a shared session cache keeps some objects alive and lets other threads
 * free them. The mix (many small nodes, strdup, realloc-grown buffers,
 * a little cross-thread freeing) is the one real services show. */
#define _GNU_SOURCE /* pthread barriers, malloc_usable_size under -std=c11 */
#include "common.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define USAGE "server threads=8 requests=20000 items=20 sessions=4096 seed=1\n" \
              "  requests: per thread; items: max array entries per request;\n" \
              "  sessions: capacity of the shared session cache"

/* ---- growing string buffer: realloc doubling, like every string builder */
typedef struct { char *p; size_t len, cap; } sbuf_t;

static void sb_reserve(sbuf_t *b, size_t more)
{
    if (b->len + more + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + more + 1)
        cap *= 2;
    char *np = realloc(b->p, cap);
    if (np == NULL)
        bench_die("server: realloc failed");
    b->p = np;
    b->cap = cap;
}

static void sb_add(sbuf_t *b, const char *s, size_t n)
{
    sb_reserve(b, n);
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_printf(sbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf_t *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    sb_add(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* ---- the tree: one malloc per node, keys and strings strdup'd */
typedef enum { J_NUM, J_STR, J_ARR, J_OBJ } jtype_t;
typedef struct jnode {
    jtype_t type;
    double num;
    char *str;
    size_t n, cap;
    char **keys;          /* J_OBJ only */
    struct jnode **kids;  /* J_ARR and J_OBJ */
} jnode_t;

static jnode_t *j_new(jtype_t t)
{
    jnode_t *n = calloc(1, sizeof *n);
    if (n == NULL)
        bench_die("server: calloc failed");
    n->type = t;
    return n;
}

static char *xstrndup(const char *s, size_t n)
{
    char *d = bench_xmalloc(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static void j_add(jnode_t *parent, const char *key, jnode_t *kid)
{
    if (parent->n == parent->cap) {
        parent->cap = parent->cap ? parent->cap * 2 : 4;
        parent->kids = realloc(parent->kids, parent->cap * sizeof *parent->kids);
        if (parent->type == J_OBJ)
            parent->keys = realloc(parent->keys, parent->cap * sizeof *parent->keys);
        if (parent->kids == NULL || (parent->type == J_OBJ && parent->keys == NULL))
            bench_die("server: realloc failed");
    }
    if (parent->type == J_OBJ)
        parent->keys[parent->n] = xstrndup(key, strlen(key));
    parent->kids[parent->n++] = kid;
}

static jnode_t *j_str(const char *s) { jnode_t *n = j_new(J_STR); n->str = xstrndup(s, strlen(s)); return n; }
static jnode_t *j_num(double v) { jnode_t *n = j_new(J_NUM); n->num = v; return n; }

static void j_free(jnode_t *n)
{
    if (n == NULL)
        return;
    for (size_t i = 0; i < n->n; i++) {
        j_free(n->kids[i]);
        if (n->type == J_OBJ)
            free(n->keys[i]);
    }
    free(n->kids);
    free(n->keys);
    free(n->str);
    free(n);
}

static jnode_t *j_get(const jnode_t *o, const char *key)
{
    for (size_t i = 0; o && o->type == J_OBJ && i < o->n; i++)
        if (strcmp(o->keys[i], key) == 0)
            return o->kids[i];
    return NULL;
}

/* A parser for the subset we generate: no escapes, no whitespace, no
 * true/false/null. Returns NULL on malformed input, which is a bug here. */
static jnode_t *j_parse(const char **sp)
{
    const char *s = *sp;
    jnode_t *n = NULL;
    if (*s == '"') {
        const char *e = strchr(s + 1, '"');
        if (e == NULL) return NULL;
        n = j_new(J_STR);
        n->str = xstrndup(s + 1, (size_t)(e - s - 1));
        s = e + 1;
    } else if (*s == '{' || *s == '[') {
        char close = *s == '{' ? '}' : ']';
        n = j_new(*s == '{' ? J_OBJ : J_ARR);
        s++;
        while (*s && *s != close) {
            char key[64] = "";
            if (n->type == J_OBJ) {
                const char *e = strchr(s + 1, '"');
                if (*s != '"' || e == NULL || e[1] != ':' || (size_t)(e - s - 1) >= sizeof key) { j_free(n); return NULL; }
                memcpy(key, s + 1, (size_t)(e - s - 1));
                key[e - s - 1] = '\0';
                s = e + 2;
            }
            jnode_t *kid = j_parse(&s);
            if (kid == NULL) { j_free(n); return NULL; }
            j_add(n, key, kid);
            if (*s == ',') s++;
        }
        if (*s != close) { j_free(n); return NULL; }
        s++;
    } else {
        /* Digits with an optional fraction: strtod would spend more time in
         * libc than the allocator spends on the whole request. */
        const char *start = s;
        double v = 0, scale = 1;
        while (*s >= '0' && *s <= '9') v = v * 10 + (*s++ - '0');
        if (*s == '.')
            for (s++; *s >= '0' && *s <= '9'; s++) v += (scale /= 10) * (*s - '0');
        if (s == start) return NULL;
        n = j_num(v);
    }
    *sp = s;
    return n;
}

static void j_write(sbuf_t *b, const jnode_t *n)
{
    switch (n->type) {
    case J_NUM: {
        /* Amounts are printed in cents with integer arithmetic, for the same
         * reason as in the parser: %g formatting would dominate the profile. */
        long long c = (long long)(n->num * 100 + 0.5);
        char tmp[32], *e = tmp + sizeof tmp, *q = e;
        *--q = (char)('0' + c % 10); c /= 10;
        *--q = (char)('0' + c % 10); c /= 10;
        *--q = '.';
        do { *--q = (char)('0' + c % 10); c /= 10; } while (c);
        sb_add(b, q, (size_t)(e - q));
        break;
    }
    case J_STR: sb_add(b, "\"", 1); sb_add(b, n->str, strlen(n->str)); sb_add(b, "\"", 1); break;
    case J_ARR:
    case J_OBJ:
        sb_add(b, n->type == J_OBJ ? "{" : "[", 1);
        for (size_t i = 0; i < n->n; i++) {
            if (i) sb_add(b, ",", 1);
            if (n->type == J_OBJ) sb_printf(b, "\"%s\":", n->keys[i]);
            j_write(b, n->kids[i]);
        }
        sb_add(b, n->type == J_OBJ ? "}" : "]", 1);
        break;
    }
}

/* ---- shared session cache: striped locks, bounded chains; replaced and
 * evicted sessions are usually freed by a thread other than their creator */
#define STRIPES 64
typedef struct session { struct session *next; char *user; char *last_reply; long hits; } session_t;
static struct { pthread_mutex_t m; session_t *head; long count; char pad[64]; } cache[STRIPES];
static long per_stripe_cap;

static void session_free(session_t *s) { free(s->user); free(s->last_reply); free(s); }

static void session_touch(const char *user, const char *reply, size_t reply_len, uint64_t h)
{
    int k = (int)(h % STRIPES);
    pthread_mutex_lock(&cache[k].m);
    session_t **pp = &cache[k].head, *found = NULL;
    for (; *pp; pp = &(*pp)->next)
        if (strcmp((*pp)->user, user) == 0) { found = *pp; *pp = found->next; cache[k].count--; break; }
    if (found == NULL) {
        found = calloc(1, sizeof *found);
        found->user = xstrndup(user, strlen(user));
    }
    free(found->last_reply);
    found->last_reply = xstrndup(reply, reply_len < 200 ? reply_len : 200);
    found->hits++;
    found->next = cache[k].head; /* most recent first */
    cache[k].head = found;
    session_t *evict = NULL;
    if (++cache[k].count > per_stripe_cap) {
        session_t **q = &cache[k].head;
        while ((*q)->next) q = &(*q)->next;
        evict = *q;
        *q = NULL;
        cache[k].count--;
    }
    pthread_mutex_unlock(&cache[k].m);
    if (evict)
        session_free(evict);
}

/* ---- one request */
typedef struct { long requests, items, bytes_out; bench_rng_t rng; } worker_t;

static void make_request(sbuf_t *b, bench_rng_t *r, long id, long max_items, char *user, size_t usz)
{
    static const char *words[] = {"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"};
    snprintf(user, usz, "user%llu", (unsigned long long)bench_rand_range(r, 0, 20000));
    b->len = 0;
    sb_printf(b, "{\"id\":%ld,\"user\":\"%s\",\"items\":[", id, user);
    long n = (long)bench_rand_range(r, 1, (uint64_t)max_items);
    for (long i = 0; i < n; i++) {
        sb_printf(b, "%s{\"sku\":\"%s-%llu\",\"qty\":%llu,\"price\":%llu.%02llu,\"tags\":[",
                  i ? "," : "", words[bench_rand(r) % 8], (unsigned long long)bench_rand_range(r, 100, 99999),
                  (unsigned long long)bench_rand_range(r, 1, 9), (unsigned long long)bench_rand_range(r, 1, 500),
                  (unsigned long long)bench_rand_range(r, 0, 99));
        long tags = (long)bench_rand_range(r, 0, 4);
        for (long t = 0; t < tags; t++)
            sb_printf(b, "%s\"%s\"", t ? "," : "", words[bench_rand(r) % 8]);
        sb_add(b, "]}", 2);
    }
    sb_printf(b, "],\"note\":\"%.*s\"}", (int)bench_rand_range(r, 0, 120),
              "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore "
              "et dolore magna aliqua ut enim");
}

static jnode_t *handle(const jnode_t *req)
{
    jnode_t *resp = j_new(J_OBJ), *lines = j_new(J_ARR);
    jnode_t *items = j_get(req, "items");
    double total = 0;
    for (size_t i = 0; items && i < items->n; i++) {
        const jnode_t *it = items->kids[i];
        double qty = j_get(it, "qty")->num, price = j_get(it, "price")->num;
        jnode_t *line = j_new(J_OBJ);
        char desc[128];
        snprintf(desc, sizeof desc, "%s x%.0f @ %.2f", j_get(it, "sku")->str, qty, price);
        j_add(line, "desc", j_str(desc));
        j_add(line, "amount", j_num(qty * price));
        jnode_t *tags = j_get(it, "tags");
        if (tags && tags->n) {
            sbuf_t joined = {0};
            for (size_t t = 0; t < tags->n; t++) {
                if (t) sb_add(&joined, "|", 1);
                sb_add(&joined, tags->kids[t]->str, strlen(tags->kids[t]->str));
            }
            j_add(line, "tags", j_str(joined.p));
            free(joined.p);
        }
        j_add(lines, "", line);
        total += qty * price;
    }
    j_add(resp, "id", j_num(j_get(req, "id")->num));
    j_add(resp, "user", j_str(j_get(req, "user")->str));
    j_add(resp, "lines", lines);
    j_add(resp, "total", j_num(total));
    j_add(resp, "status", j_str(total > 1000 ? "review" : "ok"));
    return resp;
}

static void *worker(void *arg)
{
    worker_t *w = arg;
    sbuf_t in = {0};
    char user[32];
    for (long i = 0; i < w->requests; i++) {
        make_request(&in, &w->rng, i, w->items, user, sizeof user);
        /* The request text is copied once, as if read from a socket buffer. */
        char *wire = xstrndup(in.p, in.len);
        const char *s = wire;
        jnode_t *req = j_parse(&s);
        if (req == NULL || *s != '\0')
            bench_die("server: parse error in request %ld", i);
        jnode_t *resp = handle(req);
        sbuf_t out = {0};
        j_write(&out, resp);
        w->bytes_out += (long)out.len;
        if (bench_rand_range(&w->rng, 0, 3) == 0)
            session_touch(user, out.p, out.len, bench_rand(&w->rng));
        free(out.p);
        j_free(resp);
        j_free(req);
        free(wire);
    }
    free(in.p);
    return NULL;
}

int main(int argc, char **argv)
{
    bench_args_check(argc, argv, "threads,requests,items,sessions,seed", USAGE);
    bench_banner("server", argc, argv);
    int threads = (int)bench_arg_long(argc, argv, "threads", 8);
    long requests = bench_arg_long(argc, argv, "requests", 20000);
    long items = bench_arg_long(argc, argv, "items", 20);
    long sessions = bench_arg_long(argc, argv, "sessions", 4096);
    long seed = bench_arg_long(argc, argv, "seed", 1);
    if (threads < 1 || requests < 0 || items < 1 || sessions < STRIPES)
        bench_die("server: bad arguments\n%s", USAGE);
    per_stripe_cap = sessions / STRIPES;
    for (int i = 0; i < STRIPES; i++)
        pthread_mutex_init(&cache[i].m, NULL);

    worker_t *w = calloc((size_t)threads, sizeof *w);
    for (int i = 0; i < threads; i++) {
        w[i] = (worker_t){.requests = requests, .items = items};
        bench_rng_seed(&w[i].rng, (uint64_t)seed * 1000 + (uint64_t)i + 1);
    }
    double t0 = bench_now();
    bench_run_threads(threads, worker, w, sizeof *w);
    double elapsed = bench_now() - t0;
    long out = 0;
    for (int i = 0; i < threads; i++)
        out += w[i].bytes_out;
    for (int i = 0; i < STRIPES; i++)
        for (session_t *s = cache[i].head, *n; s; s = n) {
            n = s->next;
            session_free(s);
        }
    double total = (double)requests * threads;
    printf("result: ops_per_sec=%.0f elapsed_s=%.4f requests=%.0f bytes_out=%ld threads=%d peak_rss_kb=%ld\n",
           total / elapsed, elapsed, total, out, threads, bench_peak_rss_kb());
    free(w);
    return 0;
}
