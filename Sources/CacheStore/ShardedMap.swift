import CRC32C
import RaftWire

/// The map of keys to values in 256 shards, each a table of pairs of its own. A frozen copy
/// for a snapshot shares every shard; the next write then copies only the shard it touches
/// (a few thousand pairs of a million) instead of the whole map, so freezing never stalls
/// applying.
struct ShardedMap: Sendable {
    static let shardCount = 256
    private(set) var shards: [PairTable]
    private(set) var count = 0
    /// Bytes of keys and values held.
    private(set) var bytes = 0
    /// The sum of every pair's `pairHash`: equal on replicas that hold the same pairs, in
    /// whatever order they were written.
    private(set) var digest: UInt64 = 0

    init(expectedCount: Int = 0) {
        shards = Array(repeating: PairTable(expectedCount: expectedCount / Self.shardCount), count: Self.shardCount)
    }

    /// The key's hash (seeded per process, so no one can choose keys that collide); its top
    /// bits pick the shard, its low bits the slot.
    static func hash(_ key: UnsafeRawBufferPointer) -> Int {
        var hasher = Hasher()
        hasher.combine(bytes: key)
        return hasher.finalize()
    }

    private static func shard(of hash: Int) -> Int {
        Int(truncatingIfNeeded: UInt(bitPattern: hash) >> (UInt.bitWidth - 8))
    }

    /// A fingerprint of one pair: CRC-32C of the key, and of the value chained after it, with
    /// its version and expiry mixed in (replicas must agree on those too).
    static func pairHash(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, version: KeyVersion, expiresAt: UInt64) -> UInt64 {
        let keyCRC = raftcache_crc32c(0, key.baseAddress, key.count)
        let valueCRC = raftcache_crc32c(keyCRC ^ 0x9E37_79B9, value.baseAddress, value.count)
        return mix((UInt64(keyCRC) << 32 | UInt64(valueCRC)) ^ mix(version.createIndex) ^ mix(mix(version.modIndex)) ^ mix(mix(mix(expiresAt))))
    }

    /// SplitMix64's finalizer: spreads an index over all 64 bits.
    private static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    private static func pairHash(_ pair: Pair) -> UInt64 {
        pair.withKey { key in pair.withValue { value in pairHash(key: key, value: value, version: pair.version, expiresAt: pair.expiresAt) } }
    }

    /// The pair holding `key`, expired or not.
    func pair(_ key: [UInt8]) -> Pair? {
        key.withUnsafeBytes { key in
            let hash = Self.hash(key)
            return shards[Self.shard(of: hash)].find(key, hash: hash)
        }
    }

    /// A new pair for `key`, to be put in with `insert`.
    static func makePair(key: [UInt8], value: [UInt8], version: KeyVersion, expiresAt: UInt64) -> Pair {
        Pair.make(key: key, value: value, hash: key.withUnsafeBytes(hash), version: version, expiresAt: expiresAt)
    }

    /// Puts `pair` in, replacing the pair with its key: the replaced pair, if any.
    @discardableResult
    mutating func insert(_ pair: Pair) -> Pair? {
        let old = shards[Self.shard(of: pair.hash)].insert(pair)
        if let old {
            bytes += pair.valueCount - old.valueCount
            digest &-= Self.pairHash(old)
        } else {
            count += 1
            bytes += pair.keyCount + pair.valueCount
        }
        digest &+= Self.pairHash(pair)
        return old
    }

    /// Takes `key` out: its pair, if it was there.
    @discardableResult
    mutating func remove(_ key: [UInt8]) -> Pair? {
        let removed = key.withUnsafeBytes { key in
            let hash = Self.hash(key)
            return shards[Self.shard(of: hash)].remove(key, hash: hash)
        }
        guard let old = removed else { return nil }
        count -= 1
        bytes -= old.keyCount + old.valueCount
        digest &-= Self.pairHash(old)
        return old
    }

    /// Up to `count` pairs picked at random (with repeats possible): Redis' way of choosing
    /// what to evict without ordering every key. Nil when the map is empty.
    func sample<R: RandomNumberGenerator>(_ count: Int, using rng: inout R) -> [Pair] {
        guard self.count > 0 else { return [] }
        var picked: [Pair] = []
        picked.reserveCapacity(count)
        while picked.count < count {
            let shard = shards[Int.random(in: 0..<Self.shardCount, using: &rng)]
            if let pair = shard.pair(near: Int.random(in: 0..<Int.max, using: &rng)) { picked.append(pair) }
        }
        return picked
    }

    func forEachPair(_ body: (Pair) throws -> Void) rethrows {
        for shard in shards { try shard.forEach(body) }
    }

    func forEach(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer, Pair) throws -> Void) rethrows {
        try forEachPair { pair in
            try pair.withKey { key in try pair.withValue { value in try body(key, value, pair) } }
        }
    }
}
