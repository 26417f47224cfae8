import CacheStore
import Connections
import NIOCore
import RaftCore
import RaftStorage
import RaftWire

/// What a node offers its clients, in Swift types: keys, membership, leadership, snapshots
/// and status. Both protocols are codecs over this (HTTPFrontend, RaftNodeService); here, and
/// only here, a request is authorized, validated and, on a follower, forwarded to the leader,
/// and every failure is an `RPCError` (NodeErrors.swift). Answers are futures, completed on
/// the node's loop or the forwarding client's: nothing here blocks a loop.
public struct NodeAPI: Sendable {
    /// Who asks, as the protocol that carried the request knows them.
    public struct Requester: Sendable {
        /// Who the connection's certificate names (TLS).
        public var certificate: Caller?
        /// The bearer token the request carries ("" for none).
        public var token: String
        /// How many nodes forwarded the request here: a forwarded request is not forwarded again.
        public var hops: UInt32
        /// A write's client session (nil: none): applied once per sequence.
        public var session: SessionTag?

        public init(certificate: Caller? = nil, token: String = "", hops: UInt32 = 0, session: SessionTag? = nil) {
            self.certificate = certificate
            self.token = token
            self.hops = hops
            self.session = session
        }
    }

    /// What a read found: the value, the index the answering node had applied, and for a stale
    /// read how long since that node last heard from a leader (what the value may miss).
    public struct Read: Sendable {
        public var value: StoredValue
        /// Until the key expires, by the answering node's clock (0: it does not).
        public var ttlMs: UInt64
        public var appliedIndex: UInt64
        public var leaderContactAgeMs: UInt64
    }

    public let node: RaftNode
    let access: AccessPolicy

    public init(node: RaftNode, access: AccessPolicy = AccessPolicy(tls: false, tokens: nil)) {
        self.node = node
        self.access = access
    }

    /// The largest value a write may carry.
    public var maxValueSize: Int { node.options.maxValueSize }

    // MARK: Keys

    /// Sets `key` to `value` once a quorum has it, if `condition` holds when it is applied,
    /// to expire `ttlMs` after the leader proposes it (0: never); the entry's index (the key's
    /// new mod index).
    public func set(
        key: [UInt8], value: [UInt8], condition: WriteCondition = .none, ttlMs: UInt64 = 0, by requester: Requester
    ) -> EventLoopFuture<UInt64> {
        if let refused = refusal(.write, requester) ?? keyProblem(key) ?? valueProblem(value) ?? ttlProblem(ttlMs) {
            return failed(refused)
        }
        let command = Command(op: .set, key: key, value: value, condition: condition, nowMs: UnixClock.milliseconds(), ttlMs: ttlMs)
        return write(
            command, growth: Self.growth(key: key, value: value), by: requester, forward: .set,
            SetRequest(key: key, value: value, condition: condition, ttlMs: ttlMs), applied: Self.index
        ) { (response: SetResponse) in response.index }
    }

    /// Changes the time to live of an existing key (0: it no longer expires), keeping its value
    /// and version; the entry's index. A missing key is NOT_FOUND.
    public func setTTL(key: [UInt8], ttlMs: UInt64, by requester: Requester) -> EventLoopFuture<UInt64> {
        if let refused = refusal(.write, requester) ?? keyProblem(key) ?? ttlProblem(ttlMs) { return failed(refused) }
        return write(
            Command(op: .setTTL, key: key, nowMs: UnixClock.milliseconds(), ttlMs: ttlMs), by: requester, forward: .setTTL,
            SetTTLRequest(key: key, ttlMs: ttlMs), applied: Self.ttlChanged
        ) { (response: SetTTLResponse) in response.index }
    }

    /// Applies a transaction in one entry: its compares decide which branch runs.
    public func txn(_ txn: TxnRequest, by requester: Requester) -> EventLoopFuture<TxnResponse> {
        if let refused = refusal(.write, requester) ?? txnProblem(txn) { return failed(refused) }
        let growth = (txn.success + txn.failure).reduce(0) { $0 + ($1.type == .set ? Self.growth(key: $1.key, value: $1.value) : 0) }
        return write(
            Command(op: .txn, nowMs: UnixClock.milliseconds(), txn: txn), growth: growth, by: requester, forward: .txn, txn,
            applied: transacted
        ) { (response: TxnResponse) in response }
    }

