import CacheStore
import Dispatch
import Logging
import NIOCore
import NIOPosix
import RaftCore
import RaftStorage
import RaftTransport
import RaftWire
import Synchronization

/// Drives a RaftCore: ticks it, feeds it messages and requests, and carries out each Ready
/// in the order Raft needs. Committed entries are applied at once (a quorum has them on
/// disk); a leader's AppendEntries go out while its own write runs; answers that claim
/// durable state wait for the write (group-committed by the storage). Every touch of the
/// core happens on one event loop, and requests that arrive together share one Ready.
public final class RaftNode: @unchecked Sendable {
    public struct Options: Sendable {
        public var id: NodeID
        /// This node's binary-protocol address as the other members know it.
        public var address: String
        public var tickInterval: TimeAmount
        public var electionTicks: Int
        public var heartbeatTicks: Int
        /// How long a client request waits for the cluster.
        public var requestTimeout: TimeAmount
        /// The largest value a write may carry.
        public var maxValueSize: Int
        /// A snapshot is taken once this many entries have been applied since the last one,
        public var snapshotEntries: UInt64
        /// or once entries carrying this many command bytes have.
        public var snapshotBytes: Int
        /// Snapshot data travels to followers in chunks of this size.
        public var snapshotChunkSize: Int
        public var client: RPCClient.Options

        public init(
            id: NodeID, address: String, tickInterval: TimeAmount = .milliseconds(100), electionTicks: Int = 5,
            heartbeatTicks: Int = 1, requestTimeout: TimeAmount = .seconds(5), maxValueSize: Int = 1 << 20,
            snapshotEntries: UInt64 = 100_000, snapshotBytes: Int = 64 << 20, snapshotChunkSize: Int = 1 << 20, client: RPCClient.Options = .init()
        ) {
            self.id = id
            self.address = address
            self.tickInterval = tickInterval
            self.electionTicks = electionTicks
            self.heartbeatTicks = heartbeatTicks
            self.requestTimeout = requestTimeout
            self.maxValueSize = maxValueSize
            self.snapshotEntries = snapshotEntries
            self.snapshotBytes = snapshotBytes
            self.snapshotChunkSize = snapshotChunkSize
            self.client = client
        }
    }

    public let options: Options
    public let store: CacheStore
    let loop: any EventLoop
    /// The loop every touch of the core happens on; a listener for peers belongs here too.
    public var eventLoop: any EventLoop { loop }
    let storage: any RaftStorage
    let logger: Logger
    let core: RaftCore
    private var clients: [String: RPCClient] = [:]
    private var ticker: RepeatedTask?
    /// Gives free heap pages back now and then: what a node frees (a replaced map, compacted
    /// entries, a replay) is not always free in whole pages at the moment it is freed.
    private var memoryTrimmer: RepeatedTask?
    var stopped = false

    /// Inbound Raft calls waiting for the core's answer, by the context given to the core.
    private var inboundCalls: [UInt64: EventLoopPromise<MessageBody>] = [:]
    private var nextContext: UInt64 = 1
    /// Proposals waiting to be applied, by log index (`token` tells apart proposals at one index).
    private var proposals: [UInt64: (term: UInt64, promise: EventLoopPromise<UInt64>, token: UInt64)] = [:]
    /// Linearizable reads waiting for their read index, by context.
    private var reads: [UInt64: EventLoopPromise<UInt64>] = [:]
    /// Waiting for the store to reach an index, by token; and the tokens by that index.
    private var appliedWaiters: [UInt64: EventLoopPromise<Void>] = [:]
    private var appliedWaitersByIndex = MinHeap<UInt64>()
    /// What may time out, by deadline (uptime nanoseconds); checked on every tick.
    private var deadlines = MinHeap<Deadline>()

