// The messages of Protos/kv.proto. Field meanings are documented there.

public enum Consistency: UInt32, Sendable, CaseIterable {
    case linearizable = 0
    case lease = 1
    case stale = 2
}

public struct GetRequest: Sendable, Equatable {
    public var key: [UInt8]
    public var consistency: Consistency

    public init(key: [UInt8] = [], consistency: Consistency = .linearizable) {
        self.key = key
        self.consistency = consistency
    }
}

public struct GetResponse: Sendable, Equatable {
    public var value: [UInt8]
    public var appliedIndex: UInt64
    public var leaderContactAgeMs: UInt64
    public var createIndex: UInt64
    public var modIndex: UInt64
    /// Until the key expires (0: it does not).
    public var ttlMs: UInt64

    public init(
        value: [UInt8] = [], appliedIndex: UInt64 = 0, leaderContactAgeMs: UInt64 = 0, createIndex: UInt64 = 0,
        modIndex: UInt64 = 0, ttlMs: UInt64 = 0
    ) {
        self.value = value
        self.appliedIndex = appliedIndex
        self.leaderContactAgeMs = leaderContactAgeMs
        self.createIndex = createIndex
        self.modIndex = modIndex
        self.ttlMs = ttlMs
    }
}

public struct SetRequest: Sendable, Equatable {
    public var key: [UInt8]
    public var value: [UInt8]
    public var condition: WriteCondition
    /// Time to live (0: none).
    public var ttlMs: UInt64

    public init(key: [UInt8] = [], value: [UInt8] = [], condition: WriteCondition = .none, ttlMs: UInt64 = 0) {
        self.key = key
        self.value = value
        self.condition = condition
        self.ttlMs = ttlMs
    }
}

public struct SetResponse: Sendable, Equatable {
    public var index: UInt64

    public init(index: UInt64 = 0) {
        self.index = index
    }
}

public struct DeleteRequest: Sendable, Equatable {
    public var key: [UInt8]
    /// `.none` or `.modIndex`: a delete has no create-only form.
    public var condition: WriteCondition

    public init(key: [UInt8] = [], condition: WriteCondition = .none) {
        self.key = key
        self.condition = condition
    }
}

public struct DeleteResponse: Sendable, Equatable {
    public var index: UInt64

    public init(index: UInt64 = 0) {
        self.index = index
    }
}

public struct StatusRequest: Sendable, Equatable {
    public init() {}
}

public struct SnapshotRequest: Sendable, Equatable {
    public init() {}
}

public struct OpenSessionRequest: Sendable, Equatable {
    public init() {}
}

public struct OpenSessionResponse: Sendable, Equatable {
    public var sessionID: UInt64
    /// The session ends after this long without a write.
    public var timeoutMs: UInt64

    public init(sessionID: UInt64 = 0, timeoutMs: UInt64 = 0) {
        self.sessionID = sessionID
        self.timeoutMs = timeoutMs
    }
}

public struct BackupRequest: Sendable, Equatable {
    public init() {}
}

/// The next bytes of a backup file (Method.backup streams them).
public struct BackupChunk: Sendable, Equatable {
    public var data: [UInt8]

    public init(data: [UInt8] = []) {
        self.data = data
    }
}

public enum Role: UInt32, Sendable, CaseIterable {
    case follower = 0
    case preCandidate = 1
    case candidate = 2
    case leader = 3
    case learner = 4
}

public struct StatusResponse: Sendable, Equatable {
    public var nodeID: String
    public var role: Role
    public var term: UInt64
    public var leaderID: String
    public var leaderAddress: String
    public var members: [Server]
    public var commitIndex: UInt64
    public var appliedIndex: UInt64
    public var lastLogIndex: UInt64
    public var snapshotIndex: UInt64
    public var snapshot: SnapshotStatus
    /// On the leader: every other member's progress.
    public var followers: [FollowerStatus]
    /// What the map holds at `appliedIndex`.
    public var keys: UInt64
    public var bytes: UInt64
    public var digest: UInt64
    /// Milliseconds since this node last heard from a leader (0 on the leader).
    public var leaderContactAgeMs: UInt64
    /// What the map counts toward the memory bound, the bound (0: none) and its policy.
    public var memoryUsedBytes: UInt64
    public var maxMemoryBytes: UInt64
    public var evictionPolicy: String
    /// Keys removed by expiry and by eviction since this process started; keys with a TTL.
    public var expiredKeys: UInt64
    public var evictedKeys: UInt64
    public var expiringKeys: UInt64
    /// Client sessions open.
    public var clientSessions: UInt64

    public init(
        nodeID: String = "", role: Role = .follower, term: UInt64 = 0, leaderID: String = "",
        leaderAddress: String = "", members: [Server] = [], commitIndex: UInt64 = 0,
        appliedIndex: UInt64 = 0, lastLogIndex: UInt64 = 0, snapshotIndex: UInt64 = 0,
        snapshot: SnapshotStatus = SnapshotStatus(), followers: [FollowerStatus] = [],
        keys: UInt64 = 0, bytes: UInt64 = 0, digest: UInt64 = 0, leaderContactAgeMs: UInt64 = 0,
        memoryUsedBytes: UInt64 = 0, maxMemoryBytes: UInt64 = 0, evictionPolicy: String = "", expiredKeys: UInt64 = 0,
        evictedKeys: UInt64 = 0, expiringKeys: UInt64 = 0, clientSessions: UInt64 = 0
    ) {
        self.nodeID = nodeID
        self.role = role
        self.term = term
        self.leaderID = leaderID
        self.leaderAddress = leaderAddress
        self.members = members
        self.commitIndex = commitIndex
        self.appliedIndex = appliedIndex
        self.lastLogIndex = lastLogIndex
        self.snapshotIndex = snapshotIndex
        self.snapshot = snapshot
        self.followers = followers
        self.keys = keys
        self.bytes = bytes
        self.digest = digest
        self.leaderContactAgeMs = leaderContactAgeMs
        self.memoryUsedBytes = memoryUsedBytes
        self.maxMemoryBytes = maxMemoryBytes
        self.evictionPolicy = evictionPolicy
        self.expiredKeys = expiredKeys
        self.evictedKeys = evictedKeys
        self.expiringKeys = expiringKeys
        self.clientSessions = clientSessions
    }
}

