#include "malloc_trim.h"

#include <stdlib.h>  // defines __GLIBC__ on glibc
#if defined(__GLIBC__)
#include <malloc.h>
#endif

void raftcache_malloc_trim(void) {
#if defined(__GLIBC__)
    malloc_trim(0);
#endif
}
