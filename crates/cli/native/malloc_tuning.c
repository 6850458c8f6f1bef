/* glibc malloc settings for the sotl-nas binary, applied before main.
 *
 * libtorch allocates and frees the same large activation buffers every training step. With
 * glibc's defaults the heaps of its worker threads shrink after each step and grow again in the
 * next, and buffers above the dynamic mmap threshold are mapped and unmapped each time: a
 * first-order DARTS step on NAS-Bench-201 took about 90 000 minor page faults and 0.19 s of system
 * time (2 threads). A fixed 32 MiB mmap threshold and no trimming take that to a few hundred
 * faults and 0.01 s, and the step 10-15% faster (README, "Benchmarks"). The price: freed memory
 * stays with the process for reuse instead of going back to the system.
 *
 * SOTL_NAS_MALLOC=default keeps glibc's defaults (and GLIBC_TUNABLES set by the user win, as
 * their malloc settings are left alone when that variable names any malloc tunable).
 */
#if defined(__GLIBC__) || defined(__linux__)
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

__attribute__((constructor)) static void sotl_nas_malloc_tuning(void) {
#ifdef __GLIBC__
    const char *choice = getenv("SOTL_NAS_MALLOC");
    if (choice != NULL && strcmp(choice, "default") == 0) {
        return;
    }
    const char *tunables = getenv("GLIBC_TUNABLES");
    if (tunables != NULL && strstr(tunables, "glibc.malloc.") != NULL) {
        return;
    }
    mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
    mallopt(M_TRIM_THRESHOLD, 0x7fffffff);
#endif
}
#endif
