import CacheStore
import Dispatch
import NIOCore
import NIOPosix
import RaftCore
import RaftStorage
import RaftTransport
import RaftWire

/// The node's snapshots: taking one in the background once enough has been applied (or an
/// operator asks), streaming the newest to followers that need it, receiving the leader's
/// chunk by chunk, and installing it. Disk work runs on the housekeeping pool; the loop only
/// freezes the map and swaps it. On the node's loop only (the pool's work comes back to it).
final class SnapshotManager: @unchecked Sendable {
    private unowned let node: RaftNode
    /// A snapshot is being written in the background.
    private var snapshotting = false
    /// Command bytes applied since the last snapshot began,
    private var appliedBytesSinceSnapshot = 0
    /// and applied before it began, which the log holds until it is written.
    private var bytesBeingSnapshotted = 0
    /// Waiting for a snapshot asked for by an operator.
    private var waiters: [EventLoopPromise<SnapshotStatus>] = []
    /// The newest snapshot on disk, kept open for streaming to followers.
    private(set) var current: (any SnapshotSource)?
    /// Peers a snapshot is being streamed to.
    private var streaming: Set<NodeID> = []
    /// A snapshot arriving from the leader, chunk by chunk (its metadata and size so far are the sink's).
    private var incoming: (any SnapshotSink)?
    /// A snapshot received whole and checked, which the core is about to install: kept apart
    /// from `incoming`, which the next transfer may start over before the install runs.
    private var received: (sink: any SnapshotSink, loaded: LoadedSnapshot)?

    init(node: RaftNode) {
        self.node = node
    }

    private var core: RaftCore { node.core }
    private var loop: any EventLoop { node.loop }
    private var options: RaftNode.Options { node.options }

    /// Loads the store from the storage's newest snapshot (before the node starts).
    func restoreStore() throws {
        guard let snapshot = try node.storage.latestSnapshot(), snapshot.metadata.lastIncludedIndex > 0 else { return }
        try node.store.restoreSnapshot(size: snapshot.size) { offset, count in try snapshot.read(offset: offset, count: count) }
        current = snapshot
    }

    func failWaiters(_ error: RPCError) {
        for waiter in waiters { waiter.fail(error) }
        waiters = []
    }

    // MARK: Taking snapshots

    func entryApplied(_ entry: Entry) {
        appliedBytesSinceSnapshot += entry.data.count
    }

    /// Takes a snapshot once enough has been applied since the last (or when `forced`):
    /// the map is frozen here (copy-on-write, by shard) and written, synced and the log
    /// compacted in the background while applying goes on.
    func maybeSnapshot(forced: Bool = false) {
        let index = node.store.appliedIndex
        let due = index >= core.snapshotIndex + options.snapshotEntries || appliedBytesSinceSnapshot >= options.snapshotBytes
        guard !snapshotting, forced || due else { return }
        guard index > core.snapshotIndex, let metadata = core.snapshotMetadata(at: index) else {
            // Nothing applied since the last snapshot: it is the one asked for.
            answerWaiters()
            return
        }
        snapshotting = true
        bytesBeingSnapshotted = appliedBytesSinceSnapshot
        appliedBytesSinceSnapshot = 0
        let answering = waiters
        waiters = []
        let frozen = node.store.frozen()
        let storage = node.storage, chunkSize = options.snapshotChunkSize, logger = node.logger
        let housekeeping = node.housekeeping, metrics = node.metrics
        housekeeping.run { [self] in
            let started = NIODeadline.now()
            do {
                let sink = try storage.beginSnapshot(metadata)
                try frozen.write(chunkSize: chunkSize) { try sink.write($0) }
                let snapshot = try storage.commitSnapshot(sink, replacingLog: false)
                try storage.compact(through: metadata.lastIncludedIndex)
                metrics.snapshots.increment()
                metrics.snapshotDuration.recordNanoseconds((NIODeadline.now() - started).nanoseconds)
                logger.info("snapshot taken", metadata: [
                    "index": "\(metadata.lastIncludedIndex)", "bytes": "\(snapshot.size)",
                    "ms": "\((NIODeadline.now() - started).nanoseconds / 1_000_000)"])
                loop.execute { [self] in
                    // Freed on the housekeeping pool, not here: they may be a million entries.
                    let dropped = DroppedEntries(core.compact(to: metadata))
                    housekeeping.run {
                        dropped.entries = []
                        // Under load the next entries take these pages again: only the idle go.
                        housekeeping.returnFreeMemory(.idle)
                    }
                    current = snapshot
                    snapshotting = false
                    bytesBeingSnapshotted = 0
                    let status = status()
                    for waiter in answering { waiter.succeed(status) }
                    // Asked for while this one was being written: they want a newer one.
                    if !waiters.isEmpty { maybeSnapshot(forced: true) }
                }
            } catch {
                loop.execute { [self] in
                    for waiter in answering { waiter.fail(RPCError.stopped("cannot write a snapshot: \(error)")) }
                    node.fail("cannot write a snapshot: \(error)")
                }
            }
        }
    }

