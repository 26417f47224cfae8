import RaftWire

/// Which keys expire when, found without scanning the map: every key with a time to live sits
/// in the bucket of the second it expires in, and leaves it when it is set again, deleted or
/// removed. A bucket is due once its second has passed, so all its keys have expired; due
/// buckets are taken oldest first (a heap of their seconds) and walked in steps, so the leader
/// collects a million keys that expire in the same second a batch at a time, and never walks
/// a bucket whose keys are not all due. Derived from the map: every replica keeps its own, and
/// a snapshot rebuilds it.
struct ExpiryIndex: Sendable {
    private var buckets: [UInt64: PairTable] = [:]
    /// The second of every bucket; also of buckets emptied since, until they come up or the
    /// heap is rebuilt (when those are more than half of it).
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
        let second = pair.expiresAt / 1_000, bucketsBefore = buckets.count
        if buckets[second, default: PairTable()].insert(pair) == nil { count += 1 }
        if buckets.count > bucketsBefore {
            seconds.insert(second, key: second)
            if seconds.count > 2 * buckets.count + 64 { seconds = MinHeap(buckets.keys.map { ($0, $0) }) }
        }
    }

    /// `new` in the index in place of `old` (its key's pair before, if any).
    mutating func replace(_ old: Pair?, with new: Pair) {
        // The same bucket (a key set again within the second): one change to it, not two.
        if let old, old.expiresAt != 0, new.expiresAt != 0, old.expiresAt / 1_000 == new.expiresAt / 1_000 {
            buckets[new.expiresAt / 1_000]?.insert(new)
            return
        }
        if let old { remove(old) }
        add(new)
    }

    mutating func remove(_ pair: Pair) {
        guard pair.expiresAt != 0 else { return }
        let second = pair.expiresAt / 1_000
        let removed = pair.withKey { key in buckets[second]?.remove(key, hash: pair.hash) }
        guard removed != nil else { return }
        count -= 1
        if buckets[second]?.count == 0 { buckets[second] = nil }
    }

    /// Up to `limit` pairs (about `keyBytes` of keys) of the oldest bucket whose second has passed by `now`, continuing the
    /// walk `cursor` describes. Seconds whose buckets are gone are dropped on the way. A walk
    /// that reaches a bucket's end starts over at the next call: pairs moved behind it are met then.
    mutating func due(by now: UInt64, limit: Int, keyBytes: Int, cursor: inout Cursor) -> [Pair] {
        while let second = seconds.minKey, second < now / 1_000 {
            guard let bucket = buckets[second] else {
                _ = seconds.popAll(through: second)
                continue
            }
            if cursor.second != second { cursor = Cursor(second: second, slot: 0) }
            let (pairs, next) = bucket.pairs(from: cursor.slot, limit: limit, keyBytes: keyBytes)
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
