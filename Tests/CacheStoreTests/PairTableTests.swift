@testable import CacheStore
import RaftWire
import Testing

private let anyVersion = KeyVersion(createIndex: 1, modIndex: 1)

@Suite("The table of pairs")
struct PairTableTests {
    /// Keys whose hashes crowd the last slots of the table, so probes run long and wrap past
    /// the end, and removals shift pairs back across the wrap.
    @Test("inserts, replaces and removes agree with a Dictionary, through collisions, wrap-around and growth", arguments: 0..<20)
    func agreesWithDictionary(seed: Int) {
        var random = SeededNumbers(seed: UInt64(seed))
        var table = PairTable()
        var model: [[UInt8]: [UInt8]] = [:]
        let keys = (0..<200).map { Array("key-\($0)".utf8) }
        // Homes in the last four slots and the first three at every size: one cluster
        // that wraps, holding pairs at home on both sides of the wrap. Bits 40-41 that
        // differ or not: keys of one home whose tags (bits 40-46) differ, and keys that share
        // both.
        let hashes = keys.map { _ in (Int(random.next() % 7) - 4) ^ (Int(random.next() % 3) << 40) }
        for step in 0..<3_000 {
            let which = Int(random.next() % UInt64(keys.count))
            let key = keys[which]
            let hash = hashes[which]
            if random.next() % 3 == 0 {
                let removed = key.withUnsafeBytes { table.remove($0, hash: hash) }
                #expect(removed?.value == model.removeValue(forKey: key), "step \(step)")
            } else {
                let value = Array("v\(step)".utf8)
                let replaced = table.insert(Pair.make(key: key, value: value, hash: hash, version: anyVersion, expiresAt: 0))
                #expect(replaced?.value == model.updateValue(value, forKey: key), "step \(step)")
            }
            #expect(table.count == model.count)
        }
        for (which, key) in keys.enumerated() {
            let found = key.withUnsafeBytes { table.find($0, hash: hashes[which]) }
            #expect(found?.value == model[key])
        }
        var seen: [[UInt8]: [UInt8]] = [:]
        table.forEach { seen[$0.key] = $0.value }
        #expect(seen == model)
    }

    @Test("a copy keeps its pairs while the original changes")
    func copyOnWrite() {
        var table = PairTable()
        for i in 0..<100 { table.insert(Pair.make(key: [UInt8(i)], value: [1], hash: i, version: anyVersion, expiresAt: 0)) }
        let frozen = table
        for i in 0..<100 where i % 2 == 0 { _ = [UInt8(i)].withUnsafeBytes { table.remove($0, hash: i) } }
        table.insert(Pair.make(key: [1], value: [2], hash: 1, version: anyVersion, expiresAt: 0))
        #expect(frozen.count == 100 && table.count == 50)
        #expect([UInt8(1)].withUnsafeBytes { frozen.find($0, hash: 1)?.value } == [1])
        #expect([UInt8(1)].withUnsafeBytes { table.find($0, hash: 1)?.value } == [2])
    }

    @Test("a pair holds any bytes, empty ones too")
    func pairBytes() {
        let pair = Pair.make(key: [], value: [], hash: 0, version: anyVersion, expiresAt: 0)
        #expect(pair.key == [] && pair.value == [])
        let other = Pair.make(key: Array(0...255), value: Array(repeating: 7, count: 1_000), hash: 1, version: anyVersion, expiresAt: 0)
        #expect(other.key == Array(0...255) && other.value == Array(repeating: 7, count: 1_000))
        #expect(StoredValue(pair: other).bytes == other.value)
    }
}

/// A seeded linear congruential generator (Knuth's MMIX constants), so a failing case can
/// be run again; the high bits are the good ones.
struct SeededNumbers {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return state >> 33
    }
}
