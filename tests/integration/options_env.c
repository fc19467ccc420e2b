/* Integration suite "options_env": every option of src/core/options.def
 * through every channel it has (TARENA_*, glibc's MALLOC_* variable, a
 * GLIBC_TUNABLES key), their precedence (TARENA_* > GLIBC_TUNABLES >
 * MALLOC_* > default), bad values (one warning line, value ignored), k/m/g
 * suffixes and range limits, and mallopt changing the live value. Each case
 * runs ta_env_helper in a fresh process with TARENA_SHOW_OPTIONS=1 and reads
 * its "tarena: option NAME=VALUE" lines. The option list is options.def
 * itself, included here, so a new option is covered without a test edit. */
#include "envrun.h"
#include "integ.h"
#include "ta_test.h"

#include <malloc.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *field;
    uint64_t def, min, max;
    const char *env;        /* TARENA_... */
    int mparam;             /* mallopt parameter, 0: none */
    const char *genv, *gtun; /* glibc env variable, tunable key; NULL: none */
} opt_t;

static const opt_t opts[] = {
#define TA_OPTION(field, def, mn, mx, env, mparam, genv, gtun, doc) \
    {#field, (uint64_t)(def), (uint64_t)(mn), (uint64_t)(mx), env, mparam, genv, gtun},
#include "../../src/core/options.def"
#undef TA_OPTION
};
#define NOPTS (sizeof opts / sizeof opts[0])

enum { CH_TARENA, CH_MALLOC, CH_TUNABLE, NCH };

/* The variable or tunable key of o on channel ch, or NULL. */
static const char *ch_name(const opt_t *o, int ch)
{
    return ch == CH_TARENA ? o->env : ch == CH_MALLOC ? o->genv : o->gtun;
}

static int is_show_options(const opt_t *o)
{
    return strcmp(o->env, "TARENA_SHOW_OPTIONS") == 0;
}

/* ---- environments ---- */
typedef struct {
    char *v[64];
    size_t n;
    char tun[4096];
    char desc[4096]; /* for failure messages */
} envset_t;

static void es_init(envset_t *e, int show)
{
    memset(e, 0, sizeof *e);
    if (show)
        e->v[e->n++] = strdup("TARENA_SHOW_OPTIONS=1");
}

static void es_add(envset_t *e, const char *name, const char *value)
{
    size_t dl = strlen(e->desc);
    snprintf(e->desc + dl, sizeof e->desc - dl, "%s%s=%s", dl ? " " : "", name, value);
    if (strchr(name, '.')) { /* a tunable key */
        size_t tl = strlen(e->tun);
        snprintf(e->tun + tl, sizeof e->tun - tl, "%s%s=%s", tl ? ":" : "", name, value);
        return;
    }
    size_t len = strlen(name) + strlen(value) + 2;
    char *s = malloc(len);
    snprintf(s, len, "%s=%s", name, value);
    if (e->n < 62)
        e->v[e->n++] = s;
    else
        free(s);
}

/* Raw variable, not an option (for names that must be ignored). */
static void es_raw(envset_t *e, const char *assignment)
{
    size_t dl = strlen(e->desc);
    snprintf(e->desc + dl, sizeof e->desc - dl, "%s%s", dl ? " " : "", assignment);
    if (e->n < 62)
        e->v[e->n++] = strdup(assignment);
}

static const char *const *es_env(envset_t *e)
{
    if (e->tun[0] && e->n < 63) {
        size_t len = strlen(e->tun) + 16;
        char *s = malloc(len);
        snprintf(s, len, "GLIBC_TUNABLES=%s", e->tun);
        e->v[e->n++] = s;
        e->tun[0] = 0;
    }
    e->v[e->n] = NULL;
    return (const char *const *)e->v;
}

static void es_free(envset_t *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->v[i]);
    e->n = 0;
}

/* ---- what the helper printed ---- */
typedef struct {
    unsigned found[NOPTS];
    uint64_t val[NOPTS];
    char warn[32][256];
    unsigned nwarn;
    char other[8][256];
    unsigned nother;
    char unknown[256]; /* first option line with a name not in the table */
    int ok;             /* the helper exited 0 */
    size_t outlen;
} shown_t;

static void copy_line(char *dst, const char *src, size_t len)
{
    size_t n = strcspn(src, "\n");
    if (n >= len)
        n = len - 1;
    memcpy(dst, src, n);
    dst[n] = 0;
}