    private enum Deadline: Sendable {
        case inboundCall(context: UInt64)
        case proposal(index: UInt64, token: UInt64)
        case read(context: UInt64)
        case appliedWaiter(token: UInt64)
    }
    private var lastLeader: NodeID?
    /// A pump is queued on the loop; what arrives before it runs travels in its Ready.
    private var pumpScheduled = false
    /// Writes handed to the storage and not yet durable.
    private var writesInFlight = 0
    /// What of each Ready must be written before its answers go.
    private var mustSync: MustSync
    /// This node has said in its log that it was removed.
    private var removedLogged = false
    /// When this node last heard from its leader (an AppendEntries or snapshot chunk), or
    /// last ticked as leader: uptime nanoseconds, read by stale reads on any thread.
    private let lastLeaderContact = Atomic<UInt64>(NIODeadline.now().uptimeNanoseconds)
    /// A snapshot is being written in the background.
    var snapshotting = false
    /// Command bytes applied since the last snapshot began.
    var appliedBytesSinceSnapshot = 0
    /// Waiting for a snapshot asked for by an operator.
    var snapshotWaiters: [EventLoopPromise<SnapshotStatus>] = []
    /// The newest snapshot on disk, kept open for streaming to followers.
    var currentSnapshot: (any SnapshotSource)?
    /// Peers a snapshot is being streamed to.
    var streaming: Set<NodeID> = []
    /// A snapshot arriving from the leader, chunk by chunk (its metadata and size so far are the sink's).
    var incoming: (any SnapshotSink)?
    /// A snapshot received whole and checked, which the core is about to install: kept apart
    /// from `incoming`, which the next transfer may start over before the install runs.
    var received: (sink: any SnapshotSink, loaded: LoadedSnapshot)?
    private let failurePromise: EventLoopPromise<String>

    /// Succeeds, with the reason, if the node stops itself (its storage failed): it serves
    /// nothing more and the process should exit.
    public var failure: EventLoopFuture<String> { failurePromise.futureResult }

    /// `state`: where the core starts - what the storage recovered, unless the caller has
    /// just written more (a founding configuration).
    public init(options: Options, storage: any RaftStorage, state: PersistentState? = nil, store: CacheStore, logger: Logger,
                group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.options = options
        self.storage = storage
        self.store = store
        self.logger = logger
        loop = group.next()
        failurePromise = loop.makePromise(of: String.self)
        mustSync = MustSync(recovered: (state ?? storage.recovered).hardState)
        core = RaftCore(
            options: RaftOptions(
                id: options.id, electionTicks: options.electionTicks, heartbeatTicks: options.heartbeatTicks,
                leaseDuration: Self.leaseDuration(options), randomSeed: UInt64.random(in: 0...UInt64.max)),
            state: state ?? storage.recovered)
        storage.releaseRecovered()
    }

    deinit {
        // A node that never ran (its process failed to start) has no failure to report.
        failurePromise.fail(RPCError.shuttingDown)
    }

    /// A follower refuses votes for at least (electionTicks - 1) ticks after it hears from the
    /// leader; the lease is 90% of that, so clocks that drift apart by less than 10% of an
    /// election timeout keep lease reads linearizable.
    static func leaseDuration(_ options: Options) -> UInt64 {
        UInt64(max(0, Int64(options.electionTicks - 1) * options.tickInterval.nanoseconds / 10 * 9))
    }

    /// Loads the store from the storage's newest snapshot (before `start`, on a restart).
    public func restoreStore() throws {
        guard let snapshot = try storage.latestSnapshot(), snapshot.metadata.lastIncludedIndex > 0 else { return }
        try store.restoreSnapshot(size: snapshot.size) { offset, count in try snapshot.read(offset: offset, count: count) }
        currentSnapshot = snapshot
    }

