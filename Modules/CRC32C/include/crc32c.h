// CRC-32C (Castagnoli), the checksum of raft-cache's log records and snapshots.
#ifndef RAFTCACHE_CRC32C_H
#define RAFTCACHE_CRC32C_H

#include <stddef.h>
#include <stdint.h>

// Extends `crc` (0 to start) over `length` bytes at `data`. Uses the SSE4.2 instruction
// when the processor has it, a table otherwise; both give the same result.
uint32_t raftcache_crc32c(uint32_t crc, const void *data, size_t length);

#endif
