/* tests/preload/preload_check.c: the program of preload.in_use. Built without
 * linking tarena; run under LD_PRELOAD it proves that malloc & co resolve to
 * the preloaded library and that tarena's ta_owns() claims what they return. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Exit codes: the script expects NOT_PRELOADED without LD_PRELOAD, so the
 * check is shown to be able to fail. */
enum { OK = 0, FAILED = 1, NOT_PRELOADED = 3 };

static int (*owns)(const void *);
static int failures;

static void expect(int cond, const char *what)
{
    printf("%s %s\n", cond ? "ok:" : "FAILED:", what);
    if (!cond)
        failures++;
}

/* Which object defines the code at addr, as a canonical path. */
static const char *object_of(const void *addr, char *buf)
{
    Dl_info info;
    if (!dladdr(addr, &info) || !info.dli_fname || !realpath(info.dli_fname, buf))
        return "(unknown)";
    return buf;
}

static void *thread_alloc(void *arg)
{
    (void)arg;
    return malloc(1000);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s /path/to/libtarena.so [--standin]\n", argv[0]);
        return FAILED;
    }
    char lib[PATH_MAX], where[PATH_MAX];
    if (!realpath(argv[1], lib)) {
        perror(argv[1]);
        return FAILED;
    }
    int standin = argc > 2 && strcmp(argv[2], "--standin") == 0;

    /* The definition any object's lookup finds must be the library's... */
    const char *global = object_of(dlsym(RTLD_DEFAULT, "malloc"), where);
    printf("malloc is in %s\n", global);
    if (strcmp(global, lib) != 0)
        return NOT_PRELOADED;
    /* ...and so must the address this executable calls (unless a non-PIE
     * build made its PLT slot the canonical address of malloc). */
    char self[PATH_MAX];
    const char *linked = object_of((void *)&malloc, where);
    if (!realpath("/proc/self/exe", self) || strcmp(linked, self) != 0)
        expect(strcmp(linked, lib) == 0, "&malloc is in the library");
    expect(strcmp(object_of(dlsym(RTLD_DEFAULT, "free"), where), lib) == 0,
           "free is in the library");
    if (standin)
        return failures ? FAILED : OK;

    owns = (int (*)(const void *))dlsym(RTLD_DEFAULT, "ta_owns");
    const char *(*version)(void) = (const char *(*)(void))dlsym(RTLD_DEFAULT, "ta_version");
    expect(owns != NULL, "ta_owns is exported");
    expect(version != NULL, "ta_version is exported");
    if (!owns || !version)
        return FAILED;
    printf("ta_version() = %s\n", version());
    expect(strncmp(version(), "tarena ", 7) == 0, "ta_version() starts with \"tarena \"");

    void *m = malloc(24);
    void *c = calloc(10, 100);
    void *r = realloc(malloc(16), 1 << 20);
    void *a = aligned_alloc(64, 640);
    void *pm = NULL;
    int pm_rc = posix_memalign(&pm, 4096, 5000);
    char *s = strdup("allocated inside libc"); /* libc's own call to malloc */
    char *fmt = NULL;
    int fmt_rc = asprintf(&fmt, "%s %d", "asprintf grows with realloc", 42);
    expect(m && owns(m) == 1, "ta_owns(malloc(24))");
    expect(c && owns(c) == 1, "ta_owns(calloc(10, 100))");
    expect(r && owns(r) == 1, "ta_owns(realloc(p, 1 MiB))");
    expect(a && owns(a) == 1 && ((uintptr_t)a & 63) == 0, "ta_owns(aligned_alloc(64, 640)), aligned");
    expect(pm_rc == 0 && owns(pm) == 1 && ((uintptr_t)pm & 4095) == 0,
           "ta_owns(posix_memalign(4096, 5000)), aligned");
    expect(s && owns(s) == 1, "ta_owns(strdup()) (libc's internal malloc)");
    expect(fmt_rc > 0 && owns(fmt) == 1, "ta_owns(asprintf()) (libc's internal realloc)");

    /* A block from another thread, freed here: the cross-thread free path. */
    pthread_t t;
    void *from_thread = NULL;
    expect(pthread_create(&t, NULL, thread_alloc, NULL) == 0 && pthread_join(t, &from_thread) == 0,
           "thread ran");
    expect(from_thread && owns(from_thread) == 1, "ta_owns(block malloc'd by another thread)");

    int on_stack = 0;
    static int in_data;
    expect(owns(&on_stack) == 0, "ta_owns(stack address) == 0");
    expect(owns(&in_data) == 0, "ta_owns(static address) == 0");
    expect(owns(NULL) == 0, "ta_owns(NULL) == 0");

    free(from_thread);
    free(fmt);
    free(s);
    free(pm);
    free(a);
    free(r);
    free(c);
    free(m);
    return failures ? FAILED : OK;
}
