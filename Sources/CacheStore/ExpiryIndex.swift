import RaftWire

/// Which keys expire when, found without scanning the map: every key with a time to live sits
/// in the bucket of the second it expires in, and leaves it when it is set again, deleted or
/// removed. Buckets are taken oldest first (a heap of their seconds), and a bucket is walked in
/// steps, so the leader can collect a million keys that expire in the same second a batch at a
/// time. Derived from the map: every replica keeps its own, and a snapshot rebuilds it.
struct ExpiryIndex: Sendable {
    private var buckets: [UInt64: PairTable] = [:]
    /// The second of every bucket, once each (a bucket emptied stays here until it comes up).
    private var seconds = MinHeap<UInt64>()
    /// Keys with a time to live.
    private(set) var count = 0

    /// Where a walk through the due keys stands: the leader's, between batches.
    struct Cursor: Sendable {
        var second: UInt64 = 0
        var slot = 0
    }

    mutating func add(_ pair: Pair) {
        guard pair.expiresAt != 0 else { return }
        let second = pair.expiresAt / 1_000
        if buckets[second] == nil {
            buckets[second] = PairTable()
            seconds.insert(second, key: second)
        }
        if buckets[second]!.insert(pair) == nil { count += 1 }
    }

    mutating func remove(_ pair: Pair) {
        guard pair.expiresAt != 0 else { return }
        let second = pair.expiresAt / 1_000
        let removed = pair.withKey { key in buckets[second]?.remove(key, hash: pair.hash) }
        guard removed != nil else { return }
        count -= 1
        if buckets[second]?.count == 0 { buckets[second] = nil }
    }

    /// Up to `limit` pairs that have expired by `now`, from the oldest bucket, continuing the
    /// walk `cursor` describes. Buckets found empty are dropped on the way. A walk that reaches
    /// a bucket's end starts over at the next call: pairs moved behind it are met then.
    mutating func due(by now: UInt64, limit: Int, cursor: inout Cursor) -> [Pair] {
        while let second = seconds.minKey, second <= now / 1_000 {
            guard let bucket = buckets[second] else {
                _ = seconds.popAll(through: second)
                continue
            }
            if cursor.second != second { cursor = Cursor(second: second, slot: 0) }
            let (pairs, next) = bucket.pairs(from: cursor.slot, limit: limit) { $0.hasExpired(by: now) }
            cursor.slot = next < bucket.slotCount ? next : 0
            return pairs
        }
        return []
    }

    /// Every key's bucket again, from the map (after a snapshot replaced it).
    init(of map: ShardedMap) {
        map.forEachPair { add($0) }
    }

    init() {}
}
