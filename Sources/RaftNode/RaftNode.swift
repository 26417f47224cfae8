import CacheStore
import Connections
import Logging
import NIOCore
import NIOPosix
import NodeMetrics
import RaftCore
import RaftStorage
import RaftTransport
import RaftWire
import Synchronization

/// A cluster member: drives a RaftCore with a clock, the network and a storage, and applies
/// what commits to the store. Its jobs live apart: the ReadyProcessor carries out each Ready
/// in Raft's order (the one the simulation proves), Waiters keeps whoever waits with one
/// deadline heap, PeerLink talks to the other members, SnapshotManager takes, streams and
/// installs snapshots. Every touch of the core happens on one event loop, and requests that
/// arrive together share one Ready. Clients reach it through NodeAPI.
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
        /// The longest key a request may name.
        public var maxKeySize: Int
        /// A snapshot is taken once this many entries have been applied since the last one,
        public var snapshotEntries: UInt64
        /// or once entries carrying this many command bytes have.
        public var snapshotBytes: Int
        /// Snapshot data travels to followers in chunks of this size.
        public var snapshotChunkSize: Int
        public var client: RPCClient.Options
        /// Seeds the core's randomness (election timeouts); nil: a random seed.
        public var randomSeed: UInt64?
        /// The memory bound of the map and what to do at it (nil: none).
        public var memoryBound: MemoryBound?
        /// How much of what was applied is kept for watchers that resume.
        public var watchHistory: WatchHistoryLimits
        /// A client session without a write for this long is ended by the leader.
        public var sessionTimeout: TimeAmount
        /// How much client work the node holds before it refuses more.
        public var admission: AdmissionLimits

        public init(
            id: NodeID, address: String, tickInterval: TimeAmount = .milliseconds(100), electionTicks: Int = 5,
            heartbeatTicks: Int = 1, requestTimeout: TimeAmount = .seconds(5), maxValueSize: Int = 1 << 20,
            snapshotEntries: UInt64 = 100_000, snapshotBytes: Int = 64 << 20, snapshotChunkSize: Int = 1 << 20, client: RPCClient.Options = .init(),
            randomSeed: UInt64? = nil, memoryBound: MemoryBound? = nil, watchHistory: WatchHistoryLimits = WatchHistoryLimits(),
            maxKeySize: Int = 16 << 10, sessionTimeout: TimeAmount = .hours(1), admission: AdmissionLimits = AdmissionLimits()
        ) {
            self.id = id
            self.address = address
            self.tickInterval = tickInterval
            self.electionTicks = electionTicks
            self.heartbeatTicks = heartbeatTicks
            self.requestTimeout = requestTimeout
            self.maxValueSize = maxValueSize
            self.maxKeySize = maxKeySize
            self.snapshotEntries = snapshotEntries
            self.snapshotBytes = snapshotBytes
            self.snapshotChunkSize = snapshotChunkSize
            self.client = client
            self.randomSeed = randomSeed
            self.memoryBound = memoryBound
            self.watchHistory = watchHistory
            self.sessionTimeout = sessionTimeout
            self.admission = admission
        }
    }

    public let options: Options
    public let store: CacheStore
    /// The client work held now, shared by both protocols' connections.
    public let admission: AdmissionGate
    let loop: any EventLoop
    /// The loop every touch of the core happens on; a listener for peers belongs here too.
    public var eventLoop: any EventLoop { loop }
    let storage: any RaftStorage
    let logger: Logger
    let core: RaftCore
    let housekeeping: Housekeeping
    private var processor: ReadyProcessor!
    /// Holds what the processor holds unowned.
    private var readyHost: NodeReadyHost!
    let peers: PeerLink
    private let waiters = Waiters()
    /// Reads are handed to their answers a slice of bytes at a time (on the loop).
    private let readPacer: ReadPacer
    fileprivate var snapshots: SnapshotManager!
    private var maintenance: CacheMaintenance!
    /// Bytes the leader's proposed writes may add to the map once applied (the memory bound
    /// counts them before they are).
    private var pendingGrowth: UInt64 = 0
    /// Who watches which keys, and the recent changes they may resume from (on the loop).
    let watches: WatchHub
    private var ticker: RepeatedTask?
    private var stopped = false
    private var lastLeader: NodeID?
    private var electionsCounted: UInt64 = 0
    /// The last round of members' statuses, shared by whoever asks within a second.
    private var recentStatuses: (asked: NIODeadline, answer: EventLoopFuture<[MemberStatus]>)?
    /// Entries applied and reads answered per second, and leader changes (the live page).
    public let activity = NodeActivity()
    let metrics = NodeEventMetrics()
    /// This node has said in its log that it was removed.
    private var removedLogged = false
    /// When this node last heard from its leader (an AppendEntries or snapshot chunk), or
    /// last ticked as leader: uptime nanoseconds, read by stale reads on any thread.
    private let lastLeaderContact = Atomic<UInt64>(NIODeadline.now().uptimeNanoseconds)
    private let failurePromise: EventLoopPromise<String>

    /// Succeeds, with the reason, if the node stops itself (its storage failed): it serves
    /// nothing more and the process should exit.
    public var failure: EventLoopFuture<String> { failurePromise.futureResult }

    /// `state`: where the core starts - what the storage recovered, unless the caller has
    /// just written more (a founding configuration).
    public init(options: Options, storage: any RaftStorage, state: PersistentState? = nil, store: CacheStore, logger: Logger,
                group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, housekeeping: Housekeeping = .plain) {
        self.options = options
        self.storage = storage
        self.store = store
        self.logger = logger
        self.housekeeping = housekeeping
        let maxLogBytes = options.snapshotBytes.multipliedReportingOverflow(by: 4)
        admission = AdmissionGate(limits: options.admission, maxLogBytes: maxLogBytes.overflow ? .max : maxLogBytes.partialValue)
        loop = group.next()
        peers = PeerLink(loop: loop, options: options.client, logger: logger)
        readPacer = ReadPacer(loop: loop)
        watches = WatchHub(limits: options.watchHistory, appliedIndex: store.appliedIndex)
        failurePromise = loop.makePromise(of: String.self)
        let start = state ?? storage.recovered
        core = RaftCore(
            options: RaftOptions(
                id: options.id, electionTicks: options.electionTicks, heartbeatTicks: options.heartbeatTicks,
                leaseDuration: RaftOptions.leaseDuration(
                    electionTicks: options.electionTicks, tick: UInt64(max(0, options.tickInterval.nanoseconds))),
                randomSeed: options.randomSeed ?? UInt64.random(in: 0...UInt64.max)),
            state: start)
        storage.releaseRecovered()
        readyHost = NodeReadyHost(self)
        processor = ReadyProcessor(core: core, storage: storage, recovered: start.hardState, host: readyHost)
        snapshots = SnapshotManager(node: self)
        maintenance = CacheMaintenance(node: self)
    }

    deinit {
        // A node that never ran (its process failed to start) has no failure to report.
        failurePromise.fail(RPCError.shuttingDown)
    }

    /// Loads the store from the storage's newest snapshot (before `start`, on a restart).
    public func restoreStore() throws {
        try snapshots.restoreStore()
        // What the log holds past the snapshot is applied again, and streamed again, from here.
        watches.restarted(at: store.appliedIndex)
    }

    /// Starts the clock.
    public func start() {
        loop.execute { [self] in
            ticker = loop.scheduleRepeatedTask(initialDelay: options.tickInterval, delay: options.tickInterval) { [self] _ in
                core.now = NIODeadline.now().uptimeNanoseconds
                if core.isLeader { lastLeaderContact.store(core.now, ordering: .relaxed) }
                waiters.expire(now: core.now)
                admission.adjustAdvice()
                core.tick()
                processor.pump()
                maintenance.run(tick: true)
                watches.tick(now: core.now)
                activity.tick(nowMs: core.now / 1_000_000, appliedIndex: store.appliedIndex)
            }
            processor.pump()
        }
    }

    /// Stops the clock; requests still waiting fail.
    public func stop() async {
        let clients: [RPCClient] = (try? await loop.submit { [self] () -> [RPCClient] in
            halt(.shuttingDown)
            failurePromise.fail(RPCError.shuttingDown)
            return peers.close()
        }.get()) ?? []
        for client in clients { await client.close() }
    }

    /// Stops everything on the loop and fails whatever waits.
    private func halt(_ error: RPCError) {
        loop.preconditionInEventLoop()
        stopped = true
        processor.stop()
        ticker?.cancel()
        waiters.failAll(error)
        readPacer.releaseAll()
        snapshots.failWaiters(error)
        watches.endAll(error)
    }

    /// The node cannot go on (its storage failed): it stops, and says so through `failure`.
    func fail(_ reason: String) {
        logger.critical("stopping: \(reason)")
        halt(.stopped(reason))
        failurePromise.succeed(reason)
    }

    /// Runs `body` on the node's loop: at once when already there (a peer's call on the
    /// node's own loop), else queued.
    func onLoop<T: Sendable>(_ body: @escaping @Sendable () -> EventLoopFuture<T>) -> EventLoopFuture<T> {
        loop.inEventLoop ? body() : loop.flatSubmit(body)
    }

    func address(of peer: NodeID) -> String? {
        core.configuration.servers.first { $0.id == peer }?.address
    }

    /// A message for the core from outside a call (a snapshot stream's last answer).
    func deliver(_ message: Message) {
        guard !stopped else { return }
        core.step(message)
        processor.pump()
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
            let context = waiters.newToken()
            let message = Message(from: from, to: options.id, context: context, body: body)
            // Only a chunk the core would take may touch the transfer in progress.
            if case .installSnapshot(let request) = body, core.accepts(message), let refusal = snapshots.receive(request) {
                return loop.makeFailedFuture(refusal)
            }
            let promise = loop.makePromise(of: MessageBody.self)
            // Requests the core ignores get no answer; ReadIndex is answered later.
            waiters.inboundCall(context, promise, timeout: method == .readIndex ? options.requestTimeout : options.tickInterval * 20)
            core.step(message)
            snapshots.dropReceivedUnlessPending()
            if method == .appendEntries || method == .installSnapshot, core.leaderID == from {
                lastLeaderContact.store(NIODeadline.now().uptimeNanoseconds, ordering: .relaxed)
            }
            processor.schedulePump()
            return promise.futureResult.flatMapThrowing { try $0.payload() }
        }
    }

    // MARK: Client requests

    /// Whether this node leads (read on its loop).
    var isLeaderOnLoop: Bool { core.isLeader }

    /// Proposes a command on the leader and waits until it is applied: its index and what
    /// applying it did. `growth`: how many bytes it may add to the map (as the memory bound
    /// counts them); the leader refuses it if the bound does not allow that many.
    public func proposeCommand(_ command: [UInt8], growth: UInt64 = 0) -> EventLoopFuture<AppliedEntry> {
        guard growth > 0, options.memoryBound != nil else {
            // Every write's path: on the loop, without the closures submitProposal takes.
            guard loop.inEventLoop else { return submitProposal { [self] in try core.propose(command) } }
            return proposed { try core.propose(command) }
        }
        // Counted from its proposal until it is applied or lost (all on the loop).
        let counted = NIOLoopBoundBox(false, eventLoop: loop)
        return submitProposal { [self] in
            guard core.isLeader else { return try core.propose(command) }
            if let refusal = memoryRefusal(growth: growth) { throw refusal }
            let appended = try core.propose(command)
            pendingGrowth += growth
            counted.value = true
            return appended
        }.always { [self] _ in
            loop.execute { [self] in
                if counted.value { pendingGrowth -= growth }
            }
        }
    }

    /// Why the memory bound refuses a write that adds `growth` bytes, or nil: under noeviction,
    /// when it would pass the bound; under a policy that evicts, when eviction is 5% behind
    /// (or finds nothing it may evict).
    private func memoryRefusal(growth: UInt64) -> RPCError? {
        guard let bound = options.memoryBound else { return nil }
        // What is applied, and what writes proposed meanwhile may add.
        let used = store.memoryUsed + pendingGrowth
        let ceiling = bound.policy == .noEviction ? bound.maxBytes : bound.maxBytes + bound.maxBytes / 20
        return used + growth > ceiling ? .memoryFull(used: used, bound: bound) : nil
    }

    /// Appends an entry through `append` (on the loop) and waits until it is applied.
    private func submitProposal(
        _ append: @escaping @Sendable () throws -> (index: UInt64, term: UInt64)
    ) -> EventLoopFuture<AppliedEntry> {
        onLoop { [self] in proposed(append) }
    }

    /// The entry `append` appends (on the loop), once it is applied; or why it was not appended.
    private func proposed(_ append: () throws -> (index: UInt64, term: UInt64)) -> EventLoopFuture<AppliedEntry> {
        loop.preconditionInEventLoop()
        guard !stopped else { return loop.makeFailedFuture(RPCError.shuttingDown) }
        do {
            let (index, term) = try append()
            metrics.proposals.increment()
            let future = awaitApplied(index: index, term: term)
            processor.schedulePump()
            return future
        } catch let error as RaftError {
            return loop.makeFailedFuture(refusal(error))
        } catch let error as RPCError {
            return loop.makeFailedFuture(error)
        } catch {
            return loop.makeFailedFuture(RPCError.rejected("\(error)"))
        }
    }

    /// A promise answered when the entry (index, term) is applied - or failed when another
    /// entry is applied there, or at the request deadline.
    private func awaitApplied(index: UInt64, term: UInt64) -> EventLoopFuture<AppliedEntry> {
        loop.preconditionInEventLoop()
        let promise = loop.makePromise(of: AppliedEntry.self)
        if store.appliedIndex >= index {
            // Already applied (a membership change that was in force): it changed nothing.
            promise.succeed(AppliedEntry(index: index, outcome: .none))
            return promise.futureResult
        }
        waiters.proposal(index: index, term: term, promise, timeout: options.requestTimeout)
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

    /// What a read found: the values (nil: no such key, or it has expired by this node's
    /// clock) with the milliseconds each has left to live, the index the store had applied
    /// when it read them all, and for a stale read how long since this node last heard from
    /// a leader.
    public struct ReadResult: Sendable {
        public var values: [CacheStore.Found?]
        public var appliedIndex: UInt64
        public var leaderContactAgeMs: UInt64

        /// The bytes of the values found.
        var valueBytes: Int {
            values.reduce(0) { sum, found in sum &+ (found?.value.count ?? 0) }
        }
    }

    /// A stale read: this node's store as it is, read on the caller's thread; handed out at
    /// once on the loop unless larger reads wait there (`ReadPacer`), else once they have gone.
    public func staleRead(_ keys: [[UInt8]]) -> Paced<ReadResult> {
        let result = localRead(keys, leaderContactAgeMs: leaderContactAgeMs)
        guard loop.inEventLoop else {
            return .later(loop.flatSubmit { [self] in readPacer.paced(result, bytes: result.valueBytes) })
        }
        return readPacer.handOut(result, bytes: result.valueBytes)
    }

    /// The keys as the store holds them now, by this node's clock.
    private func localRead(_ keys: [[UInt8]], leaderContactAgeMs: UInt64 = 0) -> ReadResult {
        let (values, applied) = store.read(keys, now: UnixClock.milliseconds())
        activity.readsAnswered(keys.count)
        return ReadResult(values: values, appliedIndex: applied, leaderContactAgeMs: leaderContactAgeMs)
    }

    /// A read at `consistency` once its barrier allows (a stale read: `staleRead`);
    /// a read that could not be confirmed in time fails as unavailable (nothing changed: the
    /// reader may ask again).
    public func read(_ keys: [[UInt8]], consistency: Consistency) -> EventLoopFuture<ReadResult> {
        if consistency == .stale {
            switch staleRead(keys) {
            case .now(let result): return loop.makeSucceededFuture(result)
            case .later(let result): return result
            }
        }
        return currentReadBarrier(lease: consistency == .lease).flatMapErrorThrowing { error in
            if let error = error as? RPCError, error.status == .deadlineExceeded {
                throw RPCError.unavailable("could not confirm with a quorum that this read is current; try again")
            }
            throw error
        }.flatMap { [self] _ in
            let result = localRead(keys)
            return readPacer.paced(result, bytes: result.valueBytes)
        }
    }

    /// A read index confirmed by a quorum.
    private func readIndex() -> EventLoopFuture<UInt64> {
        onLoop { [self] () -> EventLoopFuture<UInt64> in
            guard !stopped else { return loop.makeFailedFuture(RPCError.shuttingDown) }
            let context = waiters.newToken()
            let promise = loop.makePromise(of: UInt64.self)
            waiters.readIndex(context, promise, timeout: options.requestTimeout)
            core.readIndex(context: context)
            processor.schedulePump()
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
            waiters.applied(through: index, promise, timeout: options.requestTimeout)
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
                snapshotIndex: core.snapshotIndex, snapshot: snapshots.status(), followers: core.followers,
                keys: UInt64(map.count), bytes: UInt64(map.bytes), digest: map.digest,
                leaderContactAgeMs: core.isLeader ? 0 : leaderContactAgeMs, memoryUsedBytes: map.memoryUsed,
                maxMemoryBytes: options.memoryBound?.maxBytes ?? 0, evictionPolicy: options.memoryBound?.policy.rawValue ?? "",
                expiredKeys: map.expired, evictedKeys: map.evicted, expiringKeys: UInt64(map.expiring),
                clientSessions: UInt64(store.sessionCount))
        }
    }

    /// Proposes a membership change on the leader and waits until its entry is applied
    /// (failing if a leader change replaced it).
    public func changeMembership(_ change: MembershipChange) -> EventLoopFuture<MembershipResponse> {
        submitProposal { [self] in try core.proposeMembership(change) }.map { [self] applied in
            MembershipResponse(index: applied.index, configuration: core.configuration)
        }
    }

    /// Starts handing leadership to `target` (nil: the most up-to-date voter).
    public func transferLeadership(to target: NodeID?) -> EventLoopFuture<Void> {
        loop.submit { [self] in
            do {
                try core.transferLeadership(to: target)
                processor.pump()
            } catch let error as RaftError {
                throw refusal(error)
            }
        }
    }

    /// Takes a snapshot of everything applied so far (an operator's request) and returns
    /// it once it is on disk and the log it covers is gone.
    public func snapshotNow() -> EventLoopFuture<SnapshotStatus> {
        onLoop { [self] in
            guard !stopped else { return loop.makeFailedFuture(RPCError.shuttingDown) }
            return snapshots.snapshotNow()
        }
    }

    /// A snapshot of everything applied so far, to stream as a backup: taken now (as
    /// `snapshotNow`), then read from where it was stored. Reading it stays valid while newer
    /// snapshots replace it.
    public func backupSnapshot() -> EventLoopFuture<any SnapshotSource> {
        snapshotNow().hop(to: loop).flatMapThrowing { [self] taken in
            guard let current = snapshots.current, current.metadata.lastIncludedIndex >= taken.index else {
                throw RPCError.unavailable("the snapshot for the backup is gone already; try again")
            }
            return current
        }
    }

    /// A member's status as this node could get it.
    public struct MemberStatus: Sendable {
        public var server: Server
        public var status: Result<StatusResponse, RPCError>
    }

    /// The status of every member of the configuration: this node's own, the others' asked
    /// over the binary protocol within `timeout` (a member that does not answer in time is
    /// reported so). In configuration order.
    public func memberStatuses(timeout: TimeAmount) -> EventLoopFuture<[MemberStatus]> {
        onLoop { [self] in
            // Every page open on this node shares one round of calls a second.
            let now = NIODeadline.now()
            if let recent = recentStatuses, now - recent.asked < .seconds(1) { return recent.answer }
            let asked = core.configuration.servers.map { server -> EventLoopFuture<MemberStatus> in
                let answer: EventLoopFuture<StatusResponse>
                if server.id == options.id {
                    answer = status()
                } else if let client = peers.client(for: server.address, peer: server.id) {
                    answer = client.callFuture(Method.status.rawValue, payload: [], timeout: timeout)
                        .flatMapThrowing { try StatusResponse(wireBytes: $0) }
                } else {
                    answer = loop.makeFailedFuture(RPCError.unavailable("no address for \(server.id)"))
                }
                return answer.hop(to: loop).map { MemberStatus(server: server, status: .success($0)) }.recover { error in
                    MemberStatus(server: server, status: .failure(error as? RPCError ?? RPCError(.unavailable, "\(error)")))
                }
            }
            let answer = EventLoopFuture.whenAllSucceed(asked, on: loop)
            recentStatuses = (now, answer)
            return answer
        }
    }

    // MARK: The Ready's work (ReadyProcessor)

    /// A request goes out as a call whose answer comes back into the core; a response answers
    /// the inbound call that caused it; a snapshot is streamed.
    func send(_ message: Message) {
        if message.body.isResponse {
            waiters.answer(context: message.context, with: message.body)
            return
        }
        if case .installSnapshot(let request) = message.body {
            return snapshots.stream(request, to: message.to, context: message.context)
        }
        guard let address = address(of: message.to) else { return }
        let from = message.to, context = message.context
        peers.call(message.body, to: from, at: address) { [self] response in
            guard !stopped else { return }
            core.step(Message(from: from, to: options.id, context: context, body: response))
            processor.schedulePump()
        }
    }

    func apply(_ entry: Entry) {
        // Entries a snapshot installed since has already brought in.
        guard entry.index > store.appliedIndex else { return }
        var changes: [Change] = []
        let outcome = store.apply(entry, changes: &changes)
        watches.applied(index: entry.index, changes: changes, now: core.now)
        snapshots.entryApplied(entry)
        waiters.entryApplied(entry, outcome: outcome)
        if entry.type == .configuration { configurationApplied(entry.index) }
    }

    func readIndexesReady(_ readStates: [ReadState]) {
        for read in readStates { waiters.readIndexAnswered(read) }
    }

    func readyProcessed() {
        noteLeaderChange()
        admission.publish(backlog: core.lastIndex - min(core.lastIndex, store.appliedIndex), logBytes: snapshots.uncoveredLogBytes)
        // After the Ready's write is queued: the compaction a snapshot ends with is queued behind it.
        snapshots.maybeSnapshot()
        // Writes just applied may have passed the memory bound.
        maintenance.run()
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
        if core.electionsStarted > electionsCounted {
            metrics.electionsStarted.increment(by: core.electionsStarted - electionsCounted)
            electionsCounted = core.electionsStarted
        }
        guard core.leaderID != lastLeader else { return }
        lastLeader = core.leaderID
        metrics.leaderChanges.increment()
        activity.leaderChanged(.init(timeMs: UnixClock.milliseconds(), term: core.term, leaderID: core.leaderID ?? ""))
        logger.info("leader changed", metadata: ["leader": "\(core.leaderID ?? "none")", "term": "\(core.term)"])
        // Proposals not yet committed may be lost; they fail when their index is applied
        // with another term, or at their deadline.
    }

    private func describeMembers() -> String {
        core.configuration.servers.map { "\($0.id)@\($0.address):\($0.suffrage)" }.joined(separator: ",")
    }
}

/// A proposal's entry, applied: its index and what applying it did.
public struct AppliedEntry: Sendable {
    public var index: UInt64
    public var outcome: CacheStore.Outcome
}

/// The node as the ReadyProcessor sees it (kept out of the node's public face).
private final class NodeReadyHost: ReadyHost {
    unowned let node: RaftNode

    init(_ node: RaftNode) {
        self.node = node
    }

    func schedule(_ work: @escaping @Sendable () -> Void) { node.loop.execute(work) }
    func send(_ message: Message) { node.send(message) }
    func install(_ snapshot: SnapshotMetadata, completion: @escaping @Sendable ((any Error)?) -> Void) {
        node.snapshots.install(snapshot, completion: completion)
    }
    func apply(_ entry: Entry) { node.apply(entry) }
    func readIndexesReady(_ readStates: [ReadState]) { node.readIndexesReady(readStates) }
    func readyProcessed() { node.readyProcessed() }
    func storageFailed(_ reason: String) { node.fail(reason) }
}
