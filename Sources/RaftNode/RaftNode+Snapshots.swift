#if canImport(Glibc)
import CMallocTrim
import Glibc
#endif
import CacheStore
import NIOCore
import NIOPosix
import RaftCore
import RaftStorage
import RaftTransport
import RaftWire

extension RaftNode {
    /// Takes a snapshot once enough has been applied since the last (or when `forced`):
    /// the map is frozen here (copy-on-write, by shard) and written, synced and the log
    /// compacted in the background while applying goes on.
    func maybeSnapshot(forced: Bool = false) {
        let index = store.appliedIndex
        let due = index >= core.snapshotIndex + options.snapshotEntries || appliedBytesSinceSnapshot >= options.snapshotBytes
        guard !snapshotting, forced || due else { return }
        guard index > core.snapshotIndex, let metadata = core.snapshotMetadata(at: index) else {
            // Nothing applied since the last snapshot: it is the one asked for.
            answerSnapshotWaiters()
            return
        }
        snapshotting = true
        appliedBytesSinceSnapshot = 0
        let waiters = snapshotWaiters
        snapshotWaiters = []
        let frozen = store.frozen()
        let storage = storage, chunkSize = options.snapshotChunkSize, logger = logger
        snapshotThread.submit { [self] _ in
            let started = NIODeadline.now()
            do {
                let sink = try storage.beginSnapshot(metadata)
                try frozen.write(chunkSize: chunkSize) { try sink.write($0) }
                let snapshot = try storage.commitSnapshot(sink, replacingLog: false)
                try storage.compact(through: metadata.lastIncludedIndex)
                logger.info("snapshot taken", metadata: [
                    "index": "\(metadata.lastIncludedIndex)", "bytes": "\(snapshot.size)",
                    "ms": "\((NIODeadline.now() - started).nanoseconds / 1_000_000)"])
                loop.execute { [self] in
                    // Freed on the snapshot thread, not here: they may be a million entries.
                    let dropped = DroppedEntries(core.compact(to: metadata))
                    snapshotThread.submit { [logger] _ in
                        dropped.entries = []
                        let started = NIODeadline.now()
                        returnFreeMemory()
                        logger.debug("free memory returned", metadata: [
                            "ms": "\((NIODeadline.now() - started).nanoseconds / 1_000_000)"])
                    }
                    currentSnapshot = snapshot
                    snapshotting = false
                    let status = snapshotStatus()
                    for waiter in waiters { waiter.succeed(status) }
                    // Asked for while this one was being written: they want a newer one.
                    if !snapshotWaiters.isEmpty { maybeSnapshot(forced: true) }
                }
            } catch {
                loop.execute { [self] in
                    for waiter in waiters { waiter.fail(RPCError.stopped("cannot write a snapshot: \(error)")) }
                    fail("cannot write a snapshot: \(error)")
                }
            }
        }
    }

    private func answerSnapshotWaiters() {
        let status = snapshotStatus()
        for waiter in snapshotWaiters { waiter.succeed(status) }
        snapshotWaiters = []
    }

    /// Takes a snapshot of everything applied so far (an operator's request) and returns
    /// it once it is on disk and the log it covers is gone.
    public func snapshotNow() -> EventLoopFuture<SnapshotStatus> {
        loop.flatSubmit { [self] () -> EventLoopFuture<SnapshotStatus> in
            guard !stopped else { return loop.makeFailedFuture(RPCError.shuttingDown) }
            let promise = loop.makePromise(of: SnapshotStatus.self)
            snapshotWaiters.append(promise)
            maybeSnapshot(forced: true)
            return promise.futureResult
        }
    }

    /// The newest snapshot, and the one being received, for the status.
    func snapshotStatus() -> SnapshotStatus {
        var status = SnapshotStatus()
        if let snapshot = currentSnapshot {
            status.index = snapshot.metadata.lastIncludedIndex
            status.term = snapshot.metadata.lastIncludedTerm
            status.sizeBytes = snapshot.size
            if let written = snapshot.writtenAtMs {
                let now = unixMilliseconds()
                status.ageMs = now - min(now, written)
            }
        }
        if let incoming {
            status.receivingIndex = incoming.metadata.lastIncludedIndex
            status.receivedBytes = incoming.size
        }
        return status
    }

    /// Streams the newest snapshot to a follower in chunks, one at a time; the last answer
    /// goes to the core. One stream per follower. A failed stream is retried by the core,
    /// from the start.
    func streamSnapshot(_ request: InstallSnapshotRequest, to peer: NodeID, context: UInt64) {
        guard !streaming.contains(peer), let address = address(of: peer), let client = client(for: address, peer: peer),
            let snapshot = currentSnapshot, snapshot.metadata.lastIncludedIndex == request.metadata.lastIncludedIndex
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
            guard !stopped else { return }
            switch result {
            case .success(let response):
                core.step(Message(from: peer, to: options.id, context: context, body: .installSnapshotResponse(response)))
                pump()
            case .failure(let error):
                logger.info("snapshot transfer stopped; it starts again", metadata: ["peer": "\(peer)", "error": "\(error)"])
            }
        }
    }

    /// Keeps the data of a snapshot chunk from the leader; nil, or why it is refused.
    func receiveChunk(_ request: InstallSnapshotRequest) -> RPCError? {
        guard request.term >= core.term else { return nil }  // The core answers a stale leader.
        do {
            if request.offset == 0 {
                incoming?.abort()
                incoming = try storage.beginSnapshot(request.metadata)
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

    /// The core installs a snapshot from the leader: make it durable (the log goes), and
    /// put the map checked on arrival in force.
    func install(_ metadata: SnapshotMetadata) throws {
        guard let current = received, current.sink.metadata == metadata else {
            throw RPCError.unexpected("snapshot \(metadata.lastIncludedIndex) was not received")
        }
        received = nil
        let started = NIODeadline.now()
        let snapshot = try storage.commitSnapshot(current.sink, replacingLog: true)
        store.replace(with: current.loaded)
        // The map it replaced is free now: give its pages back (the new one was built beside it).
        returnFreeMemorySoon()
        currentSnapshot = snapshot
        appliedBytesSinceSnapshot = 0
        logger.notice("installed the leader's snapshot", metadata: [
            "index": "\(metadata.lastIncludedIndex)", "bytes": "\(snapshot.size)",
            "ms": "\((NIODeadline.now() - started).nanoseconds / 1_000_000)"])
    }
}

/// Log entries a compaction dropped, on their way to be freed elsewhere.
private final class DroppedEntries: @unchecked Sendable {
    var entries: [Entry]
    init(_ entries: [Entry]) { self.entries = entries }
}

/// Gives the pages malloc holds free back to the system. A node frees many small blocks
/// (compacted log entries, a restart's replay) that glibc otherwise keeps mapped.
func returnFreeMemory() {
    raftcache_malloc_trim()
}

/// `returnFreeMemory` on the snapshot thread, off the loop.
func returnFreeMemorySoon() {
    snapshotThread.submit { _ in returnFreeMemory() }
}

/// Snapshots are written on a thread of their own that yields the processor to the event
/// loops (nice 10, which Linux keeps per thread): a snapshot may take a second of CPU, and on
/// a small machine the loops serving writes must not wait for it.
private let snapshotThread: NIOThreadPool = {
    let pool = NIOThreadPool(numberOfThreads: 1)
    pool.start()
    pool.submit { _ in _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 10) }
    return pool
}()

/// The wall clock, in milliseconds since 1970 (snapshot files carry it as their mtime).
private func unixMilliseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return UInt64(now.tv_sec) * 1_000 + UInt64(now.tv_nsec) / 1_000_000
}