static void parse_shown(const er_result_t *r, shown_t *s)
{
    memset(s, 0, sizeof *s);
    s->ok = er_ok(r);
    s->outlen = r->outlen;
    static const char opt_prefix[] = "tarena: option ";
    for (const char *line = r->err; line && *line;) {
        const char *next = strchr(line, '\n');
        if (strncmp(line, opt_prefix, sizeof opt_prefix - 1) == 0) {
            const char *name = line + sizeof opt_prefix - 1;
            size_t nl = strcspn(name, "=\n");
            size_t i = 0;
            for (; i < NOPTS; i++)
                if (strlen(opts[i].env) == nl && strncmp(opts[i].env, name, nl) == 0)
                    break;
            if (i < NOPTS && name[nl] == '=') {
                s->found[i]++;
                s->val[i] = strtoull(name + nl + 1, NULL, 10);
            } else if (!s->unknown[0]) {
                copy_line(s->unknown, line, sizeof s->unknown);
            }
        } else if (strncmp(line, "tarena: warning", 15) == 0) {
            if (s->nwarn < 32)
                copy_line(s->warn[s->nwarn], line, sizeof s->warn[0]);
            s->nwarn++;
        } else if (*line != '\n') {
            if (s->nother < 8)
                copy_line(s->other[s->nother], line, sizeof s->other[0]);
            s->nother++;
        }
        line = next ? next + 1 : NULL;
    }
}

static int run_shown(envset_t *e, shown_t *s)
{
    const char *argv[] = {TA_ENV_HELPER, NULL};
    er_result_t r;
    if (er_run(argv, es_env(e), 30, &r) != 0) {
        memset(s, 0, sizeof *s);
        return 0;
    }
    parse_shown(&r, s);
    if (!s->ok) {
        char st[64];
        fprintf(stderr, "\n  [%s] helper %s; stderr:\n%s", e->desc, er_status_str(r.status, st, sizeof st), r.err);
    }
    er_free(&r);
    return s->ok;
}

/* Whether a warning line names `name` as a whole word. */
static int warn_names(const char *line, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = strstr(line, name); p; p = strstr(p + 1, name)) {
        char before = p == line ? ' ' : p[-1], after = p[n];
        int wb = !(before == '_' || before == '.' || (before >= 'A' && before <= 'Z') || (before >= 'a' && before <= 'z'));
        int wa = !(after == '_' || after == '.' || (after >= 'A' && after <= 'Z') || (after >= 'a' && after <= 'z') ||
                   (after >= '0' && after <= '9'));
        if (wb && wa)
            return 1;
    }
    return 0;
}

/* Runs e and checks every option's value against expect[] (show_options is
 * always 1: it is how the values are printed), that exactly one warning line
 * names each of the nbad names in bad[], that there are no other warnings
 * and no other output. Returns the number of problems (each reported). */
static unsigned check_run(envset_t *e, const uint64_t expect[NOPTS], const char *const bad[], size_t nbad)
{
    shown_t s;
    unsigned problems = 0;
    if (!run_shown(e, &s)) {
        IT_ASSERT(0, "[%s] ta_env_helper failed", e->desc);
        return 1;
    }
#define PROBLEM(...)                      \
    do {                                  \
        problems++;                       \
        IT_ASSERT(0, __VA_ARGS__);        \
    } while (0)
    for (size_t i = 0; i < NOPTS; i++) {
        uint64_t want = is_show_options(&opts[i]) ? 1 : expect[i];
        if (s.found[i] != 1)
            PROBLEM("[%s] %s printed %u times, want once", e->desc, opts[i].env, s.found[i]);
        else if (s.val[i] != want)
            PROBLEM("[%s] %s=%llu, want %llu", e->desc, opts[i].env, (unsigned long long)s.val[i],
                    (unsigned long long)want);
    }
    if (s.unknown[0])
        PROBLEM("[%s] option line for a name not in options.def: %s", e->desc, s.unknown);
    for (size_t b = 0; b < nbad; b++) {
        unsigned lines = 0;
        for (unsigned w = 0; w < s.nwarn && w < 32; w++)
            lines += warn_names(s.warn[w], bad[b]);
        if (lines != 1)
            PROBLEM("[%s] %u warning lines name %s, want exactly 1 (warnings: %u, first: %s)", e->desc, lines, bad[b],
                    s.nwarn, s.nwarn ? s.warn[0] : "none");
    }
    if (s.nwarn != nbad)
        PROBLEM("[%s] %u warning lines, want %zu (first: %s)", e->desc, s.nwarn, nbad, s.nwarn ? s.warn[0] : "none");
    if (s.nother)
        PROBLEM("[%s] %u unexpected lines on stderr, first: %s", e->desc, s.nother, s.other[0]);
    if (s.outlen)
        PROBLEM("[%s] the helper wrote %zu bytes to stdout", e->desc, s.outlen);
#undef PROBLEM
    return problems;
}

