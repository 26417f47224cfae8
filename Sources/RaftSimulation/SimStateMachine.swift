import CacheStore
import RaftStorage
import RaftWire

/// The replicated state machine of the simulation: the production CacheStore, so its versions,
/// conditional writes, transactions, expiry and eviction are checked to come out the same on
/// every replica, through crashes, snapshots and installs; and a running hash of every entry
/// applied, so two replicas whose logs differ are caught at the first index where they do.
final class SimStateMachine {
    private let store = CacheStore()
    private(set) var history: UInt64 = 0

    var appliedIndex: UInt64 { store.appliedIndex }
    /// The history, the map and the client sessions together: equal on replicas at the same index.
    var hash: UInt64 { history ^ store.summary.digest ^ store.sessionsDigest }

    @discardableResult
    func apply(_ entry: Entry) -> CacheStore.Outcome {
        history = Self.mix(history, entry.term, entry.index, entry.data)
        return store.apply(entry)
    }

    /// The key's version in this replica, if it holds the key.
    func version(of key: [UInt8]) -> KeyVersion? {
        store.get(key).value?.version
    }

    static func mix(_ hash: UInt64, _ term: UInt64, _ index: UInt64, _ data: [UInt8]) -> UInt64 {
        var h = hash ^ 0xCBF2_9CE4_8422_2325
        for value in [term, index] + data.map(UInt64.init) {
            h = (h ^ value) &* 0x100_0000_01B3
        }
        return h
    }

    /// A snapshot: the history hash (8 bytes, little-endian), then the CacheStore's snapshot.
    func serialized() -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.appendLittleEndian(history)
        _ = try? store.writeSnapshot { bytes += $0 }
        return bytes
    }

    init() {}

    init(snapshot bytes: [UInt8]) {
        history = bytes.withUnsafeBytes { $0.loadLittleEndian(at: 0) }
        let data = Array(bytes.dropFirst(8))
        do {
            try store.restoreSnapshot(size: UInt64(data.count)) { offset, count in data.chunk(at: offset, count: count) }
        } catch {
            fatalError("a simulated snapshot does not load: \(error)")
        }
    }

    /// What the leader proposes to keep the cache a cache, at `now` (simulated milliseconds):
    /// the removal of keys that have expired, or now and then the eviction of a key at the
    /// version the leader holds (or an older one, which must change nothing).
    func maintenance<R: RandomNumberGenerator>(now: UInt64, rng: inout R) -> [UInt8]? {
        // Sorted: which keys are due is the same everywhere, the order they are found in is not.
        let due = store.expiredKeys(by: now, limit: 1_000).sorted { $0.lexicographicallyPrecedes($1) }
        if !due.isEmpty { return try? Command(op: .expire, nowMs: now, keys: due).wireBytes() }
        guard Int.random(in: 0..<4, using: &rng) == 0 else { return nil }
        let key = Self.key(&rng)
        guard let version = version(of: key) else { return nil }
        let modIndex = Bool.random(using: &rng) ? version.modIndex : max(1, version.modIndex - 1)
        return try? Command(op: .evict, nowMs: now, keys: [key], modIndexes: [modIndex]).wireBytes()
    }

    private static func key<R: RandomNumberGenerator>(_ rng: inout R) -> [UInt8] {
        Array("k\(Int.random(in: 0..<10, using: &rng))".utf8)
    }

    /// A client's write at `now` (simulated milliseconds): a set (some with a time to live),
    /// delete, increment, change of TTL or transaction on a few keys, some conditional on a
    /// version `known` (as a client would have read it) or on the key being absent.
    static func command<R: RandomNumberGenerator>(number: Int, now: UInt64, known: (([UInt8]) -> KeyVersion?), rng: inout R) -> [UInt8] {
        let key = Self.key(&rng)
        let value = Array("v\(number)".utf8)
        var command: Command
        switch Int.random(in: 0..<26, using: &rng) {
        case 0..<3: command = Command(op: .delete, key: key)
        case 3..<6: command = Command(op: .set, key: key, value: value, condition: .absent)
        case 6..<9:
            // Sometimes the version the leader holds (it may change before this applies), sometimes an old one.
            let index = known(key)?.modIndex ?? UInt64.random(in: 1...10, using: &rng)
            command = Command(op: .set, key: key, value: value, condition: .modIndex(Bool.random(using: &rng) || index <= 1 ? index : index - 1))
        case 9: command = Command(op: .delete, key: key, condition: .modIndex(max(1, known(key)?.modIndex ?? 1)))
        case 10..<12:
            // Counters, mostly numbers; an increment of a key holding "v..." is refused alike everywhere.
            let counter = Bool.random(using: &rng) ? Array("n\(Int.random(in: 0..<3, using: &rng))".utf8) : key
            command = Command(op: .incr, key: counter, by: Int64.random(in: -3...3, using: &rng))
        case 20..<22: command = Command(op: .set, key: key, value: value, ttlMs: UInt64.random(in: 1...3_000, using: &rng))
        case 22: command = Command(op: .setTTL, key: key, ttlMs: UInt64.random(in: 0...3_000, using: &rng))
        case 23..<25:
            // A lock on the key: taken (with a TTL) if absent, else read.
            command = Command(op: .txn, txn: TxnRequest(
                compares: [Compare(key: key, target: .exists, result: .notEqual)],
                success: [KeyOp(type: .set, key: key, value: value, ttlMs: UInt64.random(in: 0...2_000, using: &rng))],
                failure: [KeyOp(type: .get, key: key)]))
        case 25:
            // A batch: compare-and-set on one key's version, and a delete of another.
            command = Command(op: .txn, txn: TxnRequest(
                compares: [Compare(key: key, target: .modIndex, result: .equal, modIndex: known(key)?.modIndex ?? 0)],
                success: [KeyOp(type: .set, key: key, value: value), KeyOp(type: .delete, key: Self.key(&rng))]))
        default: command = Command(op: .set, key: key, value: value)
        }
        command.nowMs = now
        return (try? command.wireBytes()) ?? []
    }
}
