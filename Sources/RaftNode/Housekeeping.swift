import NIOPosix

/// Where the node runs work that may take long (writing and installing snapshots, freeing a
/// compacted log) so the loop never waits for it, and how it gives freed memory back. The
/// process decides both (the executable: a thread that yields to the loops, malloc_trim).
public struct Housekeeping: Sendable {
    /// Which free pages go back to the system.
    public enum FreePages: Sendable {
        /// Every one: after much was freed at once and will not be taken again soon (a map
        /// replaced by a snapshot's, a recovery).
        case all
        /// Those unused for a while (jemalloc's decay, about 10 s): what a busy node frees it
        /// soon takes again, and each page given back would cost a page fault to take.
        case idle
    }

    private let pool: NIOThreadPool
    /// Gives the pages malloc holds free back to the system.
    public let returnFreeMemory: @Sendable (FreePages) -> Void

    /// `pool`: started, with one thread, so its work runs in order.
    public init(pool: NIOThreadPool, returnFreeMemory: @escaping @Sendable (FreePages) -> Void = { _ in }) {
        self.pool = pool
        self.returnFreeMemory = returnFreeMemory
    }

    /// One thread shared by every node of the process that asks for no other, freeing nothing:
    /// for tests and tools.
    public static let plain: Housekeeping = {
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        return Housekeeping(pool: pool)
    }()

    public func run(_ work: @escaping @Sendable () -> Void) {
        pool.submit { _ in work() }
    }
}
