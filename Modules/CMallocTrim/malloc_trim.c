#include "malloc_trim.h"

#include <stddef.h>
#include <stdlib.h>  // defines __GLIBC__ on glibc
#if defined(__GLIBC__)
#include <dlfcn.h>
#include <malloc.h>
#endif

// jemalloc's control call (the raft-cache binary links jemalloc; tests and tools may not).
typedef int (*mallctl_function)(const char *, void *, size_t *, void *, size_t);

void raftcache_malloc_trim(int all) {
#if defined(__GLIBC__)
    // Looked up on each call (every few seconds at most): no state shared between threads.
    mallctl_function mallctl = (mallctl_function)dlsym(RTLD_DEFAULT, "mallctl");
    if (mallctl != NULL) {
        // Every arena (MALLCTL_ARENAS_ALL is 4096): "purge" gives back every unused page now,
        // "decay" those past their decay time.
        mallctl(all ? "arena.4096.purge" : "arena.4096.decay", NULL, NULL, NULL, 0);
    } else {
        malloc_trim(0);
    }
#else
    (void)all;
#endif
}
