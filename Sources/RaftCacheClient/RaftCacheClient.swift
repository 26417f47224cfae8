import Connections
import Logging
import NIOConcurrencyHelpers
import NIOCore
import RaftTransport
import RaftWire

/// A client of a raft-cache cluster over the binary protocol, for Swift services:
///
///     let cache = try RaftCacheClient(members: ["10.0.0.1:8081", "10.0.0.2:8081", "10.0.0.3:8081"])
///     try await cache.set("greeting", "hello", ttl: .seconds(30))
///     let value = try await cache.get("greeting")?.string       // "hello"
///     let visits = try await cache.increment("visits")           // applied once, however often retried
///     for try await change in cache.watch(prefix: "user/") { ... }
///     await cache.close()
///
/// It keeps multiplexed connections to the members it is given and sends each call to the
/// one that answered last, moving to the leader a refusal names, or to the next member when
/// one does not answer. Writes go through a client session (opened on the first write), so a
/// write retried after a lost answer is applied once. Every call is retried within
/// `Options.retryFor`, waiting as long as a refusal's Retry-After asks; each try has
/// `Options.callTimeout`.
public final class RaftCacheClient: Sendable {
    public struct Options: Sendable {
        /// TLS to the members (a client certificate names the caller and its role).
        public var tls: TLSContexts?
        /// A bearer token for nodes with tokens ("" for none).
        public var token: String
        /// How long one try of a call may take.
        public var callTimeout: Duration
        /// How long a call is retried (through leader changes and lost connections) before its
        /// error is thrown.
        public var retryFor: Duration
        /// Connections kept to each member.
        public var connectionsPerMember: Int

        public init(
            tls: TLSContexts? = nil, token: String = "", callTimeout: Duration = .seconds(3), retryFor: Duration = .seconds(30),
            connectionsPerMember: Int = 2
        ) {
            self.tls = tls
            self.token = token
            self.callTimeout = callTimeout
            self.retryFor = retryFor
            self.connectionsPerMember = connectionsPerMember
        }
    }

    /// A value as read, with its version and time left.
    public struct Value: Sendable, Equatable {
        public var bytes: [UInt8]
        public var createIndex: UInt64
        public var modIndex: UInt64
        /// Until the key expires (nil: it does not).
        public var ttl: Duration?

        /// The value as UTF-8 text (nil when it is not).
        public var string: String? { String(validating: bytes, as: UTF8.self) }
    }

    let members: [String]
    private let clients: [RPCClient]
    let options: Options
    /// The member calls go to first: the last that answered, or the leader a refusal named.
    private let preferred = NIOLockedValueBox(0)
    let session = SessionState()

    /// `members`: binary-protocol addresses (host:port, the nodes' --raft-addr); any of them
    /// will do, each call finds its way.
    public init(members: [String], options: Options = Options()) throws {
        guard !members.isEmpty else { throw RPCError(.invalidArgument, "give at least one member's address") }
        var logger = Logger(label: "raft-cache-client")
        logger.logLevel = .critical
        self.members = members
        self.options = options
        clients = try members.map { member in
            guard let address = HostPort(member) else { throw RPCError(.invalidArgument, "'\(member)' is not host:port") }
            return RPCClient(
                host: address.connectHost, port: address.port,
                options: .init(maxConnections: max(1, options.connectionsPerMember), timeout: Self.timeAmount(options.callTimeout), tls: options.tls, token: options.token),
                logger: logger)
        }
    }

    public func close() async {
        for client in clients { await client.close() }
    }

    // MARK: Reads

    /// The value of `key` at `consistency` (nil: no such key, or it expired).
    public func get(_ key: [UInt8], consistency: Consistency = .linearizable) async throws -> Value? {
        do {
            let response: GetResponse = try await call(.get, GetRequest(key: key, consistency: consistency))
            return Value(
                bytes: response.value, createIndex: response.createIndex, modIndex: response.modIndex,
                ttl: response.ttlMs == 0 ? nil : .milliseconds(Int64(response.ttlMs)))
        } catch let error as RPCError where error.status == .notFound {
            return nil
        }
    }

    public func get(_ key: String, consistency: Consistency = .linearizable) async throws -> Value? {
        try await get(Array(key.utf8), consistency: consistency)
    }

    /// The status of the member that answers first.
    public func status() async throws -> StatusResponse {
        try await call(.status, StatusRequest())
    }

    // MARK: Writes (each once, through the session)

    /// Sets `key`, to expire after `ttl` (nil: never), if `condition` holds; the write's index
    /// (the key's new mod index). A condition that does not hold throws FAILED_PRECONDITION
    /// with the key's version in `detail.currentVersion`.
    @discardableResult
    public func set(_ key: [UInt8], _ value: [UInt8], ttl: Duration? = nil, condition: WriteCondition = .none) async throws -> UInt64 {
        let request = SetRequest(key: key, value: value, condition: condition, ttlMs: ttl.map(Self.milliseconds) ?? 0)
        let response: SetResponse = try await write(.set, request)
        return response.index
    }

    @discardableResult
    public func set(_ key: String, _ value: String, ttl: Duration? = nil, condition: WriteCondition = .none) async throws -> UInt64 {
        try await set(Array(key.utf8), Array(value.utf8), ttl: ttl, condition: condition)
    }

    /// Deletes `key` (no error when it is missing); the write's index.
    @discardableResult
    public func delete(_ key: [UInt8], condition: WriteCondition = .none) async throws -> UInt64 {
        let response: DeleteResponse = try await write(.delete, DeleteRequest(key: key, condition: condition))
        return response.index
    }

