import CacheStore
import RaftWire
import Testing

/// A store fed commands at increasing indexes, each stamped with a leader clock.
final class CommandFeed {
    let store = CacheStore()
    private(set) var index: UInt64 = 0

    @discardableResult
    func apply(_ command: Command) throws -> CacheStore.Outcome {
        index += 1
        return store.apply(Entry(term: 1, index: index, type: .command, data: try command.wireBytes()))
    }

    func value(_ key: String, now: UInt64 = 0) -> String? {
        store.get(Array(key.utf8), now: now).value.map { String(decoding: $0.bytes, as: UTF8.self) }
    }
}

private func key(_ text: String) -> [UInt8] { Array(text.utf8) }

@Suite("Time to live")
struct ExpiryTests {
    @Test("a key expires at its entry's clock plus its TTL: hidden from reads by the reader's clock, gone for writes by the log's")
    func expiresByClock() throws {
        let feed = CommandFeed()
        try feed.apply(Command(op: .set, key: key("a"), value: key("1"), nowMs: 10_000, ttlMs: 500))
        let stored = feed.store.get(key("a"), now: 10_100).value
        #expect(stored?.expiresAt == 10_500)
        #expect(stored?.ttlMs(at: 10_100) == 400)
        #expect(feed.value("a", now: 10_499) == "1")
        #expect(feed.value("a", now: 10_500) == nil)
        // The log's clock has not reached the expiry: a create-only set still finds the key...
        #expect(try feed.apply(Command(op: .set, key: key("a"), value: key("2"), condition: .absent, nowMs: 10_400)) == .conditionFailed(current: KeyVersion(createIndex: 1, modIndex: 1)))
        // ...and once it has, the key is gone for every command, and created anew.
        #expect(try feed.apply(Command(op: .set, key: key("a"), value: key("3"), condition: .absent, nowMs: 10_500)) == .set)
        #expect(feed.store.get(key("a")).value?.version == KeyVersion(createIndex: 3, modIndex: 3))
        #expect(feed.store.get(key("a")).value?.expiresAt == 0)
    }

    @Test("the log's clock never goes back: an entry from a leader whose clock is behind does not revive a key")
    func clockIsMonotonic() throws {
        let feed = CommandFeed()
        try feed.apply(Command(op: .set, key: key("a"), value: key("1"), nowMs: 5_000, ttlMs: 100))
        try feed.apply(Command(op: .set, key: key("b"), value: key("1"), nowMs: 6_000))
        try feed.apply(Command(op: .set, key: key("c"), value: key("1"), nowMs: 1_000))
        #expect(feed.store.logClock == 6_000)
        #expect(try feed.apply(Command(op: .delete, key: key("a"), nowMs: 2_000)) == .deleted(existed: false))
    }

    @Test("a TTL changes or goes without changing value or version; a missing or expired key is not found")
    func setTTL() throws {
        let feed = CommandFeed()
        try feed.apply(Command(op: .set, key: key("a"), value: key("1"), nowMs: 1_000, ttlMs: 100))
        #expect(try feed.apply(Command(op: .setTTL, key: key("a"), nowMs: 1_050, ttlMs: 1_000)) == .ttlChanged)
        #expect(feed.store.get(key("a")).value?.expiresAt == 2_050)
        #expect(feed.store.get(key("a")).value?.version == KeyVersion(createIndex: 1, modIndex: 1))
        #expect(try feed.apply(Command(op: .setTTL, key: key("a"), nowMs: 1_060, ttlMs: 0)) == .ttlChanged)
        #expect(feed.store.get(key("a")).value?.expiresAt == 0)
        #expect(feed.value("a", now: 1_000_000) == "1")
        #expect(try feed.apply(Command(op: .setTTL, key: key("nope"), nowMs: 1_070, ttlMs: 5)) == .notFound)
        try feed.apply(Command(op: .set, key: key("b"), value: key("1"), nowMs: 1_080, ttlMs: 10))
        #expect(try feed.apply(Command(op: .setTTL, key: key("b"), nowMs: 1_090, ttlMs: 5_000)) == .notFound)
    }

