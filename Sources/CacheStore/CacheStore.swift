import RaftWire
import Synchronization

/// The replicated state machine: an in-memory map of keys to values, changed only by
/// applying committed log entries in order. Reads may come from any thread.
///
/// Time comes from the log: every command carries the clock of the leader that proposed it,
/// and applying decides expiry by the latest such clock (`logClock`), so every replica holds
/// the same keys at the same index. Reads also hide keys expired by the reading node's clock.
public final class CacheStore: Sendable {
    struct State {
        var values = ShardedMap()
        var appliedIndex: UInt64 = 0
        /// The latest leader clock the log has carried (Unix milliseconds).
        var logClock: UInt64 = 0
        /// Derived from `values`: which keys expire when.
        var expiring = ExpiryIndex()
        /// The leader's walk through the due keys, between batches.
        var expiryCursor = ExpiryIndex.Cursor()
        /// The leader's eviction candidates and its randomness for sampling (not replicated).
        var eviction = EvictionPool()
        /// Since this process started.
        var expiredKeys: UInt64 = 0
        var evictedKeys: UInt64 = 0
        /// What the entry being applied changed.
        var changes: [Change] = []
        /// Client sessions and the answers they may ask for again.
        var sessions = ClientSessions()
    }

    let state = Mutex(State())

    public init() {}

    /// What applying one entry did.
    public enum Outcome: Equatable, Sendable {
        case set
        /// `existed`: the key was there (and had not expired) before.
        case deleted(existed: Bool)
        /// A no-op or configuration entry: nothing in the map changes.
        case none
        /// The command's bytes do not decode; every replica skips it the same way.
        case malformed
        /// The command's condition did not hold: nothing changed. The key's version then
        /// (nil: it did not exist).
        case conditionFailed(current: KeyVersion?)
        /// An increment set the value to this number.
        case incremented(to: Int64)
        /// An increment changed nothing: the value is not a decimal 64-bit integer, or the sum
        /// would leave that range.
        case notIncremented(reason: String)
        /// A key's time to live changed.
        case ttlChanged
        /// The key to change does not exist (or has expired).
        case notFound
        /// The leader's expiry or eviction removed this many keys.
        case removed(count: Int)
        /// A transaction: whether its compares held, and what each operation of the branch
        /// that ran found or did.
        case txn(succeeded: Bool, results: [OpResult])
        /// A client session was opened; its id.
        case sessionOpened(id: UInt64)
        /// A session's write already applied by the entry at `index`: nothing changed now,
        /// and the answer is the first one.
        indirect case repeated(index: UInt64, outcome: Outcome)
        /// A session's write that is not applied (see `SessionRefusal`).
        case sessionRefused(SessionRefusal)
    }

    /// Why a session's write was not applied: nothing changed.
    public enum SessionRefusal: Equatable, Sendable {
        /// No such session: it expired (idle past the leader's timeout) or never was.
        case unknownSession
        /// Its client acknowledged that sequence's answer already: a stale duplicate.
        case alreadyAcknowledged
        /// The session holds `ClientSessions.maxAnswers` answers its client has not acknowledged.
        case tooManyUnacknowledged
        /// `ClientSessionLimits.maxSessions` sessions are open: no more until some end.
        case tooManySessions
    }

    /// What one operation of a transaction found (a get) or did (a set; a delete: whether the
    /// key was there). A get's value is shared with the map, not copied: replicas that only
    /// apply the entry pay nothing for it.
    public struct OpResult: Equatable, Sendable {
        public var found: Bool
        public var value: StoredValue?
        public var version: KeyVersion?
        /// Milliseconds left, by the entry's clock (0: no expiry).
        public var ttlMs: UInt64

        public init(found: Bool, value: StoredValue? = nil, version: KeyVersion? = nil, ttlMs: UInt64 = 0) {
            self.found = found
            self.value = value
            self.version = version
            self.ttlMs = ttlMs
        }

        /// As the wire says it (the value copied).
        public var keyOpResult: KeyOpResult {
            KeyOpResult(
                found: found, value: value?.bytes ?? [], createIndex: version?.createIndex ?? 0, modIndex: version?.modIndex ?? 0,
                ttlMs: ttlMs)
        }
    }

    /// Applies the next committed entry. Entries must come in index order, each once.
    @discardableResult
    public func apply(_ entry: Entry) -> Outcome {
        var changes: [Change] = []
        return apply(entry, changes: &changes)
    }

    /// Applies the next committed entry, and says what it changed in `changes` (replaced by
    /// an array of its own: a watch history keeps it, so it holds no spare capacity).
    public func apply(_ entry: Entry, changes: inout [Change]) -> Outcome {
        let command: Command? = entry.type == .command ? try? Command(wireBytes: entry.data) : nil
        return state.withLock { state in
            precondition(entry.index == state.appliedIndex + 1, "applying \(entry.index) after \(state.appliedIndex)")
            state.appliedIndex = entry.index
            guard entry.type == .command else {
                changes = []
                return .none
            }
            guard let command else {
                changes = []
                return .malformed
            }
            defer {
                changes = state.changes
                state.changes = []
            }
            return state.apply(command, index: entry.index)
        }
    }