    /// Several keys at once: with any write, applied atomically in one entry (a transaction
    /// without compares, its reads linearizable); with only reads, read at the consistency asked.
    public func batch(_ batch: BatchRequest, by requester: Requester) -> EventLoopFuture<BatchResponse> {
        guard batch.ops.contains(where: { $0.type != .get }) else {
            if let refused = refusal(.read, requester) ?? opsProblem(batch.ops) { return failed(refused) }
            let limit = maxValueSize
            return node.read(batch.ops.map(\.key), consistency: batch.consistency).flatMapThrowing { read in
                let bytes = read.values.reduce(0) { $0 + ($1?.value.count ?? 0) }
                guard bytes <= limit else { throw Self.answerTooLarge(bytes, limit: limit, applied: nil) }
                return BatchResponse(
                    results: read.values.map { found in
                        CacheStore.OpResult(found: found != nil, value: found?.value, version: found?.value.version, ttlMs: found?.ttlMs ?? 0)
                            .keyOpResult
                    },
                    index: read.appliedIndex)
            }
        }
        return txn(TxnRequest(success: batch.ops), by: requester).map { BatchResponse(results: $0.results, index: $0.index) }
    }

    /// Deletes `key` (whether or not it exists, unless `condition` asks for a mod index) once a
    /// quorum has it; the entry's index.
    public func delete(key: [UInt8], condition: WriteCondition = .none, by requester: Requester) -> EventLoopFuture<UInt64> {
        if let refused = refusal(.write, requester) ?? keyProblem(key) { return failed(refused) }
        guard condition != .absent else { return failed(.invalid("a delete cannot be made on the condition that the key does not exist")) }
        return write(
            Command(op: .delete, key: key, condition: condition, nowMs: UnixClock.milliseconds()), by: requester, forward: .delete,
            DeleteRequest(key: key, condition: condition), applied: Self.index
        ) {
            (response: DeleteResponse) in response.index
        }
    }

    /// Adds `amount` to the key's value, a decimal 64-bit integer (a missing key counts as 0),
    /// once a quorum has it: the new value and the entry's index. A value that is not such a
    /// number, or a sum outside the range, changes nothing and fails as FAILED_PRECONDITION.
    public func incr(key: [UInt8], amount: Int64, by requester: Requester) -> EventLoopFuture<IncrResponse> {
        if let refused = refusal(.write, requester) ?? keyProblem(key) { return failed(refused) }
        return write(
            Command(op: .incr, key: key, by: amount, nowMs: UnixClock.milliseconds()),
            // At most 20 digits and a sign.
            growth: Self.growth(bytes: key.count + 20), by: requester, forward: .incr,
            IncrRequest(key: key, by: amount),
            applied: Self.incremented
        ) { (response: IncrResponse) in response }
    }

    /// This node's value of `key` as it is, read on the caller's thread: what a stale read
    /// answers (at once, unless larger reads wait to be handed out first).
    public func staleRead(key: [UInt8], by requester: Requester) -> Paced<Result<Read, RPCError>> {
        if let refused = refusal(.read, requester) ?? keyProblem(key) { return .now(.failure(refused)) }
        return node.staleRead([key]).map(Self.found)
    }

    /// The value of `key` read at `consistency` (see `RaftNode.read`).
    public func read(key: [UInt8], consistency: Consistency, by requester: Requester) -> EventLoopFuture<Read> {
        if let refused = refusal(.read, requester) ?? keyProblem(key) { return failed(refused) }
        return node.read([key], consistency: consistency).flatMapResult(Self.found)
    }

    private static func found(_ read: RaftNode.ReadResult) -> Result<Read, RPCError> {
        guard let found = read.values.first ?? nil else { return .failure(RPCError(.notFound, "key not found")) }
        return .success(Read(value: found.value, ttlMs: found.ttlMs, appliedIndex: read.appliedIndex, leaderContactAgeMs: read.leaderContactAgeMs))
    }