/// The newest snapshot a node holds, and one it is receiving.
public struct SnapshotStatus: Sendable, Equatable {
    public var index: UInt64
    public var term: UInt64
    public var sizeBytes: UInt64
    /// Since it was taken or installed by this process (0 for one found at start).
    public var ageMs: UInt64
    /// A snapshot arriving from the leader (0: none), and its bytes received so far.
    public var receivingIndex: UInt64
    public var receivedBytes: UInt64

    public init(
        index: UInt64 = 0, term: UInt64 = 0, sizeBytes: UInt64 = 0, ageMs: UInt64 = 0,
        receivingIndex: UInt64 = 0, receivedBytes: UInt64 = 0
    ) {
        self.index = index
        self.term = term
        self.sizeBytes = sizeBytes
        self.ageMs = ageMs
        self.receivingIndex = receivingIndex
        self.receivedBytes = receivedBytes
    }
}

/// A follower's replication progress, as its leader sees it.
public struct FollowerStatus: Sendable, Equatable {
    public var id: String
    public var matchIndex: UInt64
    public var nextIndex: UInt64
    /// Entries behind the leader's last index.
    public var lag: UInt64
    /// "probe", "replicate" or "snapshot".
    public var state: String

    public init(id: String = "", matchIndex: UInt64 = 0, nextIndex: UInt64 = 0, lag: UInt64 = 0, state: String = "") {
        self.id = id
        self.matchIndex = matchIndex
        self.nextIndex = nextIndex
        self.lag = lag
        self.state = state
    }
}

public enum CommandOp: UInt32, Sendable, CaseIterable {
    case set = 0
    case delete = 1
    /// Adds `by` to the key's decimal value.
    case incr = 2
    /// Changes an existing key's time to live.
    case setTTL = 3
    /// The leader's: removes those of `keys` that have expired.
    case expire = 4
    /// The leader's, over the memory bound: removes `keys` still at their `modIndexes`.
    case evict = 5
    /// A transaction, or a batch of writes.
    case txn = 6
    /// Opens a client session (its id: the entry's index).
    case openSession = 7
    /// The leader's: ends those of `sessionIDs` idle for `ttlMs`.
    case expireSessions = 8
}

/// Which client session a write belongs to, and its place in the session's order (the Raft
/// thesis, 6.3): a write is applied once per sequence number; the client has every answer
/// below `ackedBelow`.
public struct SessionTag: Sendable, Equatable, Hashable {
    public var id: UInt64
    public var sequence: UInt64
    public var ackedBelow: UInt64

    public init(id: UInt64, sequence: UInt64, ackedBelow: UInt64 = 0) {
        self.id = id
        self.sequence = sequence
        self.ackedBelow = ackedBelow
    }
}

/// A state-machine command: the data of a `.command` log entry.
public struct Command: Sendable, Equatable {
    public var op: CommandOp
    public var key: [UInt8]
    public var value: [UInt8]
    public var condition: WriteCondition
    /// `.incr`: what to add.
    public var by: Int64
    /// The proposing leader's clock (Unix milliseconds): the entry's time.
    public var nowMs: UInt64
    /// `.set`, `.setTTL`: time to live from `nowMs` (0: none).
    public var ttlMs: UInt64
    /// `.expire`, `.evict`: the keys, and for `.evict` each one's mod index when chosen.
    public var keys: [[UInt8]]
    public var modIndexes: [UInt64]
    /// `.txn`.
    public var txn: TxnRequest?
    /// `.evict` under a volatile policy: keys without a TTL (any more) stay.
    public var onlyExpiring: Bool
    /// A client session's write (nil: none).
    public var session: SessionTag?
    /// `.expireSessions`: the sessions to end if still idle.
    public var sessionIDs: [UInt64]

    public init(
        op: CommandOp = .set, key: [UInt8] = [], value: [UInt8] = [], condition: WriteCondition = .none, by: Int64 = 0,
        nowMs: UInt64 = 0, ttlMs: UInt64 = 0, keys: [[UInt8]] = [], modIndexes: [UInt64] = [], txn: TxnRequest? = nil,
        onlyExpiring: Bool = false, session: SessionTag? = nil, sessionIDs: [UInt64] = []
    ) {
        self.op = op
        self.key = key
        self.value = value
        self.condition = condition
        self.by = by
        self.nowMs = nowMs
        self.ttlMs = ttlMs
        self.keys = keys
        self.modIndexes = modIndexes
        self.txn = txn
        self.onlyExpiring = onlyExpiring
        self.session = session
        self.sessionIDs = sessionIDs
    }
}

public struct IncrRequest: Sendable, Equatable {
    public var key: [UInt8]
    public var by: Int64

    public init(key: [UInt8] = [], by: Int64 = 0) {
        self.key = key
        self.by = by
    }
}

public struct IncrResponse: Sendable, Equatable {
    /// The value after the increment.
    public var value: Int64
    /// The write's log index.
    public var index: UInt64

    public init(value: Int64 = 0, index: UInt64 = 0) {
        self.value = value
        self.index = index
    }
}