    /// Starts the clock.
    public func start() {
        // Recovery (a replayed log, a snapshot loaded) freed much that malloc would keep.
        returnFreeMemory()
        loop.execute { [self] in
            ticker = loop.scheduleRepeatedTask(initialDelay: options.tickInterval, delay: options.tickInterval) { [self] _ in
                core.now = NIODeadline.now().uptimeNanoseconds
                if core.isLeader { lastLeaderContact.store(core.now, ordering: .relaxed) }
                expireDeadlines(now: core.now)
                core.tick()
                pump()
            }
            memoryTrimmer = loop.scheduleRepeatedTask(initialDelay: .seconds(10), delay: .seconds(10)) { _ in
                returnFreeMemorySoon()
            }
            pump()
        }
    }

    /// Stops the clock; requests still waiting fail.
    public func stop() async {
        let clients: [RPCClient] = (try? await loop.submit { [self] () -> [RPCClient] in
            halt(.shuttingDown)
            failurePromise.fail(RPCError.shuttingDown)
            return Array(self.clients.values)
        }.get()) ?? []
        for client in clients { await client.close() }
    }

    /// Stops everything on the loop and fails whatever waits.
    func halt(_ error: RPCError) {
        loop.preconditionInEventLoop()
        stopped = true
        ticker?.cancel()
        memoryTrimmer?.cancel()
        for (_, call) in inboundCalls { call.fail(error) }
        for (_, proposal) in proposals { proposal.promise.fail(error) }
        for (_, read) in reads { read.fail(error) }
        for (_, waiter) in appliedWaiters { waiter.fail(error) }
        for waiter in snapshotWaiters { waiter.fail(error) }
        snapshotWaiters = []
        inboundCalls = [:]
        proposals = [:]
        reads = [:]
        appliedWaiters = [:]
        appliedWaitersByIndex.removeAll()
        deadlines.removeAll()
    }

    /// The node cannot go on (its storage failed): it stops, and says so through `failure`.
    func fail(_ reason: String) {
        logger.critical("stopping: \(reason)")
        halt(.stopped(reason))
        failurePromise.succeed(reason)
    }

    // MARK: The Ready loop

    /// Pumps once the loop has run what is already queued, so requests that arrive together
    /// share one Ready: one write, one AppendEntries per follower, one heartbeat round.
    func schedulePump() {
        guard !pumpScheduled else { return }
        pumpScheduled = true
        loop.execute { [self] in
            pumpScheduled = false
            pump()
        }
    }

    /// Takes every Ready the core has and sets it in motion.
    func pump() {
        loop.preconditionInEventLoop()
        guard !stopped else { return }
        while core.hasReady {
            let ready = core.ready()
            noteLeaderChange()
            if let snapshot = ready.snapshot {
                // Before this Ready's entries, as Ready requires; the storage orders the log
                // reset after every earlier write.
                do {
                    try install(snapshot)
                } catch {
                    fail("cannot install the leader's snapshot: \(error)")
                    return
                }
            }
            // A leader's requests claim nothing about its disk: they go now. Everything
            // else waits for this Ready's write (and so for every write before it).
            let (early, late) = ready.messages.partitioned { $0.mayPrecedePersistence }
            for message in early { send(message) }
            // Committed entries are on a quorum's disks already; applied in order, now.
            for entry in ready.committedEntries { apply(entry) }
            answerReads(ready.readStates)
            write(ready, then: late)
            // After the write is queued: the compaction a snapshot ends with is queued behind it.
            maybeSnapshot()
        }
    }

    /// Hands the Ready's entries and hard state to the storage; `messages` go once they - and
    /// every write before them - are durable.
    private func write(_ ready: Ready, then messages: [Message]) {
        let update: StorageUpdate
        if let durable = mustSync.update(entries: ready.entries, hardState: ready.hardState) {
            update = durable
        } else if writesInFlight > 0 && !messages.isEmpty {
            // Nothing to write, but the answers claim what earlier writes are making durable.
            update = StorageUpdate(hardState: nil, entries: [])
        } else {
            for message in messages { send(message) }
            return
        }
        let last = ready.entries.last.map { (index: $0.index, term: $0.term) }
        writesInFlight += 1
        storage.persist(update) { [self] error in
            loop.execute { [self] in
                writesInFlight -= 1
                if let error {
                    if !stopped { fail("cannot persist the Raft log: \(error)") }
                    return
                }
                guard !stopped else { return }
                if let last { core.persisted(through: last.index, term: last.term) }
                for message in messages { send(message) }
                schedulePump()
            }
        }
    }