    /// Starts streaming the changes `request` asks for to `sink` (on the node's loop): those
    /// after `request.since` this node still holds, then each as it is applied here. Fails
    /// OUT_OF_RANGE when it no longer holds them.
    public func watch(_ request: WatchRequest, to sink: any WatchSink, by requester: Requester) -> EventLoopFuture<WatchHandle> {
        if let refused = refusal(.read, requester) { return failed(refused) }
        guard request.key.isEmpty || request.prefix.isEmpty else { return failed(.invalid("watch a key or a prefix, not both")) }
        let node = node, sink = UncheckedSink(sink)
        return node.onLoop {
            node.loop.makeCompletedFuture { try node.watches.add(request, sink: sink.value, now: NIODeadline.now().uptimeNanoseconds) }
        }
    }

    // MARK: The cluster

    /// Adds a server (a voter, or a learner that does not vote) once the change is applied.
    public func addServer(id: NodeID, address: String, learner: Bool, by requester: Requester) -> EventLoopFuture<MembershipResponse> {
        if let refused = refusal(.admin, requester) { return failed(refused) }
        if let problem = Self.membershipProblem(id: id, address: address) { return failed(.invalid(problem)) }
        let change: MembershipChange = learner ? .addLearner(id: id, address: address) : .addVoter(id: id, address: address)
        return forwardingToLeader(
            by: requester, { node.changeMembership(change) }, forward: .addVoter, AddVoterRequest(id: id, address: address, learner: learner)
        ) { (response: MembershipResponse) in response }
    }

    /// Removes a server once the change is applied.
    public func removeServer(id: NodeID, by requester: Requester) -> EventLoopFuture<MembershipResponse> {
        if let refused = refusal(.admin, requester) { return failed(refused) }
        return forwardingToLeader(
            by: requester, { node.changeMembership(.remove(id: id)) }, forward: .removeServer, RemoveServerRequest(id: id)
        ) { (response: MembershipResponse) in response }
    }

    /// Starts handing leadership to `target` (nil: the most up-to-date voter).
    public func transferLeadership(to target: NodeID?, by requester: Requester) -> EventLoopFuture<Void> {
        if let refused = refusal(.admin, requester) { return failed(refused) }
        return forwardingToLeader(
            by: requester, { node.transferLeadership(to: target) }, forward: .transferLeadership,
            TransferLeadershipRequest(targetID: target ?? "")
        ) { (_: TransferLeadershipResponse) in }
    }

    /// Opens a client session (a write: it is an entry); its id and idle timeout.
    public func openSession(by requester: Requester) -> EventLoopFuture<OpenSessionResponse> {
        if let refused = refusal(.write, requester) { return failed(refused) }
        let timeoutMs = UInt64(max(0, node.options.sessionTimeout.nanoseconds / 1_000_000))
        var opening = requester
        opening.session = nil
        return write(
            Command(op: .openSession, nowMs: UnixClock.milliseconds()), by: opening, forward: .openSession, OpenSessionRequest(),
            applied: { entry in
                guard case .sessionOpened(let id) = entry.outcome else { throw RPCError.unexpected("a session was opened as \(entry.outcome)") }
                return OpenSessionResponse(sessionID: id, timeoutMs: timeoutMs)
            }
        ) { (response: OpenSessionResponse) in response }
    }

    /// A session tag's numbers: a sequence from 1, below 2^63 like every number (the codec
    /// checks that); nil when it is fine.
    static func sessionProblem(_ session: SessionTag?) -> RPCError? {
        guard let session else { return nil }
        return session.sequence == 0 ? .invalid("a session's sequence numbers start at 1") : nil
    }

    /// Takes a snapshot of everything this node has applied, and answers once it is on disk.
    public func snapshot(by requester: Requester) -> EventLoopFuture<SnapshotStatus> {
        if let refused = refusal(.admin, requester) { return failed(refused) }
        return node.snapshotNow()
    }

