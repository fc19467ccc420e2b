/* Implementation of harden_run.h: ta_harden_helper runs and the checks of
 * tarena's one-line corruption reports. */
#include "harden_run.h"
#include "integ.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

void hr_run(const char *const env[], const char *const args[], er_result_t *r)
{
    const char *argv[32] = {TA_HARDEN_HELPER};
    size_t n = 1;
    for (const char *const *a = args; a && *a && n < 31; a++)
        argv[n++] = *a;
    argv[n] = NULL;
    int rc = er_run(argv, env, 60, r);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
}

/* The helper's own view (error=... lines) and tarena's reports, for failure
 * messages. */
static void show(const er_result_t *r, const char *what, const char *why)
{
    char st[64];
    fprintf(stderr, "\n  %s: %s; ended with %s\n  stdout: %s\n  stderr: %s\n", what, why,
            er_status_str(r->status, st, sizeof st), r->out, r->err);
}

int hr_expect_abort(const er_result_t *r, const char *what)
{
    int ok = r->status != -1 && WIFSIGNALED(r->status) && WTERMSIG(r->status) == SIGABRT;
    if (!ok)
        show(r, what, "want SIGABRT");
    CU_ASSERT_TRUE(ok);
    return ok;
}

int hr_expect_exit0(const er_result_t *r, const char *what)
{
    int ok = er_ok(r);
    if (!ok)
        show(r, what, "want exit 0");
    CU_ASSERT_TRUE(ok);
    return ok;
}

void hr_expect_report(const er_result_t *r, const char *what, const char *prefix, const char *text,
                      const char *ptr_key)
{
    const char *nl = strchr(r->err, '\n');
    /* Every report ends in "(ptr=0x...)". */
    const char *at = strstr(r->err, "(ptr=0x");
    int ok = r->errlen > 0 && nl == r->err + r->errlen - 1 && strncmp(r->err, prefix, strlen(prefix)) == 0 &&
             strstr(r->err, text) != NULL && at != NULL;
    IT_ASSERT(ok, "%s: want one line \"%s...%s...(ptr=0x...)\" on stderr, got \"%s\"", what, prefix, text,
              r->err);
    if (ok && ptr_key) {
        uint64_t want = hr_get(r, ptr_key), got = strtoull(at + 5, NULL, 16);
        IT_ASSERT(got == want, "%s: report \"%s\" names %#llx, want the block %#llx", what, r->err,
                  (unsigned long long)got, (unsigned long long)want);
    }
}

uint64_t hr_get(const er_result_t *r, const char *key)
{
    uint64_t v = 0;
    int found = er_get_u64(r->out, key, &v);
    IT_ASSERT(found, "no %s= in the helper's output \"%s\" (stderr \"%s\")", key, r->out, r->err);
    return v;
}
