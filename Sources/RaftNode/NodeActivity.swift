import Synchronization

/// What the live cluster page charts: entries applied and reads answered in each of the last
/// five minutes' seconds, and the leader changes this node saw. Sampled on the node's tick;
/// reads are counted on whatever thread answers them.
public final class NodeActivity: Sendable {
    public struct LeaderChange: Sendable, Equatable {
        public var timeMs: UInt64
        public var term: UInt64
        public var leaderID: String
    }

    public struct Series: Sendable {
        public var intervalMs: UInt64
        /// Oldest first, one per interval.
        public var writesPerSecond: [UInt64]
        public var readsPerSecond: [UInt64]
        /// Newest last.
        public var leaderChanges: [LeaderChange]
    }

    static let samplesKept = 300
    static let leaderChangesKept = 20

    private struct State {
        var writes: [UInt64] = []
        var reads: [UInt64] = []
        var second: UInt64 = 0
        var appliedAtSecond: UInt64 = 0
        var readsAtSecond: UInt64 = 0
        var leaderChanges: [LeaderChange] = []
    }

    private let readsAnswered = Atomic<UInt64>(0)
    private let state = Mutex(State())

    public init() {}

    func readsAnswered(_ count: Int) {
        readsAnswered.add(UInt64(count), ordering: .relaxed)
    }

    /// Takes a sample for each whole second passed since the last (idle seconds as zeros).
    /// `nowMs` is a monotonic clock's (the node's uptime), so a wall-clock step changes nothing.
    func tick(nowMs: UInt64, appliedIndex: UInt64) {
        let second = nowMs / 1_000
        let reads = readsAnswered.load(ordering: .relaxed)
        state.withLock { state in
            guard second > state.second else { return }
            if state.second > 0 {
                let writes = appliedIndex - min(appliedIndex, state.appliedAtSecond)
                let readCount = reads - min(reads, state.readsAtSecond)
                // Seconds with no tick at all (a paused process) show as zeros.
                let missed = Int(min(second - state.second - 1, UInt64(Self.samplesKept)))
                state.writes += repeatElement(0, count: missed)
                state.reads += repeatElement(0, count: missed)
                state.writes.append(writes)
                state.reads.append(readCount)
                if state.writes.count > Self.samplesKept {
                    state.writes.removeFirst(state.writes.count - Self.samplesKept)
                    state.reads.removeFirst(state.reads.count - Self.samplesKept)
                }
            }
            state.second = second
            state.appliedAtSecond = appliedIndex
            state.readsAtSecond = reads
        }
    }

    func leaderChanged(_ change: LeaderChange) {
        state.withLock { state in
            state.leaderChanges.append(change)
            if state.leaderChanges.count > Self.leaderChangesKept { state.leaderChanges.removeFirst() }
        }
    }

    public func series() -> Series {
        state.withLock { state in
            Series(intervalMs: 1_000, writesPerSecond: state.writes, readsPerSecond: state.reads, leaderChanges: state.leaderChanges)
        }
    }
}