    public func status(by requester: Requester) -> EventLoopFuture<StatusResponse> {
        if let refused = refusal(.read, requester) { return failed(refused) }
        return node.status()
    }

    /// Every member's status, as this node can get it (the live page).
    public func cluster(by requester: Requester) -> EventLoopFuture<[RaftNode.MemberStatus]> {
        if let refused = refusal(.read, requester) { return failed(refused) }
        return node.memberStatuses(timeout: .seconds(1))
    }

    /// A snapshot of everything applied, for a backup (admins only: it holds every value).
    public func backup(by requester: Requester) -> EventLoopFuture<any SnapshotSource> {
        if let refused = refusal(.admin, requester) { return failed(refused) }
        return node.backupSnapshot()
    }

    /// Whether this node knows a leader and has applied all it knows committed: anyone may
    /// ask (a load balancer's probe).
    public func isReady() -> EventLoopFuture<Bool> {
        node.status().map { !$0.leaderID.isEmpty && $0.appliedIndex >= $0.commitIndex }
    }

    // MARK: Raft's own messages

    /// A peer's Raft request, answered with the core's response. With TLS a peer speaks for
    /// itself only: its certificate must name the server the message says it is from.
    public func raftCall(_ method: Method, payload: [UInt8], by requester: Requester) -> EventLoopFuture<[UInt8]> {
        switch access.authorize(.peer, certificate: requester.certificate, token: requester.token) {
        case .success(let caller):
            return node.handleRaftCall(method: method, payload: payload, sender: requester.certificate == nil ? nil : caller.name)
        case .failure(let denied):
            return failed(Self.error(denied))
        }
    }

    // MARK: Helpers

