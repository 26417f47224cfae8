import CacheStore
import RaftWire
import Testing

private func setEntry(_ index: UInt64, _ key: String, _ value: String) throws -> Entry {
    Entry(term: 1, index: index, type: .command, data: try CacheStore.setCommand(key: Array(key.utf8), value: Array(value.utf8)))
}

private func deleteEntry(_ index: UInt64, _ key: String) throws -> Entry {
    Entry(term: 1, index: index, type: .command, data: try CacheStore.deleteCommand(key: Array(key.utf8)))
}

@Suite("Cache store")
struct CacheStoreTests {
    @Test("set, overwrite and delete, in log order")
    func applyCommands() throws {
        let store = CacheStore()
        #expect(store.apply(try setEntry(1, "a", "1")) == .set)
        #expect(store.apply(try setEntry(2, "a", "22")) == .set)
        #expect(store.apply(Entry(term: 1, index: 3, type: .noop)) == .none)
        #expect(store.get(Array("a".utf8)).value?.bytes == Array("22".utf8))
        #expect(store.get(Array("a".utf8)).appliedIndex == 3)
        #expect(store.apply(try deleteEntry(4, "a")) == .deleted(existed: true))
        #expect(store.apply(try deleteEntry(5, "a")) == .deleted(existed: false))
        #expect(store.get(Array("a".utf8)).value?.bytes == nil)
        #expect(store.byteCount == 0)
        #expect(store.appliedIndex == 5)
    }

    @Test("commands are compact protobuf: a set of a 5-byte key and value is 14 bytes")
    func compactCommands() throws {
        #expect(try CacheStore.setCommand(key: Array("hello".utf8), value: Array("world".utf8)).count == 14)
    }

    @Test("a command that does not decode changes nothing, the same way on every replica")
    func malformed() {
        let store = CacheStore()
        #expect(store.apply(Entry(term: 1, index: 1, type: .command, data: [0xFF, 0xFF])) == .malformed)
        #expect(store.count == 0)
        #expect(store.appliedIndex == 1)
    }

    @Test("binary keys and values, empty values")
    func binary() throws {
        let store = CacheStore()
        let key: [UInt8] = [0, 0xFF, 0x80]
        store.apply(Entry(term: 1, index: 1, data: try CacheStore.setCommand(key: key, value: [])))
        #expect(store.get(key).value?.bytes == [])
    }

    @Test("a snapshot of 100,000 keys, written and restored in small chunks")
    func snapshotRoundTrip() throws {
        let store = CacheStore()
        for i in 1...100_000 as ClosedRange<UInt64> {
            store.apply(try setEntry(i, "key-\(i)", String(repeating: "v", count: Int(i % 50))))
        }
        var chunks: [[UInt8]] = []
        let index = try store.writeSnapshot(chunkSize: 64 * 1024) { chunks.append($0) }
        #expect(index == 100_000)
        #expect(chunks.count > 10)
        #expect(chunks.dropLast().allSatisfy { $0.count < 64 * 1024 + 200 })
        let bytes = Array(chunks.joined())
        let restored = CacheStore()
        try restored.restoreSnapshot(size: UInt64(bytes.count)) { offset, count in
            Array(bytes[Int(offset)..<min(bytes.count, Int(offset) + min(count, 10_000))])
        }
        #expect(restored.appliedIndex == 100_000)
        #expect(restored.count == 100_000)
        #expect(restored.byteCount == store.byteCount)
        #expect(restored.get(Array("key-77".utf8)).value?.bytes == Array(String(repeating: "v", count: 27).utf8))
        // Applying goes on from the snapshot's index.
        #expect(restored.apply(try setEntry(100_001, "new", "x")) == .set)
    }

    @Test("writes go on while a snapshot is written, and do not show up in it")
    func snapshotIsFrozen() throws {
        let store = CacheStore()
        store.apply(try setEntry(1, "a", "1"))
        var next: UInt64 = 2
        var chunks: [[UInt8]] = []
        _ = try store.writeSnapshot(chunkSize: 1) { chunk in
            chunks.append(chunk)
            store.apply(try setEntry(next, "b\(next)", "x"))
            next += 1
        }
        let bytes = Array(chunks.joined())
        let restored = CacheStore()
        try restored.restoreSnapshot(size: UInt64(bytes.count)) { offset, count in
            Array(bytes[Int(offset)..<min(bytes.count, Int(offset) + count)])
        }
        #expect(restored.count == 1)
        #expect(restored.appliedIndex == 1)
        #expect(store.count > 1)
    }

