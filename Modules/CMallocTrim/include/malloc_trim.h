#ifndef RAFTCACHE_MALLOC_TRIM_H
#define RAFTCACHE_MALLOC_TRIM_H

/// Gives pages malloc holds free back to the system. When the process runs on jemalloc (as the
/// raft-cache binary does): with `all`, every free page of every arena (a purge); without,
/// only those left unused past jemalloc's decay time (about 10 s), so pages a busy node frees
/// and soon takes again stay mapped. On glibc, malloc_trim(0) either way (Swift's Glibc
/// module does not export it); elsewhere nothing.
void raftcache_malloc_trim(int all);

#endif