    /// The value of `key`, and the index the map had applied when it was read. A key that has
    /// expired by `now` (this node's clock, Unix milliseconds) or by the log's clock is not
    /// there. A read with a clock counts as an access for eviction.
    public func get(_ key: [UInt8], now: UInt64 = 0) -> (value: StoredValue?, appliedIndex: UInt64) {
        let (values, appliedIndex) = read([key], now: now)
        return (values[0]?.value, appliedIndex)
    }

    /// A key found by `read`: its value, and the milliseconds it has left (0: no expiry).
    public typealias Found = (value: StoredValue, ttlMs: UInt64)

    /// `get` of several keys at once, all at one applied index.
    public func read(_ keys: [[UInt8]], now: UInt64) -> (values: [Found?], appliedIndex: UInt64) {
        state.withLock { state in
            let clock = max(now, state.logClock)
            let values = keys.map { key -> Found? in
                guard let pair = state.values.pair(key), !pair.hasExpired(by: clock) else { return nil }
                if now > 0 { state.eviction.touch(pair, now: now) }
                let value = StoredValue(pair: pair)
                return (value, value.ttlMs(at: clock))
            }
            return (values, state.appliedIndex)
        }
    }

    /// Keys that expired in a second that has passed by `now`, up to `limit` and about
    /// `keyBytes` of them (so the entry removing them stays small), oldest first: what the
    /// leader proposes to remove next. Continues where the last call stopped.
    public func expiredKeys(by now: UInt64, limit: Int, keyBytes: Int = 1 << 20) -> [[UInt8]] {
        state.withLock { state in
            state.expiring.due(by: now, limit: limit, keyBytes: keyBytes, cursor: &state.expiryCursor).map(\.key)
        }
    }

    /// Client sessions idle for `idleMs` by `now` (the leader's clock), up to `limit`: what
    /// the leader proposes to end.
    public func idleSessions(idleMs: UInt64, now: UInt64, limit: Int) -> [UInt64] {
        state.withLock { $0.sessions.idle(idleMs: idleMs, now: now, limit: limit) }
    }

    /// Client sessions open.
    public var sessionCount: Int { state.withLock { $0.sessions.table.count } }

    /// A fingerprint of the client sessions and their answers (equal on replicas at the same
    /// index); it walks them all.
    public var sessionsDigest: UInt64 { state.withLock { $0.sessions.digest } }

    /// Whether the session's write `tag` was applied already (its answer is kept): a repeat of
    /// it changes nothing.
    public func hasAnswer(_ tag: SessionTag) -> Bool {
        state.withLock { $0.sessions.table[tag.id]?.answers[tag.sequence] != nil }
    }

    public var appliedIndex: UInt64 { state.withLock { $0.appliedIndex } }
    public var count: Int { state.withLock { $0.values.count } }
    /// Bytes of keys and values held.
    public var byteCount: Int { state.withLock { $0.values.bytes } }
    /// What counts toward the memory bound (see `entryOverhead`).
    public var memoryUsed: UInt64 { state.withLock { $0.memoryUsed } }
    /// The latest leader clock applied (Unix milliseconds).
    public var logClock: UInt64 { state.withLock { $0.logClock } }

    /// What the map holds, at which index: replicas at the same index have the same digest.
    public var summary: Summary {
        state.withLock { state in
            Summary(
                appliedIndex: state.appliedIndex, count: state.values.count, bytes: state.values.bytes, digest: state.values.digest,
                memoryUsed: state.memoryUsed, expiring: state.expiring.count, expired: state.expiredKeys, evicted: state.evictedKeys)
        }
    }

    public struct Summary: Sendable {
        public var appliedIndex: UInt64
        public var count: Int
        public var bytes: Int
        public var digest: UInt64
        /// What counts toward the memory bound (see `entryOverhead`).
        public var memoryUsed: UInt64
        /// Keys with a time to live; keys removed by expiry and by eviction.
        public var expiring: Int
        public var expired: UInt64
        public var evicted: UInt64
    }

    /// What each key costs beside its bytes, as the memory bound counts it: the pair's object
    /// header, lengths, hash, version, expiry and access statistics (72 bytes), the
    /// allocator's rounding and header (about 16), and the map's slot (8 bytes at most 3/4 full).
    public static let entryOverhead: UInt64 = 96

    /// The encoding of a set command, as it goes into the log.
    public static func setCommand(key: [UInt8], value: [UInt8]) throws -> [UInt8] {
        try Command(op: .set, key: key, value: value).wireBytes()
    }

    public static func deleteCommand(key: [UInt8]) throws -> [UInt8] {
        try Command(op: .delete, key: key).wireBytes()
    }
}
