import CRC32C

/// The map of keys to values in 256 shards, each a dictionary of its own. A frozen copy
/// for a snapshot shares every shard; the next write then copies only the shard it
/// touches (a few thousand pairs of a million) instead of the whole map, so freezing
/// never stalls applying.
struct ShardedMap: Sendable {
    static let shardCount = 256
    private(set) var shards: [[[UInt8]: [UInt8]]]
    private(set) var count = 0
    /// Bytes of keys and values held.
    private(set) var bytes = 0
    /// The sum of every pair's `pairHash`: equal on replicas that hold the same pairs, in
    /// whatever order they were written.
    private(set) var digest: UInt64 = 0

    init(expectedCount: Int = 0) {
        var shard: [[UInt8]: [UInt8]] = [:]
        shard.reserveCapacity(expectedCount / Self.shardCount + expectedCount / (4 * Self.shardCount))
        shards = Array(repeating: shard, count: Self.shardCount)
    }

    /// FNV-1a: cheap, and spreads the usual "prefix + number" keys well enough.
    static func shard(of key: [UInt8]) -> Int {
        var hash: UInt32 = 2_166_136_261
        for byte in key { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
        return Int(hash & UInt32(shardCount - 1))
    }

    /// A fingerprint of one pair (CRC-32C of the key, and of the value chained after it).
    static func pairHash(key: [UInt8], value: [UInt8]) -> UInt64 {
        let keyCRC = key.withUnsafeBytes { raftcache_crc32c(0, $0.baseAddress, $0.count) }
        let valueCRC = value.withUnsafeBytes { raftcache_crc32c(keyCRC ^ 0x9E37_79B9, $0.baseAddress, $0.count) }
        return UInt64(keyCRC) << 32 | UInt64(valueCRC)
    }

    subscript(key: [UInt8]) -> [UInt8]? {
        shards[Self.shard(of: key)][key]
    }

    @discardableResult
    mutating func updateValue(_ value: [UInt8], forKey key: [UInt8]) -> [UInt8]? {
        let old = shards[Self.shard(of: key)].updateValue(value, forKey: key)
        if let old {
            bytes += value.count - old.count
            digest &-= Self.pairHash(key: key, value: old)
        } else {
            count += 1
            bytes += key.count + value.count
        }
        digest &+= Self.pairHash(key: key, value: value)
        return old
    }

    @discardableResult
    mutating func removeValue(forKey key: [UInt8]) -> [UInt8]? {
        guard let old = shards[Self.shard(of: key)].removeValue(forKey: key) else { return nil }
        count -= 1
        bytes -= key.count + old.count
        digest &-= Self.pairHash(key: key, value: old)
        return old
    }

    func forEach(_ body: ([UInt8], [UInt8]) throws -> Void) rethrows {
        for shard in shards {
            for (key, value) in shard { try body(key, value) }
        }
    }
}
