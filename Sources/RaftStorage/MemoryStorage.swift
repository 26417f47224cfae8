import RaftCore
import RaftWire
import Synchronization

/// RaftStorage in memory, behaving like FileStorage (without the disk): for the
/// simulation and unit tests. `crashed()` gives what a restarted node would find.
public final class MemoryStorage: RaftStorage, Sendable {
    private struct State {
        var persistent = PersistentState()
        var snapshots: [MemorySnapshot] = []
    }

    private let state: Mutex<State>
    public let recovered: PersistentState
    private let retain: Int

    public init(_ initial: PersistentState = PersistentState(), snapshotRetain: Int = 2) {
        state = Mutex(State(persistent: initial))
        recovered = initial
        retain = max(1, snapshotRetain)
    }

    private init(copying state: State, retain: Int) {
        self.state = Mutex(state)
        recovered = state.persistent
        self.retain = retain
    }

    /// A new storage holding everything this one made durable, as after a restart.
    public func crashed() -> MemoryStorage {
        MemoryStorage(copying: state.withLock { $0 }, retain: retain)
    }

    public var persisted: PersistentState { state.withLock { $0.persistent } }

    public func persist(_ update: StorageUpdate, completion: @escaping @Sendable ((any Error)?) -> Void) {
        state.withLock { state in
            if let first = update.entries.first {
                state.persistent.entries.removeAll { $0.index >= first.index }
                let expected = (state.persistent.entries.last?.index ?? state.persistent.snapshot.lastIncludedIndex) + 1
                precondition(first.index == expected, "entries from \(first.index) would leave a gap before \(expected)")
                state.persistent.entries += update.entries
            }
            if let hardState = update.hardState { state.persistent.hardState = hardState }
        }
        completion(nil)
    }

    public func compact(through index: UInt64) throws {
        state.withLock { $0.persistent.entries.removeAll { $0.index <= index } }
    }

    public func beginSnapshot(_ metadata: SnapshotMetadata) throws -> any SnapshotSink {
        MemorySnapshotSink(metadata: metadata)
    }

    public func commitSnapshot(_ sink: any SnapshotSink, replacingLog: Bool) throws -> any SnapshotSource {
        guard let sink = sink as? MemorySnapshotSink else { preconditionFailure("a snapshot of another storage") }
        let snapshot = MemorySnapshot(metadata: sink.metadata, data: sink.data)
        state.withLock { state in
            state.snapshots.append(snapshot)
            state.snapshots.sort { $0.metadata.lastIncludedIndex < $1.metadata.lastIncludedIndex }
            if state.snapshots.count > retain { state.snapshots.removeFirst(state.snapshots.count - retain) }
            state.persistent.snapshot = state.snapshots.last!.metadata
            if replacingLog { state.persistent.entries = [] }
        }
        return snapshot
    }

    public func latestSnapshot() throws -> (any SnapshotSource)? {
        state.withLock { $0.snapshots.last }
    }
}

final class MemorySnapshotSink: SnapshotSink, @unchecked Sendable {
    let metadata: SnapshotMetadata
    private(set) var data: [UInt8] = []

    init(metadata: SnapshotMetadata) {
        self.metadata = metadata
    }

    func write(_ chunk: [UInt8]) throws {
        data += chunk
    }

    var size: UInt64 { UInt64(data.count) }

    func read(offset: UInt64, count: Int) throws -> [UInt8] {
        data.chunk(at: offset, count: count)
    }

    func abort() {
        data = []
    }
}

public final class MemorySnapshot: SnapshotSource, Sendable {
    public let metadata: SnapshotMetadata
    public let data: [UInt8]
    public var size: UInt64 { UInt64(data.count) }

    init(metadata: SnapshotMetadata, data: [UInt8]) {
        self.metadata = metadata
        self.data = data
    }

    public func read(offset: UInt64, count: Int) throws -> [UInt8] {
        data.chunk(at: offset, count: count)
    }
}

extension Array where Element == UInt8 {
    /// Up to `count` bytes from `offset`; fewer at the end, none past it.
    public func chunk(at offset: UInt64, count: Int) -> [UInt8] {
        let start = Int(Swift.min(offset, UInt64(self.count)))
        return Array(self[start..<Swift.min(self.count, start + count)])
    }
}