    private func answerWaiters() {
        let status = status()
        for waiter in waiters { waiter.succeed(status) }
        waiters = []
    }

    /// A snapshot of everything applied so far (an operator's request), once it is on disk
    /// and the log it covers is gone.
    func snapshotNow() -> EventLoopFuture<SnapshotStatus> {
        let promise = loop.makePromise(of: SnapshotStatus.self)
        waiters.append(promise)
        maybeSnapshot(forced: true)
        return promise.futureResult
    }

    /// Command bytes of the entries applied and not yet in a snapshot on disk: what the log
    /// holds in memory (about; entries not yet applied are the admission bounds' to count).
    var uncoveredLogBytes: Int { appliedBytesSinceSnapshot + bytesBeingSnapshotted }

    /// The newest snapshot, and the one being received, for the status.
    func status() -> SnapshotStatus {
        var status = SnapshotStatus()
        if let snapshot = current {
            status.index = snapshot.metadata.lastIncludedIndex
            status.term = snapshot.metadata.lastIncludedTerm
            status.sizeBytes = snapshot.size
            if let written = snapshot.writtenAtMs {
                let now = UnixClock.milliseconds()
                status.ageMs = now - min(now, written)
            }
        }
        if let incoming {
            status.receivingIndex = incoming.metadata.lastIncludedIndex
            status.receivedBytes = incoming.size
        }
        return status
    }

    // MARK: Sending

    /// Streams the newest snapshot to a follower in chunks, one at a time; the last answer
    /// goes to the core. One stream per follower. A failed stream is retried by the core,
    /// from the start.
    func stream(_ request: InstallSnapshotRequest, to peer: NodeID, context: UInt64) {
        guard !streaming.contains(peer), let address = node.address(of: peer), let client = node.peers.client(for: address, peer: peer),
            let snapshot = current, snapshot.metadata.lastIncludedIndex == request.metadata.lastIncludedIndex
        else { return }
        streaming.insert(peer)
        let chunkSize = options.snapshotChunkSize, timeout = options.requestTimeout
        loop.makeFutureWithTask { [self] () -> InstallSnapshotResponse in
            var offset: UInt64 = 0
            while true {
                let data = try snapshot.read(offset: offset, count: chunkSize)
                var chunk = request
                // The receiver checks it has the whole snapshot before installing it.
                chunk.metadata.size = snapshot.size
                chunk.offset = offset
                chunk.data = data
                chunk.done = offset + UInt64(data.count) >= snapshot.size
                let response: InstallSnapshotResponse = try await client.call(.installSnapshot, chunk, timeout: timeout)
                if chunk.done || response.term > request.term { return response }
                offset = response.nextOffset
                loop.execute { [self] in core.snapshotProgressed(to: peer) }
            }
        }.whenComplete { [self] result in
            streaming.remove(peer)
            switch result {
            case .success(let response):
                node.metrics.snapshotsSent.increment()
                node.deliver(Message(from: peer, to: options.id, context: context, body: .installSnapshotResponse(response)))
            case .failure(let error):
                node.logger.info("snapshot transfer stopped; it starts again", metadata: ["peer": "\(peer)", "error": "\(error)"])
            }
        }
    }