    @Test("a damaged snapshot is refused and leaves the map as it was")
    func damagedSnapshot() throws {
        let store = CacheStore()
        store.apply(try setEntry(1, "keep", "me"))
        var bytes: [UInt8] = []
        let source = CacheStore()
        source.apply(try setEntry(1, "a", "1"))
        _ = try source.writeSnapshot { bytes += $0 }
        for cut in [0, 8, 20, bytes.count - 1] {
            let damaged = Array(bytes.prefix(cut))
            #expect(throws: CacheSnapshotError.self) {
                try store.restoreSnapshot(size: UInt64(damaged.count)) { offset, count in
                    Array(damaged[Int(offset)..<min(damaged.count, Int(offset) + count)])
                }
            }
        }
        // A length field claiming more than the snapshot holds.
        var lying = bytes
        lying[24] = 0xFF
        lying[25] = 0xFF
        #expect(throws: CacheSnapshotError.self) {
            try store.restoreSnapshot(size: UInt64(lying.count)) { offset, count in
                Array(lying[Int(offset)..<min(lying.count, Int(offset) + count)])
            }
        }
        #expect(store.get(Array("keep".utf8)).value?.bytes == Array("me".utf8))
    }

    @Test("the digest depends on the pairs held and their versions, not on the order in which shards hold them")
    func digest() throws {
        let first = CacheStore(), second = CacheStore()
        first.apply(try setEntry(1, "a", "1"))
        first.apply(try setEntry(2, "b", "2"))
        first.apply(try setEntry(3, "c", "3"))
        first.apply(try deleteEntry(4, "c"))
        second.apply(try setEntry(1, "a", "1"))
        second.apply(try setEntry(2, "b", "2"))
        second.apply(try setEntry(3, "c", "3"))
        second.apply(try deleteEntry(4, "c"))
        #expect(first.summary.digest == second.summary.digest)
        #expect(first.summary.count == 2 && first.summary.bytes == 4)
        // The same pairs written by other entries: other versions, another digest.
        let other = CacheStore()
        other.apply(try setEntry(1, "b", "2"))
        other.apply(try setEntry(2, "a", "1"))
        other.apply(Entry(term: 1, index: 3, type: .noop))
        other.apply(Entry(term: 1, index: 4, type: .noop))
        #expect(other.summary.count == 2 && other.summary.bytes == 4)
        #expect(other.summary.digest != first.summary.digest)
        second.apply(try setEntry(5, "b", "3"))
        #expect(first.summary.digest != second.summary.digest)
        // Restored from a snapshot, the digest is the same.
        var bytes: [UInt8] = []
        _ = try first.writeSnapshot { bytes += $0 }
        let restored = CacheStore()
        try restored.restoreSnapshot(size: UInt64(bytes.count)) { offset, count in
            Array(bytes[Int(offset)..<min(bytes.count, Int(offset) + count)])
        }
        #expect(restored.summary.digest == first.summary.digest)
    }

    @Test("a key's version: created by its first set, modified by each, reset by a delete; kept by snapshots")
    func versions() throws {
        let store = CacheStore()
        let key = Array("k".utf8)
        store.apply(try setEntry(1, "k", "1"))
        #expect(store.get(key).value?.version == KeyVersion(createIndex: 1, modIndex: 1))
        store.apply(try setEntry(2, "other", "x"))
        store.apply(try setEntry(3, "k", "2"))
        #expect(store.get(key).value?.version == KeyVersion(createIndex: 1, modIndex: 3))
        store.apply(try deleteEntry(4, "k"))
        store.apply(try setEntry(5, "k", "3"))
        #expect(store.get(key).value?.version == KeyVersion(createIndex: 5, modIndex: 5))
        var bytes: [UInt8] = []
        _ = try store.writeSnapshot { bytes += $0 }
        let restored = CacheStore()
        try restored.restoreSnapshot(size: UInt64(bytes.count)) { offset, count in
            Array(bytes[Int(offset)..<min(bytes.count, Int(offset) + count)])
        }
        #expect(restored.get(key).value?.version == KeyVersion(createIndex: 5, modIndex: 5))
        #expect(restored.get(Array("other".utf8)).value?.version == KeyVersion(createIndex: 2, modIndex: 2))
    }

    @Test("a conditional write applies only if its condition holds, and otherwise says the key's version")
    func conditions() throws {
        let store = CacheStore()
        let key = Array("k".utf8)
        func entry(_ index: UInt64, _ command: Command) throws -> Entry {
            Entry(term: 1, index: index, type: .command, data: try command.wireBytes())
        }
        #expect(store.apply(try entry(1, Command(op: .set, key: key, value: [1], condition: .modIndex(1)))) == .conditionFailed(current: nil))
        #expect(store.apply(try entry(2, Command(op: .set, key: key, value: [2], condition: .absent))) == .set)
        let created = KeyVersion(createIndex: 2, modIndex: 2)
        #expect(store.apply(try entry(3, Command(op: .set, key: key, value: [3], condition: .absent))) == .conditionFailed(current: created))
        #expect(store.apply(try entry(4, Command(op: .set, key: key, value: [4], condition: .modIndex(3)))) == .conditionFailed(current: created))
        #expect(store.apply(try entry(5, Command(op: .set, key: key, value: [5], condition: .modIndex(2)))) == .set)
        #expect(store.get(key).value?.bytes == [5])
        #expect(store.get(key).value?.version == KeyVersion(createIndex: 2, modIndex: 5))
        #expect(store.apply(try entry(6, Command(op: .delete, key: key, condition: .modIndex(2)))) == .conditionFailed(
            current: KeyVersion(createIndex: 2, modIndex: 5)))
        #expect(store.apply(try entry(7, Command(op: .delete, key: key, condition: .modIndex(5)))) == .deleted(existed: true))
        #expect(store.get(key).value == nil)
        #expect(store.appliedIndex == 7)
    }

    @Test("an increment adds to a decimal value, counts a missing key as 0, and refuses what is not a number or would overflow")
    func increments() throws {
        let store = CacheStore()
        func incr(_ index: UInt64, _ key: String, _ by: Int64) throws -> CacheStore.Outcome {
            store.apply(Entry(term: 1, index: index, type: .command, data: try Command(op: .incr, key: Array(key.utf8), by: by).wireBytes()))
        }
        #expect(try incr(1, "n", 5) == .incremented(to: 5))
        #expect(try incr(2, "n", -7) == .incremented(to: -2))
        #expect(store.get(Array("n".utf8)).value?.bytes == Array("-2".utf8))
        #expect(store.get(Array("n".utf8)).value?.version == KeyVersion(createIndex: 1, modIndex: 2))
        store.apply(try setEntry(3, "big", String(Int64.max)))
        #expect(try incr(4, "big", 1) == .notIncremented(reason: "\(Int64.max) + 1 is outside the 64-bit range"))
        #expect(try incr(5, "big", Int64.min) == .incremented(to: -1))
        var next: UInt64 = 6
        for text in ["", "x", "+1", "1.5", " 1", "--1", "-", "99999999999999999999", "9223372036854775808"] {
            store.apply(try setEntry(next, "odd", text))
            #expect(try incr(next + 1, "odd", 1) == .notIncremented(reason: "the value is not a decimal 64-bit integer"), "\(text)")
            #expect(store.get(Array("odd".utf8)).value?.bytes == Array(text.utf8))
            next += 2
        }
        #expect(store.get(Array("big".utf8)).value?.bytes == Array("-1".utf8))
    }

    @Test("a snapshot whose versions cannot be is refused: modified after its index, or before created")
    func impossibleVersions() throws {
        let source = CacheStore()
        source.apply(try setEntry(1, "k", "v"))
        var bytes: [UInt8] = []
        _ = try source.writeSnapshot { bytes += $0 }
        // The last 32 bytes are the only pair's create and mod index and its expiry, then the
        // number of client sessions (none).
        for (create, mod) in [(UInt64(1), UInt64(2)), (2, 1)] {
            var changed = Array(bytes.dropLast(32))
            changed.appendLittleEndian(create)
            changed.appendLittleEndian(mod)
            changed.appendLittleEndian(UInt64(0))
            changed.appendLittleEndian(UInt64(0))
            #expect(throws: CacheSnapshotError.self) {
                try CacheStore().restoreSnapshot(size: UInt64(changed.count)) { offset, count in
                    Array(changed[Int(offset)..<min(changed.count, Int(offset) + count)])
                }
            }
        }
    }

    @Test("a snapshot from before versions (RCKV0001) loads, its keys at version 0/0")
    func unversionedSnapshot() throws {
        var bytes = Array("RCKV0001".utf8)
        bytes.appendLittleEndian(UInt64(7))
        bytes.appendLittleEndian(UInt64(1))
        bytes.appendLittleEndian(UInt32(1))
        bytes += Array("k".utf8)
        bytes.appendLittleEndian(UInt32(2))
        bytes += Array("v1".utf8)
        let store = CacheStore()
        try store.restoreSnapshot(size: UInt64(bytes.count)) { offset, count in
            Array(bytes[Int(offset)..<min(bytes.count, Int(offset) + count)])
        }
        #expect(store.appliedIndex == 7)
        #expect(store.get(Array("k".utf8)).value?.bytes == Array("v1".utf8))
        #expect(store.get(Array("k".utf8)).value?.version == KeyVersion(createIndex: 0, modIndex: 0))
    }
}