    @discardableResult
    public func delete(_ key: String, condition: WriteCondition = .none) async throws -> UInt64 {
        try await delete(Array(key.utf8), condition: condition)
    }

    /// Adds `by` to the key's decimal value (a missing key counts as 0): the new value.
    @discardableResult
    public func increment(_ key: [UInt8], by amount: Int64 = 1) async throws -> Int64 {
        let response: IncrResponse = try await write(.incr, IncrRequest(key: key, by: amount))
        return response.value
    }

    @discardableResult
    public func increment(_ key: String, by amount: Int64 = 1) async throws -> Int64 {
        try await increment(Array(key.utf8), by: amount)
    }

    /// A transaction in one entry: if every compare holds, `success` runs, else `failure`.
    public func transaction(_ txn: TxnRequest) async throws -> TxnResponse {
        try await write(.txn, txn)
    }

    // MARK: Watching

    /// Every change of `key`, or of the keys under `prefix` (neither: every key), in commit
    /// order, from after index `since` (0: from now). It ends with an error when the node
    /// serving it goes or ends it (then watch again with `since` = the last index seen, which
    /// any member serves), and sends a cancel when the reader stops.
    public func watch(key: [UInt8] = [], prefix: [UInt8] = [], since: UInt64 = 0) -> RaftCacheWatch {
        let client = clients[preferred.withLockedValue { $0 }]
        let request = WatchRequest(key: key, prefix: prefix, since: since)
        return RaftCacheWatch { client.stream(.watch, request) }
    }

    public func watch(prefix: String, since: UInt64 = 0) -> RaftCacheWatch {
        watch(prefix: Array(prefix.utf8), since: since)
    }

    // MARK: Calls

    /// A write of the session: the same sequence number on every try, so it applies once.
    private func write<Response: WireMessage>(_ method: Method, _ request: some WireMessage & Sendable) async throws -> Response {
        var tries = 0
        do {
            return try await inSession(method, request, tries: &tries)
        } catch let error as RPCError where error.detail?.session == "expired" && tries == 1 {
            // The session ended (idle past the leader's timeout) before the one try of this
            // write: that try was refused, not applied, so the write goes again in a new
            // session. After more tries an earlier one may have applied: the error says the
            // outcome is unknown, and is thrown.
            tries = 0
            return try await inSession(method, request, tries: &tries)
        }
    }

    private func inSession<Response: WireMessage>(
        _ method: Method, _ request: some WireMessage & Sendable, tries: inout Int
    ) async throws -> Response {
        let tag = try await session.begin { try await self.openSession() }
        do {
            let response: Response = try await call(method, request, session: tag, tries: &tries)
            await session.finished(tag)
            return response
        } catch let error as RPCError where error.detail?.session == "expired" {
            await session.expired(tag)
            throw error
        } catch {
            await session.finished(tag)
            throw error
        }
    }

    private func openSession() async throws -> UInt64 {
        let response: OpenSessionResponse = try await call(.openSession, OpenSessionRequest())
        return response.sessionID
    }

    /// One call, tried at the preferred member, then wherever a refusal points or at the next
    /// member, until it is answered or `retryFor` has passed. Only what is safe to send again
    /// is retried: reads, session writes, and refusals that say nothing was applied.
    func call<Response: WireMessage>(_ method: Method, _ request: some WireMessage & Sendable, session: SessionTag? = nil) async throws -> Response {
        var tries = 0
        return try await call(method, request, session: session, tries: &tries)
    }

    /// `call`, counting the tries sent in `tries`.
    private func call<Response: WireMessage>(
        _ method: Method, _ request: some WireMessage & Sendable, session: SessionTag?, tries: inout Int
    ) async throws -> Response {
        let deadline = ContinuousClock.now + options.retryFor
        var member = preferred.withLockedValue { $0 }
        var attempt = 0
        while true {
            tries += 1
            do {
                let response: Response = try await clients[member].call(
                    method, request, timeout: Self.timeAmount(options.callTimeout), session: session)
                preferred.withLockedValue { $0 = member }
                return response
            } catch let error as RPCError {
                let retryable = Self.retryable(error, method: method, inSession: session != nil)
                guard retryable, ContinuousClock.now < deadline else { throw error }
                if let leader = error.detail?.leaderAddress, let index = members.firstIndex(of: leader) {
                    member = index
                } else {
                    member = (member + 1) % members.count
                }
                attempt += 1
                let advised = error.detail.map { Duration.milliseconds(Int64($0.retryAfterMs)) } ?? .zero
                let backoff = Duration.milliseconds(min(500, 20 * attempt))
                // Never past the deadline, whatever a refusal advises.
                try await Task.sleep(for: min(max(advised, backoff), ContinuousClock.now.duration(to: deadline)))
            }
        }
    }

    /// Whether a failed try may be sent again: a refusal before anything was applied (no
    /// leader, a leader change) always; a lost answer (a deadline, a connection gone after the
    /// call was sent) only for a read or a session's write, which applies once however often
    /// it is sent; a session full of answers not yet acknowledged, once older writes finish.
    static func retryable(_ error: RPCError, method: Method, inSession: Bool) -> Bool {
        switch error.status {
        case .unavailable, .aborted: return true
        case .failedPrecondition: return inSession && error.detail?.session == "full"
        case .deadlineExceeded: return inSession || [.get, .status].contains(method)
        default: return false
        }
    }

    static func milliseconds(_ duration: Duration) -> UInt64 {
        let (seconds, attoseconds) = duration.components
        return UInt64(max(1, seconds * 1_000 + attoseconds / 1_000_000_000_000_000))
    }

    static func timeAmount(_ duration: Duration) -> TimeAmount {
        .milliseconds(Int64(milliseconds(duration)))
    }
}
