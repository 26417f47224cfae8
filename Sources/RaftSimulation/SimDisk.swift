import RaftCore
import RaftStorage
import RaftWire

/// A simulated server's disk: a write is durable only some time after it was handed over,
/// in the order writes were handed over, as FileStorage's group commit makes them. Until
/// then a crash loses it, so the simulation runs what production does: a leader's
/// AppendEntries leaving before its own write is durable, a commit index that rides with a
/// later write, and crashes in between. Snapshots and compaction wait for the writes before
/// them, as FileStorage's do.
final class SimDisk: RaftStorage, @unchecked Sendable {
    /// What has reached the platter.
    private(set) var durable: MemoryStorage
    private var pending: [(due: UInt64, update: StorageUpdate, completion: @Sendable ((any Error)?) -> Void)] = []
    private var rng: SplitMix64
    let latency: ClosedRange<UInt64>
    /// The simulation's time, kept current by the simulation.
    var now: UInt64 = 0

    /// `latency`: how long a write takes to become durable, in simulated time units.
    init(_ durable: MemoryStorage, latency: ClosedRange<UInt64>, seed: UInt64) {
        self.durable = durable
        self.latency = latency
        rng = SplitMix64(seed: seed)
    }

    /// The disk as a restarted server finds it: writes not yet durable are gone.
    func crashed() -> SimDisk {
        SimDisk(durable.crashed(), latency: latency, seed: rng.next())
    }

    var recovered: PersistentState { durable.recovered }
    var hasPending: Bool { !pending.isEmpty }

    func persist(_ update: StorageUpdate, completion: @escaping @Sendable ((any Error)?) -> Void) {
        // In order: no write is durable before one handed over earlier.
        let due = max(pending.last?.due ?? 0, now + UInt64.random(in: latency, using: &rng))
        pending.append((due, update, completion))
    }

    /// Makes the writes due by now durable and says so.
    func completeDue() {
        while let first = pending.first, first.due <= now {
            complete()
        }
    }

    /// Every pending write, durable now (a snapshot or compaction waits for them).
    private func completeAll() {
        while !pending.isEmpty { complete() }
    }

    private func complete() {
        let write = pending.removeFirst()
        durable.persist(write.update) { error in precondition(error == nil, "memory storage failed") }
        write.completion(nil)
    }

    func compact(through index: UInt64) throws {
        completeAll()
        try durable.compact(through: index)
    }

    func beginSnapshot(_ metadata: SnapshotMetadata) throws -> any SnapshotSink {
        try durable.beginSnapshot(metadata)
    }

    func commitSnapshot(_ sink: any SnapshotSink, replacingLog: Bool) throws -> any SnapshotSource {
        completeAll()
        return try durable.commitSnapshot(sink, replacingLog: replacingLog)
    }

    func latestSnapshot() throws -> (any SnapshotSource)? {
        try durable.latestSnapshot()
    }
}
