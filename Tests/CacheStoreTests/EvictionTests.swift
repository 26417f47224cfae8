import CacheStore
import RaftWire
import Testing

private func key(_ text: String) -> [UInt8] { Array(text.utf8) }

@Suite("Eviction")
struct EvictionTests {
    /// 1,000 keys of which the first 100 are read often: the policies' choices.
    private func store(ttlEvery: Int = 1) throws -> CommandFeed {
        let feed = CommandFeed()
        for i in 0..<1_000 {
            try feed.apply(Command(op: .set, key: key("k\(i)"), value: key("v"), nowMs: 1_000_000, ttlMs: i % ttlEvery == 0 ? 10_000_000 + UInt64(i) * 1_000 : 0))
        }
        for round in 0..<20 {
            for i in 0..<100 { _ = feed.store.get(key("k\(i)"), now: 1_000_000 + 120_000 + UInt64(round)) }
        }
        return feed
    }

    private func chosen(_ feed: CommandFeed, _ policy: EvictionPolicy, count: Int = 100) -> [Int] {
        feed.store.evictionChoices(policy: policy, bytes: UInt64(count) * (CacheStore.entryOverhead + 6), limit: count, now: 1_000_000 + 180_000)
            .map { Int(String(decoding: $0.key.dropFirst(), as: UTF8.self))! }
    }

    @Test("LRU and LFU leave the keys read often; a choice names the version it saw")
    func recentAndFrequentStay() throws {
        for policy in [EvictionPolicy.allKeysLRU, .allKeysLFU, .volatileLRU] {
            let feed = try store()
            let picks = chosen(feed, policy)
            #expect(picks.count >= 90, "\(policy)")
            #expect(picks.filter { $0 < 100 }.count <= 2, "\(policy): \(picks.filter { $0 < 100 })")
            #expect(Set(picks).count == picks.count)
        }
        let feed = try store()
        let choice = feed.store.evictionChoices(policy: .allKeysLRU, bytes: 1, limit: 1, now: 1_200_000)[0]
        #expect(feed.store.get(choice.key).value?.version.modIndex == choice.modIndex)
    }

    @Test("volatile-ttl takes keys near their expiry; volatile policies take only keys with a TTL; noeviction takes none")
    func volatilePolicies() throws {
        let feed = try store(ttlEvery: 2)
        let picks = chosen(feed, .volatileTTL, count: 50)
        #expect(!picks.isEmpty)
        #expect(picks.allSatisfy { $0 % 2 == 0 })
        // Sampled, so near rather than nearest: most come from the first half of the expiries.
        #expect(picks.filter { $0 < 500 }.count * 10 >= picks.count * 8)
        #expect(chosen(feed, .volatileLRU).allSatisfy { $0 % 2 == 0 })
        #expect(chosen(feed, .noEviction).isEmpty)
        let plain = CommandFeed()
        try plain.apply(Command(op: .set, key: key("a"), value: key("v")))
        #expect(plain.store.evictionChoices(policy: .volatileLRU, bytes: 1_000, limit: 10, now: 0).isEmpty)
    }

    @Test("an evict command removes a key only at the version chosen")
    func evictAtVersion() throws {
        let feed = CommandFeed()
        try feed.apply(Command(op: .set, key: key("a"), value: key("1")))
        try feed.apply(Command(op: .set, key: key("b"), value: key("1")))
        try feed.apply(Command(op: .set, key: key("b"), value: key("2")))
        #expect(try feed.apply(Command(op: .evict, keys: [key("a"), key("b")], modIndexes: [1, 2])) == .removed(count: 1))
        #expect(feed.value("a") == nil && feed.value("b") == "2")
        #expect(feed.store.summary.evicted == 1)
        #expect(try feed.apply(Command(op: .evict, keys: [key("b")], modIndexes: [])) == .malformed)
    }

    @Test("memory used counts keys, values and the per-key overhead")
    func memoryUsed() throws {
        let feed = CommandFeed()
        try feed.apply(Command(op: .set, key: key("abc"), value: Array(repeating: 1, count: 100)))
        #expect(feed.store.summary.memoryUsed == 103 + CacheStore.entryOverhead)
    }
}
