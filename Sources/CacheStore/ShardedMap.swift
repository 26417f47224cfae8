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
    /// its version mixed in (replicas must agree on versions too).
    static func pairHash(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, version: KeyVersion) -> UInt64 {
        let keyCRC = raftcache_crc32c(0, key.baseAddress, key.count)
        let valueCRC = raftcache_crc32c(keyCRC ^ 0x9E37_79B9, value.baseAddress, value.count)
        return mix((UInt64(keyCRC) << 32 | UInt64(valueCRC)) ^ mix(version.createIndex) ^ mix(mix(version.modIndex)))
    }

    /// SplitMix64's finalizer: spreads an index over all 64 bits.
    private static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    private static func pairHash(_ pair: Pair) -> UInt64 {
        pair.withKey { key in pair.withValue { value in pairHash(key: key, value: value, version: pair.version) } }
    }

    subscript(key: [UInt8]) -> StoredValue? {
        key.withUnsafeBytes { key in
            let hash = Self.hash(key)
            return shards[Self.shard(of: hash)].find(key, hash: hash).map(StoredValue.init)
        }
    }

    /// Sets `key` to `value` by the entry at `index`; the key keeps its create index if it
    /// existed. The version it had, if it did.
    @discardableResult
    mutating func updateValue(_ value: [UInt8], forKey key: [UInt8], index: UInt64) -> KeyVersion? {
        updateValue(value, forKey: key, version: KeyVersion(createIndex: index, modIndex: index), keepingCreate: true)
    }

    /// Sets `key` to `value` with `version` (a snapshot's pair), or with its create index kept
    /// when it existed and `keepingCreate`. The version it had, if it did.
    @discardableResult
    mutating func updateValue(_ value: [UInt8], forKey key: [UInt8], version: KeyVersion, keepingCreate: Bool = false) -> KeyVersion? {
        let pair = Pair.make(key: key, value: value, hash: key.withUnsafeBytes(Self.hash), version: version)
        let old = shards[Self.shard(of: pair.hash)].insert(pair)
        // Set before anyone else can see the pair: the map's owner holds its lock.
        if let old, keepingCreate { pair.header.version.createIndex = old.version.createIndex }
        if let old {
            bytes += pair.valueCount - old.valueCount
            digest &-= Self.pairHash(old)
        } else {
            count += 1
            bytes += pair.keyCount + pair.valueCount
        }
        digest &+= Self.pairHash(pair)
        return old?.version
    }

    /// Takes `key` out; true if it was there.
    @discardableResult
    mutating func removeValue(forKey key: [UInt8]) -> Bool {
        let removed = key.withUnsafeBytes { key in
            let hash = Self.hash(key)
            return shards[Self.shard(of: hash)].remove(key, hash: hash)
        }
        guard let old = removed else { return false }
        count -= 1
        bytes -= old.keyCount + old.valueCount
        digest &-= Self.pairHash(old)
        return true
    }

    func forEach(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer, KeyVersion) throws -> Void) rethrows {
        for shard in shards {
            try shard.forEach { pair in
                try pair.withKey { key in try pair.withValue { value in try body(key, value, pair.version) } }
            }
        }
    }
}