    private func answerReads(_ readStates: [ReadState]) {
        for read in readStates {
            guard let promise = reads.removeValue(forKey: read.context) else { continue }
            if read.succeeded {
                promise.succeed(read.index)
            } else {
                promise.fail(RPCError.noLeader)
            }
        }
    }

    private func apply(_ entry: Entry) {
        // Entries a snapshot installed since has already brought in.
        guard entry.index > store.appliedIndex else { return }
        store.apply(entry)
        appliedBytesSinceSnapshot += entry.data.count
        if let proposal = proposals.removeValue(forKey: entry.index) {
            if proposal.term == entry.term {
                proposal.promise.succeed(entry.index)
            } else {
                proposal.promise.fail(RPCError.lost)
            }
        }
        if entry.type == .configuration { configurationApplied(entry.index) }
        for token in appliedWaitersByIndex.popAll(through: entry.index) {
            appliedWaiters.removeValue(forKey: token)?.succeed(())
        }
    }

    /// Fails what has waited past its deadline.
    private func expireDeadlines(now: UInt64) {
        for deadline in deadlines.popAll(through: now) {
            switch deadline {
            case .inboundCall(let context):
                inboundCalls.removeValue(forKey: context)?.fail(RPCError.rejected("the call was not answered in time"))
            case .proposal(let index, let token):
                guard let proposal = proposals[index], proposal.token == token else { continue }
                proposals[index] = nil
                proposal.promise.fail(RPCError.timedOut)
            case .read(let context):
                reads.removeValue(forKey: context)?.fail(RPCError.timedOut)
            case .appliedWaiter(let token):
                appliedWaiters.removeValue(forKey: token)?.fail(RPCError.timedOut)
            }
        }
    }

    /// A deadline `after` from now for `what`.
    private func expire(_ what: Deadline, after: TimeAmount) {
        deadlines.insert(what, key: (NIODeadline.now() + after).uptimeNanoseconds)
    }

    /// Runs `body` on the node's loop: at once when already there (a peer's call on the
    /// node's own loop), else queued.
    func onLoop<T: Sendable>(_ body: @escaping @Sendable () -> EventLoopFuture<T>) -> EventLoopFuture<T> {
        loop.inEventLoop ? body() : loop.flatSubmit(body)
    }

    /// A number no other waiting call, proposal or read of this node has.
    private func newToken() -> UInt64 {
        defer { nextContext += 1 }
        return nextContext
    }

    private func configurationApplied(_ index: UInt64) {
        logger.info("configuration changed", metadata: ["index": "\(index)", "members": "\(describeMembers())"])
        guard core.suffrage == nil, !removedLogged else { return }
        removedLogged = true
        logger.warning(
            "this node was removed from the cluster: it no longer votes, campaigns or takes writes. To bring it back, stop it, empty its --raft-dir and join again",
            metadata: ["index": "\(index)"])
    }

    private func noteLeaderChange() {
        guard core.leaderID != lastLeader else { return }
        lastLeader = core.leaderID
        logger.info("leader changed", metadata: ["leader": "\(core.leaderID ?? "none")", "term": "\(core.term)"])
        // Proposals not yet committed may be lost; they fail when their index is applied
        // with another term, or at their deadline.
    }

    private func describeMembers() -> String {
        core.configuration.servers.map { "\($0.id)@\($0.address):\($0.suffrage)" }.joined(separator: ",")
    }

    // MARK: Sending

    func address(of peer: NodeID) -> String? {
        core.configuration.servers.first { $0.id == peer }?.address
    }