static void defaults(uint64_t v[NOPTS])
{
    for (size_t i = 0; i < NOPTS; i++)
        v[i] = opts[i].def;
}

/* k-th (0..2) valid value of o other than its default, all distinct; returns
 * 0 when o has fewer than k+1 of them. */
static int pick(const opt_t *o, int k, uint64_t *out)
{
    const uint64_t cand[] = {o->min + 12345, o->min + 777, o->min + 3, o->min + 2, o->min + 1, o->min, o->max};
    int got = 0;
    uint64_t seen[8];
    for (size_t i = 0; i < sizeof cand / sizeof cand[0]; i++) {
        uint64_t v = cand[i];
        if (v < o->min || v > o->max || v == o->def)
            continue;
        int dup = 0;
        for (int j = 0; j < got; j++)
            dup |= seen[j] == v;
        if (dup)
            continue;
        if (got == k) {
            *out = v;
            return 1;
        }
        seen[got++] = v;
    }
    return 0;
}

static const char *u64s(uint64_t v, char *buf)
{
    snprintf(buf, 32, "%llu", (unsigned long long)v);
    return buf;
}

/* ---- tests ---- */

/* The table as printed: every option once, in options.def order, with its
 * default; nothing else on stderr or stdout. */
static void test_defaults_all_printed(void)
{
    envset_t e;
    es_init(&e, 1);
    uint64_t want[NOPTS];
    defaults(want);
    check_run(&e, want, NULL, 0);
    es_free(&e);

    /* order: the printed names follow options.def */
    const char *argv[] = {TA_ENV_HELPER, NULL};
    es_init(&e, 1);
    er_result_t r;
    CU_ASSERT_EQUAL_FATAL(er_run(argv, es_env(&e), 30, &r), 0);
    const char *p = r.err;
    for (size_t i = 0; i < NOPTS && p; i++) {
        char expect[128];
        snprintf(expect, sizeof expect, "tarena: option %s=", opts[i].env);
        IT_ASSERT(strncmp(p, expect, strlen(expect)) == 0, "line %zu of the option list is '%.60s', want '%s...'",
                  i + 1, p, expect);
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    IT_ASSERT(er_count_lines(r.err, "tarena: option ") == NOPTS, "%zu option lines, options.def has %zu",
              er_count_lines(r.err, "tarena: option "), NOPTS);
    er_free(&r);
    es_free(&e);
}

/* Without TARENA_SHOW_OPTIONS (or with 0) nothing is printed; a bad value of
 * it warns once and keeps it off. */
static void test_show_options_switch(void)
{
    static const char *const cases[][2] = {
        {NULL, ""}, {"TARENA_SHOW_OPTIONS=0", ""}, {"TARENA_SHOW_OPTIONS=2", "warn"},
        {"TARENA_SHOW_OPTIONS=yes", "warn"}, {"TARENA_SHOW_OPTIONS=1x", "warn"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *env[] = {cases[i][0], NULL};
        const char *argv[] = {TA_ENV_HELPER, NULL};
        er_result_t r;
        CU_ASSERT_EQUAL_FATAL(er_run(argv, cases[i][0] ? env : NULL, 30, &r), 0);
        CU_ASSERT(er_ok(&r));
        size_t nopt = er_count_lines(r.err, "tarena: option "), nwarn = er_count_lines(r.err, "tarena: warning");
        IT_ASSERT(nopt == 0, "[%s] %zu option lines printed, want none", cases[i][0] ? cases[i][0] : "(unset)",
                  nopt);
        size_t want_warn = cases[i][1][0] ? 1 : 0;
        IT_ASSERT(nwarn == want_warn && (!want_warn || strstr(r.err, "TARENA_SHOW_OPTIONS")),
                  "[%s] %zu warning lines, want %zu naming TARENA_SHOW_OPTIONS: %s",
                  cases[i][0] ? cases[i][0] : "(unset)", nwarn, want_warn, r.err);
        IT_ASSERT(r.errlen == 0 || want_warn, "[%s] unexpected stderr: %s", cases[i][0] ? cases[i][0] : "(unset)",
                  r.err);
        er_free(&r);
    }
}

/* Each option, alone, through each of its channels. */
static void test_every_option_every_channel(void)
{
    unsigned runs = 0;
    for (size_t i = 0; i < NOPTS; i++) {
        const opt_t *o = &opts[i];
        if (is_show_options(o))
            continue; /* the printing switch itself: see test_show_options_switch */
        for (int ch = 0; ch < NCH; ch++) {
            const char *name = ch_name(o, ch);
            uint64_t v;
            if (!name || !pick(o, 0, &v))
                continue;
            envset_t e;
            char buf[32];
            es_init(&e, 1);
            es_add(&e, name, u64s(v, buf));
            uint64_t want[NOPTS];
            defaults(want);
            want[i] = v;
            check_run(&e, want, NULL, 0);
            es_free(&e);
            runs++;
        }
    }
    IT_ASSERT(runs >= NOPTS, "only %u option/channel runs for %zu options", runs, NOPTS);
}

/* TARENA_* over GLIBC_TUNABLES over MALLOC_*, for every option with two or
 * more channels, in every combination. */
static void test_precedence(void)
{
    static const unsigned combos[] = {
        (1u << CH_MALLOC) | (1u << CH_TUNABLE) | (1u << CH_TARENA), (1u << CH_MALLOC) | (1u << CH_TUNABLE),
        (1u << CH_MALLOC) | (1u << CH_TARENA), (1u << CH_TUNABLE) | (1u << CH_TARENA)};
    unsigned runs = 0;
    for (size_t i = 0; i < NOPTS; i++) {
        const opt_t *o = &opts[i];
        uint64_t val[NCH];
        /* distinct values per channel: MALLOC_ k=0, tunable k=1, TARENA_ k=2 */
        if (!pick(o, 0, &val[CH_MALLOC]) || !pick(o, 1, &val[CH_TUNABLE]) || !pick(o, 2, &val[CH_TARENA]))
            continue;
        for (size_t c = 0; c < sizeof combos / sizeof combos[0]; c++) {
            static const int by_precedence[NCH] = {CH_TARENA, CH_TUNABLE, CH_MALLOC};
            int usable = 1, winner = -1;
            for (int ch = 0; ch < NCH; ch++)
                if ((combos[c] >> ch) & 1)
                    usable &= ch_name(o, ch) != NULL;
            if (!usable)
                continue;
            envset_t e;
            char buf[32];
            es_init(&e, 1);
            /* the environment order is TARENA_, MALLOC_, GLIBC_TUNABLES;
             * precedence must not depend on it */
            for (int ch = 0; ch < NCH; ch++)
                if ((combos[c] >> ch) & 1)
                    es_add(&e, ch_name(o, ch), u64s(val[ch], buf));
            for (int k = 0; k < NCH && winner < 0; k++)
                if ((combos[c] >> by_precedence[k]) & 1)
                    winner = by_precedence[k];
            uint64_t want[NOPTS];
            defaults(want);
            want[i] = val[winner];
            check_run(&e, want, NULL, 0);
            es_free(&e);
            runs++;
        }
    }
    IT_ASSERT(runs > 0, "no option has two channels: precedence untested");
}

/* Values each option accepts or refuses, through every channel at once per
 * value form: a refused value gives exactly one warning line naming the
 * variable (or tunable key) and leaves the default. */
typedef struct {
    const char *text; /* NULL: computed from the option's range, see below */
    uint64_t value;
    int valid; /* 1: parses to value (then still subject to the range) */
} form_t;

enum { FORM_MAX = 1, FORM_MAX_PLUS_1, FORM_MIN, FORM_MIN_MINUS_1 };

static const form_t forms[] = {
    {"3k", 3 << 10, 1},
    {"3K", 3 << 10, 1},
    {"2m", 2 << 20, 1},
    {"2M", 2 << 20, 1},
    {"1g", 1 << 30, 1},
    {"1G", 1 << 30, 1},
    {"0x10", 16, 1},
    {"0X1f", 31, 1},
    {"17", 17, 1},
    {"0", 0, 1},
    {"18446744073709551615", UINT64_MAX, 1},
    {"abc", 0, 0},
    {"12x", 0, 0},
    {"5 ", 0, 0},
    {" 5", 0, 0},
    {"-1", 0, 0},
    {"+5", 0, 0},
    {"0x", 0, 0},
    {"1.5", 0, 0},
    {"1kb", 0, 0},
    {"k", 0, 0},
    {"2t", 0, 0},
    {"18446744073709551616", 0, 0},
    {"99999999999999999999999", 0, 0},
    {"17179869184g", 0, 0}, /* 2^64 */
    {NULL, FORM_MAX, 1},
    {NULL, FORM_MAX_PLUS_1, 1},
    {NULL, FORM_MIN, 1},
    {NULL, FORM_MIN_MINUS_1, 1},
};

/* The text and the expected outcome of form f for option o; 0 when the form
 * does not apply to o. */
static int form_for(const form_t *f, const opt_t *o, char *text, uint64_t *value, int *accepted)
{
    if (f->text) {
        snprintf(text, 32, "%s", f->text);
        *value = f->value;
        *accepted = f->valid && f->value >= o->min && f->value <= o->max;
        return 1;
    }
    switch (f->value) {
    case FORM_MAX: *value = o->max; *accepted = 1; break;
    case FORM_MAX_PLUS_1:
        if (o->max == UINT64_MAX)
            return 0;
        *value = o->max + 1;
        *accepted = 0;
        break;
    case FORM_MIN: *value = o->min; *accepted = 1; break;
    default:
        if (o->min == 0)
            return 0;
        *value = o->min - 1;
        *accepted = 0;
        break;
    }
    snprintf(text, 32, "%llu", (unsigned long long)*value);
    return 1;
}

static void test_value_forms(void)
{
    unsigned refused = 0, accepted_total = 0;
    for (size_t f = 0; f < sizeof forms / sizeof forms[0]; f++) {
        for (int ch = 0; ch < NCH; ch++) {
            envset_t e;
            es_init(&e, 1);
            uint64_t want[NOPTS];
            defaults(want);
            const char *bad[NOPTS];
            size_t nbad = 0, nset = 0;
            for (size_t i = 0; i < NOPTS; i++) {
                const opt_t *o = &opts[i];
                const char *name = ch_name(o, ch);
                char text[32];
                uint64_t v;
                int acc;
                if (!name || is_show_options(o) || !form_for(&forms[f], o, text, &v, &acc))
                    continue;
                es_add(&e, name, text);
                nset++;
                if (acc) {
                    want[i] = v;
                    accepted_total++;
                } else {
                    bad[nbad++] = name;
                    refused++;
                }
            }
            if (nset)
                check_run(&e, want, bad, nbad);
            es_free(&e);
        }
    }
    IT_ASSERT(refused > 0 && accepted_total > 0, "value forms: %u refused, %u accepted", refused, accepted_total);
}

/* A refused value does not knock out a good one of lower precedence. */
static void test_bad_value_keeps_lower_channel(void)
{
    for (size_t i = 0; i < NOPTS; i++) {
        const opt_t *o = &opts[i];
        uint64_t v;
        if (!pick(o, 0, &v))
            continue;
        for (int hi = CH_TARENA; hi <= CH_TUNABLE; hi++) {
            /* the lower channel below `hi`: MALLOC_ under the others,
             * tunables under TARENA_ */
            int lo = hi == CH_TARENA ? (o->gtun ? CH_TUNABLE : CH_MALLOC) : CH_MALLOC;
            if (hi == lo || !ch_name(o, hi) || !ch_name(o, lo))
                continue;
            envset_t e;
            char buf[32];
            es_init(&e, 1);
            es_add(&e, ch_name(o, lo), u64s(v, buf));
            es_add(&e, ch_name(o, hi), "12abc");
            uint64_t want[NOPTS];
            defaults(want);
            want[i] = v;
            const char *bad[] = {ch_name(o, hi)};
            check_run(&e, want, bad, 1);
            es_free(&e);
        }
    }
}

/* GLIBC_TUNABLES is a list: several keys at once, empty items, keys tarena
 * does not know (glibc's own, or lookalikes) ignored without a warning, and
 * so are variables whose names only resemble an option's. */
static void test_tunables_list_and_lookalikes(void)
{
    envset_t e;
    es_init(&e, 1);
    es_raw(&e, "GLIBC_TUNABLES=:glibc.elision.enable=1::glibc.malloc.top_pad=4k:glibc.malloc.check=3:"
               "glibc.malloc.top_pad_x=9:xglibc.malloc.mmap_max=9:glibc.malloc.mmap_max:glibc.malloc.arena_max=3:");
    es_raw(&e, "TARENA_TOP_PADDING=77");
    es_raw(&e, "TARENA_TOP_PA=77");
    es_raw(&e, "MALLOC_TOP_PAD=77"); /* glibc's name has a trailing underscore */
    es_raw(&e, "tarena_top_pad=77");
    es_raw(&e, "XTARENA_TOP_PAD=77");
    uint64_t want[NOPTS];
    defaults(want);
    int have_top_pad = 0, have_arena_max = 0;
    for (size_t i = 0; i < NOPTS; i++) {
        if (opts[i].gtun && strcmp(opts[i].gtun, "glibc.malloc.top_pad") == 0)
            want[i] = 4096, have_top_pad = 1;
        if (opts[i].gtun && strcmp(opts[i].gtun, "glibc.malloc.arena_max") == 0)
            want[i] = 3, have_arena_max = 1;
    }
    CU_ASSERT_FATAL(have_top_pad && have_arena_max);
    check_run(&e, want, NULL, 0);
    es_free(&e);
}

/* ---- mallopt and the options' effects ---- */
static int helper_report(const char *const env[], const char *const *args, er_result_t *r)
{
    const char *argv[32] = {TA_ENV_HELPER};
    size_t n = 1;
    for (; args[n - 1] && n < 31; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    int ok = er_run(argv, env, 30, r) == 0 && er_ok(r);
    if (!ok) {
        char st[64];
        fprintf(stderr, "\n  helper failed (%s): %s%s", er_status_str(r->status, st, sizeof st), r->out, r->err);
    }
    return ok;
}

/* The values reported for key, in order, in the helper's stdout. */
static size_t values_of(const char *text, const char *key, uint64_t *v, size_t max)
{
    size_t n = 0, kl = strlen(key);
    for (const char *s = text; s && *s && n < max;) {
        if (strncmp(s, key, kl) == 0 && s[kl] == '=')
            v[n++] = strtoull(s + kl + 1, NULL, 0);
        s = strchr(s, '\n');
        if (s)
            s++;
    }
    return n;
}

static char mparam_buf[8][16];
static const char *mp(int slot, int value)
{
    snprintf(mparam_buf[slot], sizeof mparam_buf[slot], "%d", value);
    return mparam_buf[slot];
}

/* The mmap threshold through each channel decides whether a block gets its
 * own mapping; mallopt changes it in the running process. */
static void test_mmap_threshold_effect(void)
{
    struct {
        const char *env;
        const char *size;
        uint64_t mapped;
    } cases[] = {
        {NULL, "100k", 0},
        {NULL, "200k", 1},
        {"TARENA_MMAP_THRESHOLD=1m", "200k", 0},
        {"MALLOC_MMAP_THRESHOLD_=64k", "100k", 1},
        {"GLIBC_TUNABLES=glibc.malloc.mmap_threshold=64k", "100k", 1},
        {"TARENA_MMAP_MAX=0", "1m", 0},
        {"MALLOC_MMAP_MAX_=0", "1m", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *env[] = {cases[i].env, NULL};
        const char *args[] = {"mapped", cases[i].size, NULL};
        er_result_t r;
        if (helper_report(cases[i].env ? env : NULL, args, &r)) {
            uint64_t v = 99;
            er_get_u64(r.out, "mapped", &v);
            IT_ASSERT(v == cases[i].mapped, "[%s] malloc(%s) mapped on its own: %llu, want %llu",
                      cases[i].env ? cases[i].env : "defaults", cases[i].size, (unsigned long long)v,
                      (unsigned long long)cases[i].mapped);
        } else {
            CU_FAIL("helper failed");
        }
        er_free(&r);
    }

    /* live changes: threshold 1m from the environment, then mallopt 128k;
     * mmap_max 0, then mallopt 4 */
    const char *env1[] = {"TARENA_MMAP_THRESHOLD=1m", NULL};
    const char *args1[] = {"mapped", "200k", "mallopt", mp(0, M_MMAP_THRESHOLD), "131072", "mapped", "200k",
                           "mallopt", mp(1, M_MMAP_THRESHOLD), "1048576", "mapped", "200k", NULL};
    er_result_t r;
    if (helper_report(env1, args1, &r)) {
        uint64_t m[3] = {9, 9, 9}, rc[2] = {9, 9};
        values_of(r.out, "mapped", m, 3);
        values_of(r.out, "mallopt", rc, 2);
        IT_ASSERT(rc[0] == 1 && rc[1] == 1, "mallopt(M_MMAP_THRESHOLD) returned %llu, %llu",
                  (unsigned long long)rc[0], (unsigned long long)rc[1]);
        IT_ASSERT(m[0] == 0 && m[1] == 1 && m[2] == 0,
                  "malloc(200k) mapped: %llu with TARENA_MMAP_THRESHOLD=1m, %llu after mallopt 128k, %llu after "
                  "mallopt 1m; want 0, 1, 0",
                  (unsigned long long)m[0], (unsigned long long)m[1], (unsigned long long)m[2]);
    } else {
        CU_FAIL("helper failed");
    }
    er_free(&r);

    const char *env2[] = {"TARENA_MMAP_MAX=0", NULL};
    const char *args2[] = {"mapped", "1m", "mallopt", mp(2, M_MMAP_MAX), "4", "mapped", "1m", NULL};
    if (helper_report(env2, args2, &r)) {
        uint64_t m[2] = {9, 9};
        values_of(r.out, "mapped", m, 2);
        IT_ASSERT(m[0] == 0 && m[1] == 1, "malloc(1m) mapped: %llu with TARENA_MMAP_MAX=0, %llu after mallopt 4",
                  (unsigned long long)m[0], (unsigned long long)m[1]);
    } else {
        CU_FAIL("helper failed");
    }
    er_free(&r);
}

/* M_PERTURB from each channel fills new blocks with ~byte; mallopt changes it. */
static void test_perturb_effect(void)
{
    static const char *const envs[] = {"TARENA_PERTURB=0x5a", "MALLOC_PERTURB_=90",
                                       "GLIBC_TUNABLES=glibc.malloc.perturb=90"};
    for (size_t i = 0; i < sizeof envs / sizeof envs[0]; i++) {
        const char *env[] = {envs[i], NULL};
        const char *args[] = {"perturb", "3000", "mallopt", mp(3, M_PERTURB), "17", "perturb", "5000", NULL};
        er_result_t r;
        if (helper_report(env, args, &r)) {
            uint64_t b[2] = {0, 0}, u[2] = {0, 0};
            values_of(r.out, "perturb_byte", b, 2);
            values_of(r.out, "perturb_uniform", u, 2);
            IT_ASSERT(b[0] == (0x5a ^ 0xff) && u[0] == 1, "[%s] malloc(3000) filled with %#llx (uniform %llu), "
                      "want 0xa5", envs[i], (unsigned long long)b[0], (unsigned long long)u[0]);
            IT_ASSERT(b[1] == (17 ^ 0xff) && u[1] == 1, "[%s] after mallopt(M_PERTURB, 17) malloc(5000) filled "
                      "with %#llx (uniform %llu), want 0xee", envs[i], (unsigned long long)b[1],
                      (unsigned long long)u[1]);
        } else {
            CU_FAIL("helper failed");
        }
        er_free(&r);
    }
}

/* arena_max: 4 threads alive at once share one arena when it is 1, from
 * the environment or from mallopt; by default they get more. */
static void test_arena_max_effect(void)
{
    struct {
        const char *env;
        int mallopt_one;
        int want_one;
    } cases[] = {
        {NULL, 0, 0},
        {"TARENA_ARENA_MAX=1", 0, 1},
        {"MALLOC_ARENA_MAX=1", 0, 1},
        {"GLIBC_TUNABLES=glibc.malloc.arena_max=1", 0, 1},
        {NULL, 1, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *env[] = {cases[i].env, NULL};
        const char *with_mallopt[] = {"mallopt", mp(4, M_ARENA_MAX), "1", "arenas", "4", NULL};
        const char *plain[] = {"arenas", "4", NULL};
        er_result_t r;
        if (helper_report(cases[i].env ? env : NULL, cases[i].mallopt_one ? with_mallopt : plain, &r)) {
            uint64_t a = 0;
            er_get_u64(r.out, "arenas", &a);
            if (cases[i].want_one)
                IT_ASSERT(a == 1, "[%s%s] 5 threads use %llu arenas, want 1", cases[i].env ? cases[i].env : "",
                          cases[i].mallopt_one ? "mallopt(M_ARENA_MAX, 1)" : "", (unsigned long long)a);
            else
                IT_ASSERT(a >= 2, "[defaults] 5 threads allocating at once use %llu arena(s)", (unsigned long long)a);
        } else {
            CU_FAIL("helper failed");
        }
        er_free(&r);
    }
}

/* The thread-cache options (tunables and TARENA_ only): with a count of 0,
 * or a largest cached size below 64, freed 64-byte blocks are not cached. */
static void test_tcache_effect(void)
{
    struct {
        const char *env;
        int cached;
    } cases[] = {
        {NULL, 1},
        {"TARENA_TCACHE_COUNT=0", 0},
        {"GLIBC_TUNABLES=glibc.malloc.tcache_count=0", 0},
        {"TARENA_TCACHE_MAX=32", 0},
        {"GLIBC_TUNABLES=glibc.malloc.tcache_max=32", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *env[] = {cases[i].env, NULL};
        const char *args[] = {"cached", NULL};
        er_result_t r;
        if (helper_report(cases[i].env ? env : NULL, args, &r)) {
            uint64_t c = 12345;
            er_get_u64(r.out, "cached_bytes", &c);
            IT_ASSERT(cases[i].cached ? c > 0 : c == 0, "[%s] cached_bytes %llu after freeing 8 x 64 B",
                      cases[i].env ? cases[i].env : "defaults", (unsigned long long)c);
        } else {
            CU_FAIL("helper failed");
        }
        er_free(&r);
    }
}

/* M_TRIM_THRESHOLD and M_TOP_PAD with synchronous trimming: a 16 MiB top is
 * kept below a 64 MiB threshold, given back beyond a 1 MiB pad, and mallopt
 * moves the threshold live. */
static void test_trim_threshold_and_top_pad_effect(void)
{
    struct {
        const char *env;
        int mallopt_threshold; /* lower the threshold to 1 MiB with mallopt first */
        uint64_t keep;         /* the break stays this far above its start (UINT64_MAX: no shrink) */
    } cases[] = {
        {"TARENA_TOP_PAD=1m", 0, IT_MIB},
        {"MALLOC_TOP_PAD_=1m", 0, IT_MIB},
        {"GLIBC_TUNABLES=glibc.malloc.top_pad=1m", 0, IT_MIB},
        {"TARENA_TRIM_THRESHOLD=64m", 0, UINT64_MAX},
        {"MALLOC_TRIM_THRESHOLD_=64m", 0, UINT64_MAX},
        {"GLIBC_TUNABLES=glibc.malloc.trim_threshold=64m", 0, UINT64_MAX},
        {"TARENA_TRIM_THRESHOLD=64m", 1, 128 * IT_KIB},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *env[] = {"TARENA_BACKGROUND_TRIM=0", "TARENA_MMAP_THRESHOLD=32m", cases[i].env, NULL};
        const char *plain[] = {"brk_medium", "16m", "0", NULL};
        const char *lowered[] = {"mallopt", mp(5, M_TRIM_THRESHOLD), "1048576", "brk_medium", "16m", "0", NULL};
        er_result_t r;
        if (helper_report(env, cases[i].mallopt_threshold ? lowered : plain, &r)) {
            uint64_t grow = 0, drop = 0, in_heap = 0, top = 0;
            er_get_u64(r.out, "grow", &grow);
            er_get_u64(r.out, "drop", &drop);
            er_get_u64(r.out, "in_heap", &in_heap);
            er_get_u64(r.out, "top_after", &top);
            CU_ASSERT(in_heap == 1 && grow >= 16 * IT_MIB);
            if (cases[i].keep == UINT64_MAX)
                IT_ASSERT(drop == 0 && top >= 16 * IT_MIB,
                          "[%s] free(16M top) with a 64 MiB trim threshold: the break went down by %llu, free top "
                          "%llu; want no shrink",
                          cases[i].env, (unsigned long long)drop, (unsigned long long)top);
            else
                IT_ASSERT(drop > 0 && top >= cases[i].keep && top < cases[i].keep + 64 * IT_KIB,
                          "[%s%s] free(16M top): the break went down by %llu, the free top left is %llu; want it "
                          "trimmed to %llu",
                          cases[i].env, cases[i].mallopt_threshold ? " + mallopt(M_TRIM_THRESHOLD, 1m)" : "",
                          (unsigned long long)drop, (unsigned long long)top, (unsigned long long)cases[i].keep);
        } else {
            CU_FAIL("helper failed");
        }
        er_free(&r);
    }
}

TA_SUITE(options_env)
{
    TA_ADD(suite, test_defaults_all_printed);
    TA_ADD(suite, test_show_options_switch);
    TA_ADD(suite, test_every_option_every_channel);
    TA_ADD(suite, test_precedence);
    TA_ADD(suite, test_value_forms);
    TA_ADD(suite, test_bad_value_keeps_lower_channel);
    TA_ADD(suite, test_tunables_list_and_lookalikes);
    TA_ADD(suite, test_mmap_threshold_effect);
    TA_ADD(suite, test_perturb_effect);
    TA_ADD(suite, test_arena_max_effect);
    TA_ADD(suite, test_tcache_effect);
    TA_ADD(suite, test_trim_threshold_and_top_pad_effect);
}
