import RaftCore
import RaftWire

/// What one Ready asks to persist: entries (the stored log is first cut from
/// `entries.first.index` when they replace a suffix) and the hard state.
public struct StorageUpdate: Sendable {
    public var hardState: HardState?
    public var entries: [Entry]

    public init(hardState: HardState? = nil, entries: [Entry] = []) {
        self.hardState = hardState
        self.entries = entries
    }

    public var isEmpty: Bool { hardState == nil && entries.isEmpty }
}

/// A snapshot being written, chunk by chunk.
public protocol SnapshotSink: AnyObject, Sendable {
    var metadata: SnapshotMetadata { get }
    func write(_ chunk: [UInt8]) throws
    /// The data's length so far.
    var size: UInt64 { get }
    /// Reads back data written so far: a snapshot from the wire is checked whole before it
    /// is committed.
    func read(offset: UInt64, count: Int) throws -> [UInt8]
    /// Throws away what was written.
    func abort()
}

/// A stored snapshot, read in chunks.
public protocol SnapshotSource: AnyObject, Sendable {
    var metadata: SnapshotMetadata { get }
    /// The data's length in bytes.
    var size: UInt64 { get }
    func read(offset: UInt64, count: Int) throws -> [UInt8]
    /// When it was written (Unix time in milliseconds), where the storage knows.
    var writtenAtMs: UInt64? { get }
}

extension SnapshotSource {
    public var writtenAtMs: UInt64? { nil }

    /// Every chunk of the data in order.
    public func forEachChunk(size chunkSize: Int = 1 << 20, _ body: ([UInt8]) throws -> Void) throws {
        var offset: UInt64 = 0
        while offset < size {
            let chunk = try read(offset: offset, count: chunkSize)
            guard !chunk.isEmpty else { break }
            try body(chunk)
            offset += UInt64(chunk.count)
        }
    }
}

/// Where a node keeps its Raft state: the log, the hard state and snapshots. Writes are
/// durable when they complete; writes submitted while an earlier one syncs share the next
/// sync (group commit), and complete in submission order.
public protocol RaftStorage: AnyObject, Sendable {
    /// What was persisted when the storage was opened: the core starts from it.
    var recovered: PersistentState { get }
    /// Forgets the recovered log entries once the core holds them: kept here, they would pin
    /// every entry since the snapshot for the life of the process.
    func releaseRecovered()

    func persist(_ update: StorageUpdate, completion: @escaping @Sendable (Error?) -> Void)
    /// Drops log entries a snapshot through `index` covers.
    func compact(through index: UInt64) throws
    func beginSnapshot(_ metadata: SnapshotMetadata) throws -> any SnapshotSink
    /// Makes a written snapshot durable. `replacingLog`: it came from the leader and the
    /// whole log is discarded (the Ready's `snapshot`).
    func commitSnapshot(_ sink: any SnapshotSink, replacingLog: Bool) throws -> any SnapshotSource
    /// The newest valid snapshot.
    func latestSnapshot() throws -> (any SnapshotSource)?
}

extension RaftStorage {
    public func releaseRecovered() {}

    /// Persists and waits until it is durable.
    public func persist(_ update: StorageUpdate) throws {
        let done = Completion()
        persist(update) { done.finish($0) }
        try done.wait()
    }

    public func persist(_ update: StorageUpdate) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
            persist(update) { error in
                if let error { continuation.resume(throwing: error) } else { continuation.resume() }
            }
        }
    }
}