    /// The client for the member `peer` at `address`: with TLS, whoever answers there must
    /// present `peer`'s certificate.
    func client(for address: String, peer: NodeID) -> RPCClient? {
        loop.preconditionInEventLoop()
        guard !stopped else { return nil }
        let key = peer + "@" + address
        if let client = clients[key] { return client }
        guard let target = HostPort(address) else { return nil }
        let client = RPCClient(host: target.connectHost, port: target.port, peer: peer, options: options.client, group: loop, logger: logger)
        clients[key] = client
        return client
    }

    /// A request goes out as a call; its answer comes back into the core. A response
    /// answers the inbound call that caused it.
    private func send(_ message: Message) {
        if message.body.isResponse {
            inboundCalls.removeValue(forKey: message.context)?.succeed(message.body)
            return
        }
        if case .installSnapshot(let request) = message.body {
            return streamSnapshot(request, to: message.to, context: message.context)
        }
        guard let address = address(of: message.to), let client = client(for: address, peer: message.to),
            let (method, payload) = try? message.body.asCall()
        else { return }
        let ordered = method == .appendEntries
        let from = message.to, context = message.context
        client.callFuture(method.rawValue, payload: payload, ordered: ordered).hop(to: loop).whenComplete { [self] result in
            guard !stopped, case .success(let answer) = result,
                let body = try? MessageBody.response(to: method, payload: answer)
            else {
                return  // Lost: Raft retries on its own.
            }
            core.step(Message(from: from, to: options.id, context: context, body: body))
            schedulePump()
        }
    }

    // MARK: Inbound Raft calls

    /// Hands an inbound Raft request to the core and waits for its answer. `sender`: the
    /// peer its certificate names, who must be the one the message claims to be from.
    func handleRaftCall(method: Method, payload: [UInt8], sender: NodeID? = nil) -> EventLoopFuture<[UInt8]> {
        onLoop { [self] in
            guard !stopped else { return loop.makeFailedFuture(RPCError.shuttingDown) }
            let decoded: (from: NodeID, body: MessageBody)?
            do {
                decoded = try MessageBody.request(method: method, payload: payload)
            } catch {
                return loop.makeFailedFuture(error)
            }
            guard let (from, body) = decoded else {
                return loop.makeFailedFuture(RPCError.unexpected("\(method.rawValue) is not a Raft request"))
            }
            if let sender, sender != from {
                return loop.makeFailedFuture(RPCError(.permissionDenied, "\(sender)'s certificate cannot send a message from \(from)"))
            }
            let context = newToken()
            let message = Message(from: from, to: options.id, context: context, body: body)
            // Only a chunk the core would take may touch the transfer in progress.
            if case .installSnapshot(let request) = body, core.accepts(message), let refusal = receiveChunk(request) {
                return loop.makeFailedFuture(refusal)
            }
            let promise = loop.makePromise(of: MessageBody.self)
            inboundCalls[context] = promise
            core.step(message)
            if received != nil && !core.installPending {
                // The core refused the message that completed it: nothing will install it.
                received?.sink.abort()
                received = nil
            }
            if method == .appendEntries || method == .installSnapshot, core.leaderID == from {
                lastLeaderContact.store(NIODeadline.now().uptimeNanoseconds, ordering: .relaxed)
            }
            schedulePump()
            // Requests the core ignores get no answer; ReadIndex is answered later.
            expire(.inboundCall(context: context), after: method == .readIndex ? options.requestTimeout : options.tickInterval * 20)
            return promise.futureResult.flatMapThrowing { body in
                guard let payload = try body.responsePayload() else { throw RPCError.unexpected("not a response") }
                return payload
            }
        }
    }

    // MARK: Client requests

    /// Proposes a command on the leader and waits until it is applied; returns its index.
    public func propose(_ command: [UInt8]) async throws -> UInt64 {
        try await proposeCommand(command).get()
    }

