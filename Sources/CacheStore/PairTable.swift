/// A hash set of pairs, found by key: open addressing with linear probing over a
/// power-of-two array of references (8 bytes a slot, at most 3/4 full), deletion by
/// shifting back the pairs after the hole. Beside each slot a byte of its pair's hash (0:
/// empty), so a probe reads the pair, which is elsewhere in memory, only when that byte
/// matches: the bytes of a probe's run share a cache line. A value type with copy-on-write, like the
/// Dictionary it replaces, so a frozen snapshot shares it until the next write. Sendable:
/// a pair's key, value, version and expiry never change once made (its access statistics
/// are the map owner's, under its lock), and the slots are a value.
struct PairTable: @unchecked Sendable {
    private var slots: [Pair?]
    /// `tag(hash)` of each slot's pair; 0 for an empty slot.
    private var tags: [UInt8]
    private(set) var count = 0

    init(expectedCount: Int = 0) {
        var capacity = 8
        while capacity * 3 / 4 < expectedCount { capacity *= 2 }
        slots = Array(repeating: nil, count: capacity)
        tags = Array(repeating: 0, count: capacity)
    }

    private var mask: Int { slots.count - 1 }

    /// Never 0: seven bits of the hash and a set bit. Bits 40-46: the slot comes from the low
    /// bits, and ShardedMap picks a shard by the top eight, which all of one table's share.
    private static func tag(_ hash: Int) -> UInt8 {
        UInt8(truncatingIfNeeded: UInt(bitPattern: hash) >> 40) | 0x80
    }

    /// The slot holding `key`, or the empty slot where it would go.
    private func probe(_ key: UnsafeRawBufferPointer, hash: Int) -> (slot: Int, found: Bool) {
        let tag = Self.tag(hash)
        var slot = hash & mask
        while true {
            let slotTag = tags[slot]
            if slotTag == 0 { return (slot, false) }
            if slotTag == tag, slots[slot]!.hasKey(key, hash: hash) { return (slot, true) }
            slot = (slot + 1) & mask
        }
    }

    func find(_ key: UnsafeRawBufferPointer, hash: Int) -> Pair? {
        let (slot, found) = probe(key, hash: hash)
        return found ? slots[slot] : nil
    }

    /// Puts `pair` in, replacing the pair with its key; returns the replaced one.
    @discardableResult
    mutating func insert(_ pair: Pair) -> Pair? {
        if (count + 1) * 4 > slots.count * 3 { grow() }
        let (slot, found) = pair.withKey { probe($0, hash: pair.hash) }
        let old = slots[slot]
        slots[slot] = pair
        tags[slot] = Self.tag(pair.hash)
        if !found { count += 1 }
        return old
    }

    /// Takes out the pair with `key`; returns it.
    mutating func remove(_ key: UnsafeRawBufferPointer, hash: Int) -> Pair? {
        var (hole, found) = probe(key, hash: hash)
        guard found else { return nil }
        let removed = slots[hole]
        // Pairs after the hole that could not sit where they hash move back into it, so
        // every pair stays reachable from its home slot without crossing an empty one.
        var next = (hole + 1) & mask
        while let pair = slots[next] {
            let home = pair.hash & mask
            let stays = hole <= next ? (hole < home && home <= next) : (hole < home || home <= next)
            if !stays {
                slots[hole] = pair
                tags[hole] = tags[next]
                hole = next
            }
            next = (next + 1) & mask
        }
        slots[hole] = nil
        tags[hole] = 0
        count -= 1
        return removed
    }

    /// The first pair at or after slot `position` (wrapping), or nil if the table is empty.
    func pair(near position: Int) -> Pair? {
        guard count > 0 else { return nil }
        var slot = position & mask
        while true {
            if let pair = slots[slot] { return pair }
            slot = (slot + 1) & mask
        }
    }

    /// Up to `limit` pairs (and about `keyBytes` of their keys) from slot `start` on, and the
    /// slot after the last one taken (the table's size when it reached the end): a walk in
    /// steps that survives changes between them (a pair moved behind the walk is met on the
    /// next walk).
    func pairs(from start: Int, limit: Int, keyBytes: Int) -> (pairs: [Pair], next: Int) {
        var found: [Pair] = []
        var slot = max(0, start), bytes = 0
        while slot < slots.count && found.count < limit {
            if let pair = slots[slot] {
                guard found.isEmpty || bytes + pair.keyCount <= keyBytes else { break }
                bytes += pair.keyCount
                found.append(pair)
            }
            slot += 1
        }
        return (found, slot)
    }

    var slotCount: Int { slots.count }

    func forEach(_ body: (Pair) throws -> Void) rethrows {
        for case let pair? in slots { try body(pair) }
    }

    private mutating func grow() {
        let old = slots
        slots = Array(repeating: nil, count: old.count * 2)
        tags = Array(repeating: 0, count: old.count * 2)
        for case let pair? in old {
            var slot = pair.hash & mask
            while tags[slot] != 0 { slot = (slot + 1) & mask }
            slots[slot] = pair
            tags[slot] = Self.tag(pair.hash)
        }
    }
}
