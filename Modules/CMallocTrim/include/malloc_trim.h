#ifndef RAFTCACHE_MALLOC_TRIM_H
#define RAFTCACHE_MALLOC_TRIM_H

/// Gives the pages malloc holds free back to the system: jemalloc's purge of every arena when
/// the process runs on jemalloc (as the raft-cache binary does), else glibc's malloc_trim(0),
/// which Swift's Glibc module does not export; does nothing elsewhere.
void raftcache_malloc_trim(void);

#endif