    @Test("an increment keeps a live key's TTL; a plain set removes it")
    func incrementKeepsTTL() throws {
        let feed = CommandFeed()
        try feed.apply(Command(op: .set, key: key("n"), value: key("1"), nowMs: 1_000, ttlMs: 1_000))
        #expect(try feed.apply(Command(op: .incr, key: key("n"), by: 2, nowMs: 1_100)) == .incremented(to: 3))
        #expect(feed.store.get(key("n")).value?.expiresAt == 2_000)
        try feed.apply(Command(op: .set, key: key("n"), value: key("7"), nowMs: 1_200))
        #expect(feed.store.get(key("n")).value?.expiresAt == 0)
    }

    @Test("the leader finds what has expired without scanning: oldest first, a batch at a time, and an expire command removes only what has expired")
    func expiredKeys() throws {
        let feed = CommandFeed()
        // 30,000 keys expire in second 100, 30,000 in second 200, 30,000 never.
        for i in 0..<90_000 {
            let ttl: UInt64 = i % 3 == 0 ? 0 : i % 3 == 1 ? 100_000 : 200_000
            try feed.apply(Command(op: .set, key: key("k\(i)"), value: key("v"), nowMs: 0, ttlMs: ttl))
        }
        #expect(feed.store.summary.expiring == 60_000)
        // Due once the second they expire in has passed: the leader never walks a bucket of
        // keys that are not all due.
        #expect(feed.store.expiredKeys(by: 100_999, limit: 1_000).isEmpty)
        #expect(feed.store.expiredKeys(by: 101_000, limit: 1_000).count == 1_000)
        var removed = 0, batches = 0
        while true {
            let due = feed.store.expiredKeys(by: 150_000, limit: 1_000)
            guard !due.isEmpty else { break }
            #expect(due.count <= 1_000)
            #expect(due.allSatisfy { Int(String(decoding: $0.dropFirst(), as: UTF8.self))! % 3 == 1 })
            let outcome = try feed.apply(Command(op: .expire, nowMs: 150_000, keys: due))
            guard case .removed(let count) = outcome else { Issue.record("\(outcome)"); return }
            removed += count
            batches += 1
        }
        #expect(removed == 30_000)
        #expect(batches >= 30 && batches <= 32)
        #expect(feed.store.count == 60_000)
        #expect(feed.store.summary.expired == 30_000)
        // A key named in an expire command that has not expired (set again since) stays.
        try feed.apply(Command(op: .set, key: key("k2"), value: key("again"), nowMs: 150_000))
        #expect(try feed.apply(Command(op: .expire, nowMs: 250_000, keys: [key("k2"), key("k5")])) == .removed(count: 1))
        #expect(feed.value("k2") == "again")
    }

    @Test("expiries travel in snapshots: the restored store finds the same due keys, and an older snapshot loads without expiries")
    func snapshots() throws {
        let feed = CommandFeed()
        for i in 0..<1_000 {
            try feed.apply(Command(op: .set, key: key("k\(i)"), value: key("v"), nowMs: 5_000, ttlMs: i % 2 == 0 ? 1_000 : 0))
        }
        var bytes: [UInt8] = []
        _ = try feed.store.writeSnapshot { bytes += $0 }
        let restored = CacheStore()
        try restored.restoreSnapshot(size: UInt64(bytes.count)) { offset, count in
            Array(bytes[Int(offset)..<min(bytes.count, Int(offset) + count)])
        }
        #expect(restored.summary.digest == feed.store.summary.digest)
        #expect(restored.logClock == 5_000)
        #expect(restored.summary.expiring == 500)
        #expect(Set(restored.expiredKeys(by: 7_000, limit: 10_000)) == Set(feed.store.expiredKeys(by: 7_000, limit: 10_000)))
        #expect(restored.expiredKeys(by: 7_000, limit: 10_000).count == 500)
    }

    @Test("the digest covers expiries: the same pair with another expiry differs")
    func digestCoversExpiry() throws {
        let a = CommandFeed(), b = CommandFeed()
        try a.apply(Command(op: .set, key: key("k"), value: key("v"), nowMs: 1_000, ttlMs: 10))
        try b.apply(Command(op: .set, key: key("k"), value: key("v"), nowMs: 1_000, ttlMs: 11))
        #expect(a.store.summary.digest != b.store.summary.digest)
    }
}