    /// `propose` as a future, for callers on event loops.
    public func proposeCommand(_ command: [UInt8]) -> EventLoopFuture<UInt64> {
        submitProposal { [self] in try core.propose(command) }
    }

    /// Appends an entry through `append` (on the loop) and waits until it is applied.
    private func submitProposal(
        _ append: @escaping @Sendable () throws -> (index: UInt64, term: UInt64)
    ) -> EventLoopFuture<UInt64> {
        onLoop { [self] () -> EventLoopFuture<UInt64> in
            guard !stopped else { return loop.makeFailedFuture(RPCError.shuttingDown) }
            do {
                let (index, term) = try append()
                let future = awaitApplied(index: index, term: term)
                schedulePump()
                return future
            } catch let error as RaftError {
                return loop.makeFailedFuture(refusal(error))
            } catch {
                return loop.makeFailedFuture(RPCError.rejected("\(error)"))
            }
        }
    }

    /// A promise answered when the entry (index, term) is applied - or failed when another
    /// entry is applied there, or at the request deadline.
    private func awaitApplied(index: UInt64, term: UInt64) -> EventLoopFuture<UInt64> {
        loop.preconditionInEventLoop()
        let promise = loop.makePromise(of: UInt64.self)
        if store.appliedIndex >= index {
            // Already applied (a change that was in force): the term says whether it was this one.
            promise.succeed(index)
            return promise.futureResult
        }
        // An older proposal at this index was overtaken by a leader change.
        proposals[index]?.promise.fail(RPCError.lost)
        let token = newToken()
        proposals[index] = (term, promise, token)
        expire(.proposal(index: index, token: token), after: options.requestTimeout)
        return promise.futureResult
    }

    /// The node's error for a refusal of the core.
    private func refusal(_ error: RaftError) -> RPCError {
        RPCError(error, address: address(of:))
    }

    /// Succeeds once a read that must be current may be served from the local store, with
    /// the index the store has then applied at least.
    /// - linearizable: a read index confirmed by a quorum (through the leader when this
    ///   node follows), applied here;
    /// - lease: at once on a leader whose lease holds, else as linearizable.
    private func currentReadBarrier(lease: Bool) -> EventLoopFuture<UInt64> {
        guard lease else { return readIndex().flatMap { [self] index in waitApplied(index) } }
        return onLoop { [self] in
            guard !stopped else { return loop.makeFailedFuture(RPCError.shuttingDown) }
            core.now = NIODeadline.now().uptimeNanoseconds
            guard let index = core.leaseRead() else { return readIndex() }
            return loop.makeSucceededFuture(index)
        }.flatMap { [self] index in waitApplied(index) }
    }

    /// What a read found: the value (nil: no such key), the index the store had applied,
    /// and for a stale read how long since this node last heard from a leader.
    public struct ReadResult: Sendable {
        public var value: StoredValue?
        public var appliedIndex: UInt64
        public var leaderContactAgeMs: UInt64
    }

    /// A stale read: this node's store as it is, on the caller's thread.
    public func staleRead(_ key: [UInt8]) -> ReadResult {
        let age = leaderContactAgeMs
        let (value, applied) = store.get(key)
        return ReadResult(value: value, appliedIndex: applied, leaderContactAgeMs: age)
    }

    /// A read at `consistency` once its barrier allows (a stale read: `staleRead`, at once);
    /// a read that could not be confirmed in time fails as unavailable (nothing changed: the
    /// reader may ask again).
    public func read(_ key: [UInt8], consistency: Consistency) -> EventLoopFuture<ReadResult> {
        if consistency == .stale { return loop.makeSucceededFuture(staleRead(key)) }
        return currentReadBarrier(lease: consistency == .lease).flatMapErrorThrowing { error in
            if let error = error as? RPCError, error.status == .deadlineExceeded {
                throw RPCError.unavailable("could not confirm with a quorum that this read is current; try again")
            }
            throw error
        }.map { [self] _ in
            let (value, applied) = store.get(key)
            return ReadResult(value: value, appliedIndex: applied, leaderContactAgeMs: 0)
        }
    }