    /// Why a server may not join as `id` at `address`, or nil: an id is 1 to 128 bytes with
    /// no control characters or spaces, an address a host (up to 253 bytes) and a port 1...65535.
    public static func membershipProblem(id: String, address: String) -> String? {
        guard (1...128).contains(id.utf8.count), !id.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0.value < 0x20 || $0.value == 0x7F })
        else { return "a server id is 1 to 128 bytes without spaces or control characters" }
        guard address.utf8.count <= 261, let parsed = HostPort(address), !parsed.host.isEmpty, parsed.port > 0,
            !address.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0.value < 0x20 })
        else { return "a server address is host:port, with a port from 1 to 65535" }
        return nil
    }

    /// Why `requester` may not do what `role` allows, or nil.
    private func refusal(_ role: AccessRole, _ requester: Requester) -> RPCError? {
        switch access.authorize(role, certificate: requester.certificate, token: requester.token) {
        case .success: nil
        case .failure(let denied): Self.error(denied)
        }
    }

    private static func error(_ denied: AccessDenied) -> RPCError {
        switch denied {
        case .unauthenticated(let why): RPCError(.unauthenticated, why)
        case .permissionDenied(let why): RPCError(.permissionDenied, why)
        }
    }

    private func keyProblem(_ key: [UInt8]) -> RPCError? {
        guard !key.isEmpty else { return .invalid("the key must not be empty") }
        guard key.count > maxKeySize else { return nil }
        return RPCError(
            .resourceExhausted, "key of \(key.count) bytes is over the limit of \(maxKeySize) bytes (--max-key-size)",
            detail: ErrorDetail(limit: "max-key-size"))
    }

    /// The longest key a request may name.
    public var maxKeySize: Int { node.options.maxKeySize }

    private func valueProblem(_ value: [UInt8]) -> RPCError? {
        guard value.count > maxValueSize else { return nil }
        return RPCError(
            .resourceExhausted, "value of \(value.count) bytes is over the limit of \(maxValueSize) bytes (--max-value-size)",
            detail: ErrorDetail(limit: "max-value-size"))
    }

    /// The longest time to live: 100 years, far past any cache's need and far from overflow.
    public static let maxTTLMs: UInt64 = 100 * 365 * 24 * 3_600 * 1_000

    private func ttlProblem(_ ttlMs: UInt64) -> RPCError? {
        ttlMs <= Self.maxTTLMs ? nil : .invalid("a time to live is at most 100 years (\(Self.maxTTLMs) ms), not \(ttlMs) ms")
    }

    /// The most operations, and compares, one transaction or batch may hold.
    public static let maxOps = 1_024

    private func opsProblem(_ ops: [KeyOp], compares: [Compare] = [], more: [KeyOp] = []) -> RPCError? {
        guard ops.count <= Self.maxOps else { return .invalid("at most \(Self.maxOps) operations, not \(ops.count)") }
        guard !ops.isEmpty || !more.isEmpty else { return .invalid("no operations") }
        for op in ops + more {
            if let problem = keyProblem(op.key) ?? valueProblem(op.value) ?? ttlProblem(op.ttlMs) { return problem }
        }
        // Everything the entry will carry: both branches and the compares.
        let total = (ops + more).reduce(0) { $0 + $1.key.count + $1.value.count } + compares.reduce(0) { $0 + $1.key.count + $1.value.count }
        guard total <= maxValueSize else {
            return RPCError(
                .resourceExhausted, "keys and values of \(total) bytes in all are over the limit of \(maxValueSize) bytes (--max-value-size)",
                detail: ErrorDetail(limit: "max-value-size"))
        }
        return nil
    }

    private func txnProblem(_ txn: TxnRequest) -> RPCError? {
        guard txn.compares.count <= Self.maxOps else { return .invalid("at most \(Self.maxOps) compares, not \(txn.compares.count)") }
        for compare in txn.compares {
            if let problem = keyProblem(compare.key) { return problem }
            if compare.target == .exists, compare.result == .less || compare.result == .greater {
                return .invalid("a compare on existence is equal (the key exists) or not-equal (it does not)")
            }
        }
        guard !txn.success.isEmpty || !txn.failure.isEmpty else { return .invalid("a transaction needs operations") }
        guard txn.failure.count <= Self.maxOps else { return .invalid("at most \(Self.maxOps) operations, not \(txn.failure.count)") }
        return opsProblem(txn.success, compares: txn.compares, more: txn.failure)
    }

    /// What a write may add to the map, as the memory bound counts it.
    private static func growth(key: [UInt8], value: [UInt8]) -> UInt64 {
        growth(bytes: key.count + value.count)
    }

    private static func growth(bytes: Int) -> UInt64 {
        UInt64(bytes) + CacheStore.entryOverhead
    }

    private func failed<T>(_ error: RPCError) -> EventLoopFuture<T> {
        node.loop.makeFailedFuture(error)
    }

    /// Proposes `command` here and reads its answer from what applying it did (`applied`), or
    /// forwards `request` to the leader as `method` and reads the answer from its response.
    private func write<T: Sendable, Response: WireMessage>(
        _ command: Command, growth: UInt64 = 0, by requester: Requester, forward method: Method, _ request: some WireMessage & Sendable,
        applied: @escaping @Sendable (AppliedEntry) throws -> T, answer: @escaping @Sendable (Response) -> T
    ) -> EventLoopFuture<T> {
        var command = command
        command.session = requester.session
        if let problem = Self.sessionProblem(requester.session) { return failed(problem) }
        let bytes: [UInt8]
        do {
            bytes = try command.wireBytes()
        } catch {
            return failed(.invalid("\(error)"))
        }
        let condition = command.condition, session = requester.session
        // A repeat of a session's write that applied adds nothing: the memory bound must not
        // refuse it (its client would take an applied write for a failed one).
        let growth = session.map { node.store.hasAnswer($0) } == true ? 0 : growth
        // One promise for the answer, not a chain of futures: this is every write's path.
        let promise = node.loop.makePromise(of: T.self)
        node.proposeCommand(bytes, growth: growth).whenComplete { [self] result in
            switch result {
            case .success(var entry):
                // A session's retry whose first try was applied: answered as that one was.
                if case .repeated(let index, let outcome) = entry.outcome { entry = AppliedEntry(index: index, outcome: outcome) }
                if case .sessionRefused(let why) = entry.outcome { return promise.fail(RPCError.sessionRefused(why, session: session)) }
                if case .conditionFailed(let current) = entry.outcome { return promise.fail(RPCError.conditionFailed(condition, current: current)) }
                promise.completeWith(Result { try applied(entry) })
            case .failure(let error):
                guard let forwarded = forwarded(error, by: requester, method, request, answer: answer) else { return promise.fail(error) }
                promise.completeWith(forwarded)
            }
        }
        return promise.futureResult
    }

    /// A set's or delete's answer: the entry's index.
    @Sendable private static func index(_ entry: AppliedEntry) -> UInt64 { entry.index }

    /// A change of time to live: the entry's index, unless the key was not there.
    @Sendable private static func ttlChanged(_ entry: AppliedEntry) throws -> UInt64 {
        guard entry.outcome != .notFound else { throw RPCError(.notFound, "key not found") }
        return entry.index
    }

    /// A transaction's answer: which branch ran, and what its operations found or did; values
    /// of at most --max-value-size in all.
    @Sendable private func transacted(_ entry: AppliedEntry) throws -> TxnResponse {
        guard case .txn(let succeeded, let results) = entry.outcome else {
            throw RPCError.unexpected("a transaction was applied as \(entry.outcome)")
        }
        let bytes = results.reduce(0) { $0 + ($1.value?.count ?? 0) }
        guard bytes <= maxValueSize else { throw Self.answerTooLarge(bytes, limit: maxValueSize, applied: entry.index) }
        return TxnResponse(succeeded: succeeded, results: results.map(\.keyOpResult), index: entry.index)
    }

    /// The values a read found are too many bytes to answer with.
    private static func answerTooLarge(_ bytes: Int, limit: Int, applied: UInt64?) -> RPCError {
        let done = applied.map { "the transaction was applied at index \($0), but " } ?? ""
        return RPCError(
            .resourceExhausted, "\(done)the values read are \(bytes) bytes, over the limit of \(limit) bytes for one answer (--max-value-size); read fewer keys at once",
            detail: ErrorDetail(limit: "max-value-size"))
    }

    /// An increment's answer: the new value and the entry's index.
    @Sendable private static func incremented(_ entry: AppliedEntry) throws -> IncrResponse {
        switch entry.outcome {
        case .incremented(let value): return IncrResponse(value: value, index: entry.index)
        case .notIncremented(let reason): throw RPCError(.failedPrecondition, "cannot increment: \(reason)")
        default: throw RPCError.unexpected("an increment was applied as \(entry.outcome)")
        }
    }

    /// Runs `here`; when it fails because this node is not the leader, and the request has
    /// not been forwarded already, sends `request` to the leader as `method` instead, with
    /// the requester's token (the leader trusts this node's certificate to have checked it).
    private func forwardingToLeader<T: Sendable, Response: WireMessage>(
        by requester: Requester, _ here: () -> EventLoopFuture<T>, forward method: Method, _ request: some WireMessage & Sendable,
        answer: @escaping @Sendable (Response) -> T
    ) -> EventLoopFuture<T> {
        let node = node
        return here().flatMapError { [self] error in
            forwarded(error, by: requester, method, request, answer: answer) ?? node.loop.makeFailedFuture(error)
        }
    }

    /// The call made again at the leader, when `error` names one and the call was not
    /// forwarded already; nil otherwise.
    private func forwarded<T: Sendable, Response: WireMessage>(
        _ error: any Error, by requester: Requester, _ method: Method, _ request: some WireMessage & Sendable,
        answer: @escaping @Sendable (Response) -> T
    ) -> EventLoopFuture<T>? {
        guard requester.hops == 0, let error = error as? RPCError, let leader = error.leader else { return nil }
        let node = node
        return node.onLoop { node.loop.makeSucceededFuture(node.peers.client(for: leader.address, peer: leader.id)) }
            .flatMap { client in
                guard let client, let payload = try? request.wireBytes() else { return node.loop.makeFailedFuture(error) }
                return client.callFuture(
                    method.rawValue, payload: payload, timeout: node.options.requestTimeout, hops: requester.hops + 1,
                    token: requester.token, session: requester.session
                ).flatMapThrowing { answer(try Response(wireBytes: $0)) }
            }
    }
}
