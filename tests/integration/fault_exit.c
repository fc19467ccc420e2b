/* Integration suite "fault_exit": the process ends while 8 threads are inside
 * malloc/free (ta_fault_exit_helper): exit(), quick_exit(), return from main,
 * _exit(), exit() from a worker; also with TARENA_STATS=json, which prints
 * the statistics at exit while the threads still run. Every run must end
 * with status 0 well within its watchdog, and print whole JSON when asked. */
#include "envrun.h"
#include "integ.h"
#include "ta_test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#ifndef TA_FAULT_EXIT_HELPER
#error "TA_FAULT_EXIT_HELPER must name the ta_fault_exit_helper program"
#endif

enum { RUNS = 30, JSON_RUNS = 10, FEW = 15, TIMEOUT_S = 10 };

/* Whether the run's stderr holds exactly one complete statistics document. */
static int one_json_doc(const char *err)
{
    if (er_count_lines(err, "{\"tarena\"") != 1)
        return 0;
    const char *doc = strstr(err, "{\"tarena\"");
    const char *nl = strchr(doc, '\n');
    return nl && nl - doc >= 3 && strncmp(nl - 3, "]}}", 3) == 0;
}

/* json: 0 no statistics, 1 they must be printed, 2 they may be (quick_exit
 * and _exit skip destructors, so nothing is printed; but never half). */
static void run_mode(const char *mode, int runs, int json)
{
    /* er_run drops every TARENA_* variable: hardened mode (hardened.fault_exit)
     * is passed on by hand. */
    const char *env[3] = {NULL, NULL, NULL}, **e = env;
    if (json)
        *e++ = "TARENA_STATS=json";
    char harden[64];
    const char *h = getenv("TARENA_HARDEN");
    if (h && snprintf(harden, sizeof harden, "TARENA_HARDEN=%s", h) < (int)sizeof harden)
        *e++ = harden;
    unsigned bad = 0;
    for (int i = 0; i < runs && bad < 3; i++) {
        char seed[32];
        snprintf(seed, sizeof seed, "%d", i * 7919 + (int)strlen(mode));
        const char *argv[] = {TA_FAULT_EXIT_HELPER, mode, seed, NULL};
        er_result_t r;
        int rc = er_run(argv, env, TIMEOUT_S, &r);
        char why[64];
        if (rc != 0) {
            IT_ASSERT(0, "%s: could not run %s", mode, TA_FAULT_EXIT_HELPER);
            bad++;
            continue;
        }
        int hung = WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGALRM;
        if (!er_ok(&r)) {
            bad++;
            IT_ASSERT(0, "%s%s run %d (seed %s): %s%s; stderr: %.300s", mode, json ? " with TARENA_STATS=json" : "",
                      i, seed, er_status_str(r.status, why, sizeof why),
                      hung ? " (did not end within 10 s: a hang)" : "", r.err);
        } else if (json == 1 && !one_json_doc(r.err)) {
            bad++;
            IT_ASSERT(0, "%s with TARENA_STATS=json run %d: not one whole JSON document on stderr: %.300s", mode, i,
                      r.err);
        } else if (json == 2 && er_count_lines(r.err, "{") && !one_json_doc(r.err)) {
            bad++;
            IT_ASSERT(0, "%s with TARENA_STATS=json run %d: partial statistics on stderr: %.300s", mode, i, r.err);
        } else if (!json && r.errlen) {
            bad++;
            IT_ASSERT(0, "%s run %d: unexpected output on stderr: %.300s", mode, i, r.err);
        }
        er_free(&r);
    }
}

static void test_exit_while_threads_allocate(void)
{
    run_mode("exit", RUNS, 0);
    run_mode("exit", JSON_RUNS, 1);
}

static void test_quick_exit_while_threads_allocate(void)
{
    run_mode("quick_exit", RUNS, 0);
    run_mode("quick_exit", JSON_RUNS, 2);
}

static void test_return_from_main_while_threads_allocate(void)
{
    run_mode("return", RUNS, 0);
    run_mode("return", JSON_RUNS, 1);
}

static void test_exit_underscore_while_threads_allocate(void)
{
    run_mode("_exit", FEW, 0);
    run_mode("_exit", JSON_RUNS / 2, 2);
}

static void test_exit_from_a_worker_while_threads_allocate(void)
{
    run_mode("thread_exit", FEW, 0);
    run_mode("thread_exit", JSON_RUNS, 1);
}

TA_SUITE(fault_exit)
{
    TA_ADD(suite, test_exit_while_threads_allocate);
    TA_ADD(suite, test_quick_exit_while_threads_allocate);
    TA_ADD(suite, test_return_from_main_while_threads_allocate);
    TA_ADD(suite, test_exit_underscore_while_threads_allocate);
    TA_ADD(suite, test_exit_from_a_worker_while_threads_allocate);
}