    /// A read index confirmed by a quorum.
    private func readIndex() -> EventLoopFuture<UInt64> {
        onLoop { [self] () -> EventLoopFuture<UInt64> in
            guard !stopped else { return loop.makeFailedFuture(RPCError.shuttingDown) }
            let context = newToken()
            let promise = loop.makePromise(of: UInt64.self)
            reads[context] = promise
            expire(.read(context: context), after: options.requestTimeout)
            core.readIndex(context: context)
            schedulePump()
            return promise.futureResult
        }
    }

    /// Milliseconds since this node last heard from a leader (or led); what a stale read may miss.
    public var leaderContactAgeMs: UInt64 {
        let now = NIODeadline.now().uptimeNanoseconds
        return (now - min(now, lastLeaderContact.load(ordering: .relaxed))) / 1_000_000
    }

    /// Succeeds (with `index`) once the store has applied it.
    private func waitApplied(_ index: UInt64) -> EventLoopFuture<UInt64> {
        onLoop { [self] () -> EventLoopFuture<UInt64> in
            if store.appliedIndex >= index { return loop.makeSucceededFuture(index) }
            let promise = loop.makePromise(of: Void.self)
            let token = newToken()
            appliedWaiters[token] = promise
            appliedWaitersByIndex.insert(token, key: index)
            expire(.appliedWaiter(token: token), after: options.requestTimeout)
            return promise.futureResult.map { index }
        }
    }

    /// The leader as this node knows it: id and binary address.
    public func leader() async -> (id: NodeID, address: String)? {
        try? await loop.submit { [self] in
            core.leaderID.flatMap { id in address(of: id).map { (id, $0) } }
        }.get()
    }

    public func status() -> EventLoopFuture<StatusResponse> {
        loop.submit { [self] in
            let role: Role = switch core.role {
            case .leader: .leader
            case .candidate: .candidate
            case .preCandidate: .preCandidate
            case .follower: core.suffrage == .voter ? .follower : .learner
            }
            let map = store.summary
            return StatusResponse(
                nodeID: options.id, role: role, term: core.term, leaderID: core.leaderID ?? "",
                leaderAddress: core.leaderID.flatMap { address(of: $0) } ?? "", members: core.configuration.servers,
                commitIndex: core.commitIndex, appliedIndex: map.appliedIndex, lastLogIndex: core.lastIndex,
                snapshotIndex: core.snapshotIndex, snapshot: snapshotStatus(), followers: core.followers,
                keys: UInt64(map.count), bytes: UInt64(map.bytes), digest: map.digest,
                leaderContactAgeMs: core.isLeader ? 0 : leaderContactAgeMs)
        }
    }

    /// Proposes a membership change on the leader and waits until its entry is applied
    /// (failing if a leader change replaced it).
    public func changeMembership(_ change: MembershipChange) -> EventLoopFuture<MembershipResponse> {
        submitProposal { [self] in try core.proposeMembership(change) }.map { [self] index in
            MembershipResponse(index: index, configuration: core.configuration)
        }
    }

    /// Starts handing leadership to `target` (nil: the most up-to-date voter).
    public func transferLeadership(to target: NodeID?) -> EventLoopFuture<Void> {
        loop.submit { [self] in
            do {
                try core.transferLeadership(to: target)
                pump()
            } catch let error as RaftError {
                throw refusal(error)
            }
        }
    }
}

extension Array {
    /// The elements for which `belongs` holds, and the others, each in order.
    func partitioned(_ belongs: (Element) -> Bool) -> (matching: [Element], others: [Element]) {
        var matching: [Element] = []
        var others: [Element] = []
        for element in self {
            if belongs(element) { matching.append(element) } else { others.append(element) }
        }
        return (matching, others)
    }
}
