/* tests/valgrind: a program (static, or dynamic under the preload) with four
 * memory bugs that memcheck must report through tarena's annotations. The MARK
 * comments let static_check.sh and dynamic_check.sh find the lines. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Keeps the compiler from dropping or folding the faulty accesses. */
static volatile char sink;
static void *volatile hide;

int main(void)
{
    char *p = malloc(40);
    memset(p, 1, 40);
    free(p);
    sink = p[8]; /* MARK:uaf */

    char *q = malloc(20);
    memset(q, 2, 20);
    sink = q[24]; /* MARK:overflow (tarena's slot has 32 bytes) */
    free(q);

    char *r = malloc(64);
    free(r);
    free(r); /* MARK:double-free (TARENA_CHECK_ACTION=1: reported, ignored) */

    hide = malloc(100); /* MARK:leak-small */
    hide = malloc(40 * 1024); /* MARK:leak-medium */
    hide = NULL;
    puts("misuse: done");
    return 0;
}
