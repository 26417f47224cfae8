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
    /// giving free pages back, since what a node frees (a replaced map, compacted entries, a
    /// replay) is often not free in whole pages, and the allocator keeps such pages mapped.
    static func forProcess() -> Housekeeping {
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        pool.submit { _ in _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 10) }
        return Housekeeping(pool: pool, returnFreeMemory: { pages in raftcache_malloc_trim(pages == .all ? 1 : 0) })
    }

    /// Gives every free page back now (a recovery frees much), then every 10 s those left
    /// unused for a while (a node that stops being busy returns what it no longer uses).
    func returnFreeMemoryPeriodically(on loop: any EventLoop) -> RepeatedTask {
        run { returnFreeMemory(.all) }
        return loop.scheduleRepeatedTask(initialDelay: .seconds(10), delay: .seconds(10)) { _ in
            run { returnFreeMemory(.idle) }
        }
    }
}
