import Dispatch
import Logging
import NodeMetrics
import RaftCore
import RaftWire
import Synchronization

/// RaftStorage in a data directory (--raft-dir): the segmented log with hard-state
/// records, snapshot files, and a lock so one process owns it.
///
/// All log writes run on one writer queue. A write submitted while the writer syncs waits
/// for the next round, which takes every waiting write, writes them with one system call
/// and one sync (group commit). A failed write or sync makes the storage refuse all further
/// writes: after a failed fsync, what is on disk is unknown.
public final class FileStorage: RaftStorage, @unchecked Sendable {
    public struct Options: Sendable {
        public var segmentSize: Int
        public var snapshotRetain: Int

        public init(segmentSize: Int = 64 << 20, snapshotRetain: Int = 2) {
            self.segmentSize = segmentSize
            self.snapshotRetain = snapshotRetain
        }
    }

    private enum Operation {
        case update(StorageUpdate)
        case compact(UInt64)
        case reset(SnapshotMetadata)
    }

    private struct Queue {
        var waiting: [(Operation, @Sendable ((any Error)?) -> Void)] = []
        var drainScheduled = false
        var failure: StorageError?
    }

    public let directory: String
    private let recoveredState: Mutex<PersistentState>
    public var recovered: PersistentState { recoveredState.withLock { $0 } }
    private let log: SegmentedLog
    private let snapshots: SnapshotStore
    private let lock: DirectoryLock
    private let logger: Logger
    private let writer = DispatchQueue(label: "raft-cache.storage.writer")
    private let queue = Mutex(Queue())
    private let appendDuration = NodeMetric.appendDuration.timer()
    private let appendBatch = NodeMetric.appendBatch.recorder()

    /// Opens (creating if needed) the data directory, locks it and recovers what it holds.
    public init(directory: String, options: Options = Options(), logger: Logger = Logger(label: "raft-cache.storage")) throws {
        self.directory = directory
        self.logger = logger
        try Directory.create(directory)
        lock = try DirectoryLock(directory: directory)
        try SnapshotStore.removeUnfinished(in: directory)
        snapshots = SnapshotStore(directory: directory, retain: options.snapshotRetain, logger: logger)
        let snapshot = try snapshots.newestValid()
        let metadata = snapshot?.metadata ?? SnapshotMetadata()
        let opened = try SegmentedLog.open(
            directory: directory, segmentSize: options.segmentSize, snapshot: metadata, logger: logger)
        log = opened.log
        recoveredState = Mutex(PersistentState(hardState: opened.hardState, snapshot: metadata, entries: opened.entries))
    }

    public func releaseRecovered() {
        recoveredState.withLock { $0.entries = [] }
    }

    deinit {
        lock.release()
    }

    /// Waits for queued writes, refuses any more, then releases the directory.
    public func close() {
        queue.withLock { $0.failure = $0.failure ?? .unusable("the storage is closed") }
        writer.sync { log.close() }
        lock.release()
    }

    // MARK: Writes

    public func persist(_ update: StorageUpdate, completion: @escaping @Sendable ((any Error)?) -> Void) {
        submit(.update(update), completion: completion)
    }

    public func compact(through index: UInt64) throws {
        let done = Completion()
        submit(.compact(index)) { done.finish($0) }
        try done.wait()
    }

    private func submit(_ operation: Operation, completion: @escaping @Sendable ((any Error)?) -> Void) {
        let (schedule, failure) = queue.withLock { queue -> (Bool, StorageError?) in
            if let failure = queue.failure { return (false, failure) }
            queue.waiting.append((operation, completion))
            defer { queue.drainScheduled = true }
            return (!queue.drainScheduled, nil)
        }
        if let failure { return completion(failure) }
        if schedule { writer.async { self.drain() } }
    }

    /// One round of group commit: everything waiting, one write, one sync.
    private func drain() {
        let (batch, earlierFailure) = queue.withLock { queue in
            defer {
                queue.waiting = []
                queue.drainScheduled = false
            }
            return (queue.waiting, queue.failure)
        }
        if let earlierFailure {
            // After a failed write or sync nothing more is written, let alone acknowledged.
            for (_, completion) in batch { completion(earlierFailure) }
            return
        }
        var failure: (any Error)?
        let started = DispatchTime.now().uptimeNanoseconds
        do {
            var wrote = false
            var entries = 0
            for (operation, _) in batch {
                switch operation {
                case .update(let update):
                    guard !update.isEmpty else { continue }
                    try log.append(hardState: update.hardState, entries: update.entries)
                    wrote = true
                    entries += update.entries.count
                case .compact(let index): try log.compact(through: index)
                case .reset(let snapshot): try log.reset(after: snapshot)
                }
            }
            // An empty update only keeps its place in line: nothing to sync for it.
            if wrote {
                try log.flush()
                appendBatch.record(entries)
                appendDuration.recordNanoseconds(DispatchTime.now().uptimeNanoseconds - started)
            }
        } catch {
            let storageError = error as? StorageError ?? .unusable("\(error)")
            logger.critical("log write failed; refusing further writes", metadata: ["error": "\(storageError)"])
            queue.withLock { $0.failure = storageError }
            failure = storageError
        }
        for (_, completion) in batch { completion(failure) }
    }

    /// How many syncs the log has done since it was opened.
    public var logSyncCount: Int { writer.sync { log.syncCount } }

    // MARK: Snapshots

    public func beginSnapshot(_ metadata: SnapshotMetadata) throws -> any SnapshotSink {
        if let failure = queue.withLock({ $0.failure }) { throw failure }
        return try snapshots.writer(for: metadata)
    }

    public func commitSnapshot(_ sink: any SnapshotSink, replacingLog: Bool) throws -> any SnapshotSource {
        guard let writer = sink as? FileSnapshotWriter else { preconditionFailure("a snapshot of another storage") }
        let snapshot = try writer.commit()
        if replacingLog {
            let done = Completion()
            submit(.reset(snapshot.metadata)) { done.finish($0) }
            try done.wait()
        }
        return snapshot
    }

    public func latestSnapshot() throws -> (any SnapshotSource)? {
        try snapshots.newestValid()
    }
}
