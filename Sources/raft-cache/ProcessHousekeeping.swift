#if canImport(Glibc)
import Glibc
#endif
import CMallocTrim
import NIOCore
import NIOPosix
import RaftNode

extension Housekeeping {
    /// The process's housekeeping: one thread that yields the processor to the event loops
    /// (nice 10, which Linux keeps per thread), since writing a snapshot may take a second of
    /// CPU and on a small machine the loops serving writes must not wait for it; and
    /// malloc_trim, since what a node frees (a replaced map, compacted entries, a replay) is
    /// often not free in whole pages, and glibc keeps such pages mapped.
    static func forProcess() -> Housekeeping {
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        pool.submit { _ in _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 10) }
        return Housekeeping(pool: pool, returnFreeMemory: { raftcache_malloc_trim() })
    }

    /// Gives free pages back now (a recovery frees much), then every 10 s.
    func returnFreeMemoryPeriodically(on loop: any EventLoop) -> RepeatedTask {
        run(returnFreeMemory)
        return loop.scheduleRepeatedTask(initialDelay: .seconds(10), delay: .seconds(10)) { _ in
            run(returnFreeMemory)
        }
    }
}
