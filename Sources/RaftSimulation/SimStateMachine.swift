import CacheStore
import RaftStorage
import RaftWire

/// The replicated state machine of the simulation: the production CacheStore, so its versions
/// and conditional writes are checked to come out the same on every replica, through crashes,
/// snapshots and installs; and a running hash of every entry applied, so two replicas whose
/// logs differ are caught at the first index where they do.
final class SimStateMachine {
    private let store = CacheStore()
    private(set) var history: UInt64 = 0

    var appliedIndex: UInt64 { store.appliedIndex }
    /// The history and the map together: equal on replicas at the same index.
    var hash: UInt64 { history ^ store.summary.digest }

    func apply(_ entry: Entry) {
        history = Self.mix(history, entry.term, entry.index, entry.data)
        store.apply(entry)
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

    /// A client's write: a set, delete or increment of one of a few keys, some conditional on a
    /// version `known` (as a client would have read it) or on the key being absent.
    static func command<R: RandomNumberGenerator>(number: Int, known: (([UInt8]) -> KeyVersion?), rng: inout R) -> [UInt8] {
        let key = Array("k\(Int.random(in: 0..<10, using: &rng))".utf8)
        let value = Array("v\(number)".utf8)
        let command: Command
        switch Int.random(in: 0..<20, using: &rng) {
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
        default: command = Command(op: .set, key: key, value: value)
        }
        return (try? command.wireBytes()) ?? []
    }
}