    // MARK: Receiving

    /// Keeps the data of a snapshot chunk from the leader; nil, or why it is refused.
    func receive(_ request: InstallSnapshotRequest) -> RPCError? {
        guard request.term >= core.term else { return nil }  // The core answers a stale leader.
        do {
            if request.offset == 0 {
                incoming?.abort()
                incoming = try node.storage.beginSnapshot(request.metadata)
            }
            guard let current = incoming, current.metadata == request.metadata, current.size == request.offset else {
                return .rejected("snapshot chunk at \(request.offset) is not the one expected; start again from 0")
            }
            try current.write(request.data)
            if request.done { return checkReceived(term: request.term) }
            return nil
        } catch {
            incoming = nil
            return .unexpected("cannot keep the snapshot: \(error)")
        }
    }

    /// With the last chunk: a snapshot the core will install is read back and checked whole
    /// (its size, every pair, its index) before the core hears of it, so no bytes from the
    /// wire can make the install fail. One it will not install is dropped.
    private func checkReceived(term: UInt64) -> RPCError? {
        guard let sink = incoming else { return nil }
        incoming = nil  // Checked now, then installed or dropped.
        let metadata = sink.metadata
        guard metadata.lastIncludedTerm <= term, core.needsSnapshot(metadata) else {
            sink.abort()
            return nil
        }
        do {
            guard sink.size == metadata.size else {
                throw CacheSnapshotError.malformed("\(sink.size) bytes received of \(metadata.size)")
            }
            let loaded = try CacheStore.loadSnapshot(size: sink.size) { offset, count in try sink.read(offset: offset, count: count) }
            guard loaded.appliedIndex == metadata.lastIncludedIndex else {
                throw CacheSnapshotError.malformed("it holds index \(loaded.appliedIndex), not \(metadata.lastIncludedIndex)")
            }
            received?.sink.abort()
            received = (sink, loaded)
            return nil
        } catch {
            sink.abort()
            return .rejected("snapshot \(metadata.lastIncludedIndex) is not valid: \(error)")
        }
    }

    /// The core refused the message that completed a snapshot: nothing will install it.
    func dropReceivedUnlessPending() {
        guard received != nil, !core.installPending else { return }
        received?.sink.abort()
        received = nil
    }

    /// The core installs a snapshot from the leader: it is made durable (the log goes) on the
    /// housekeeping pool, then the map checked on arrival is put in force here.
    func install(_ metadata: SnapshotMetadata, completion: @escaping @Sendable ((any Error)?) -> Void) {
        guard let arrived = received, arrived.sink.metadata == metadata else {
            return completion(RPCError.unexpected("snapshot \(metadata.lastIncludedIndex) was not received"))
        }
        received = nil
        let started = NIODeadline.now()
        let storage = node.storage, sink = arrived.sink, loaded = arrived.loaded, housekeeping = node.housekeeping
        housekeeping.run { [self] in
            let snapshot: any SnapshotSource
            do {
                snapshot = try storage.commitSnapshot(sink, replacingLog: true)
            } catch {
                return completion(error)
            }
            loop.execute { [self] in
                node.store.replace(with: loaded)
                node.watches.restarted(at: metadata.lastIncludedIndex)
                // The map it replaced is free now: give its pages back (the new one was built beside it).
                housekeeping.run { housekeeping.returnFreeMemory(.all) }
                current = snapshot
                appliedBytesSinceSnapshot = 0
                node.metrics.snapshotsReceived.increment()
                node.logger.notice("installed the leader's snapshot", metadata: [
                    "index": "\(metadata.lastIncludedIndex)", "bytes": "\(snapshot.size)",
                    "ms": "\((NIODeadline.now() - started).nanoseconds / 1_000_000)"])
                completion(nil)
            }
        }
    }
}

/// Log entries a compaction dropped, on their way to be freed elsewhere.
private final class DroppedEntries: @unchecked Sendable {
    var entries: [Entry]
    init(_ entries: [Entry]) { self.entries = entries }
}
