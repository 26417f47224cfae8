import RaftWire

/// One key and its value in a single allocation: the object header, the lengths, the key's
/// hash, its version and expiry, then 8 bytes of access statistics, the key's bytes and the
/// value's. Two arrays would cost two allocations and two array headers per pair; at a million
/// small values that is about a third of the map's memory. Immutable once in the map (but for
/// the statistics, which only the map's owner touches, under its lock), so replicas of the
/// map share pairs.
final class Pair: ManagedBuffer<Pair.Header, UInt8> {
    struct Header {
        var hash: Int
        var keyCount: UInt32
        var valueCount: UInt32
        var version: KeyVersion
        /// When the key expires (Unix milliseconds, fixed by the entry that set it); 0: never.
        var expiresAt: UInt64
    }

    /// The access statistics before the key: what the leader's eviction samples (not
    /// replicated, not in snapshots): the last access, and a logarithmic access counter.
    static let statisticsSize = 8

    static func make(key: [UInt8], value: [UInt8], hash: Int, version: KeyVersion, expiresAt: UInt64) -> Pair {
        key.withUnsafeBytes { key in
            value.withUnsafeBytes { value in make(key: key, value: value, hash: hash, version: version, expiresAt: expiresAt) }
        }
    }

    static func make(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, hash: Int, version: KeyVersion, expiresAt: UInt64) -> Pair {
        let made = Pair.create(minimumCapacity: statisticsSize + key.count + value.count) { _ in
            Header(hash: hash, keyCount: UInt32(key.count), valueCount: UInt32(value.count), version: version, expiresAt: expiresAt)
        }
        let pair = unsafeDowncast(made, to: Pair.self)
        pair.withUnsafeMutablePointerToElements { bytes in
            let raw = UnsafeMutableRawPointer(bytes)
            raw.initializeMemory(as: UInt8.self, repeating: 0, count: statisticsSize)
            if let base = key.baseAddress { (raw + statisticsSize).copyMemory(from: base, byteCount: key.count) }
            if let base = value.baseAddress { (raw + statisticsSize + key.count).copyMemory(from: base, byteCount: value.count) }
        }
        return pair
    }

    /// The same key and value with another version or expiry.
    func with(version: KeyVersion? = nil, expiresAt: UInt64? = nil) -> Pair {
        withKey { key in
            withValue { value in
                Pair.make(key: key, value: value, hash: hash, version: version ?? self.version, expiresAt: expiresAt ?? self.expiresAt)
            }
        }
    }

    var hash: Int { header.hash }
    var version: KeyVersion { header.version }
    var expiresAt: UInt64 { header.expiresAt }
    var keyCount: Int { Int(header.keyCount) }
    var valueCount: Int { Int(header.valueCount) }

    /// Whether the key has expired by `now` (Unix milliseconds).
    func hasExpired(by now: UInt64) -> Bool {
        expiresAt != 0 && expiresAt <= now
    }

    func withKey<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withUnsafeMutablePointerToElements { try body(UnsafeRawBufferPointer(start: $0 + Self.statisticsSize, count: keyCount)) }
    }

    func withValue<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withUnsafeMutablePointerToElements {
            try body(UnsafeRawBufferPointer(start: $0 + Self.statisticsSize + keyCount, count: valueCount))
        }
    }

    func hasKey(_ key: UnsafeRawBufferPointer, hash: Int) -> Bool {
        hash == self.hash && withKey { $0.elementsEqual(key) }
    }

    var key: [UInt8] { withKey { Array($0) } }
    var value: [UInt8] { withValue { Array($0) } }

    /// The access statistics (see `statisticsSize`). Only the map's owner reads or writes them,
    /// under its lock; nothing else in the pair changes, so readers of the key and value (a
    /// frozen snapshot being written) never race with it.
    var statistics: AccessStatistics {
        get { withUnsafeMutablePointerToElements { UnsafeRawPointer($0).loadUnaligned(as: AccessStatistics.self) } }
        set { withUnsafeMutablePointerToElements { UnsafeMutableRawPointer($0).storeBytes(of: newValue, as: AccessStatistics.self) } }
    }
}

/// When a key was last used and how often, as Redis keeps it for LRU and LFU eviction.
struct AccessStatistics {
    /// Unix milliseconds, kept to 32 bits (it wraps every 49 days; only differences count).
    var lastAccess: UInt32
    /// Grows about logarithmically with accesses, and decays by one a minute unused.
    var frequency: UInt8
    var reserved: (UInt8, UInt8, UInt8) = (0, 0, 0)
}

/// A value as the map holds it, sharing the pair's storage: reading one copies nothing
/// until its bytes are written out. Sendable: a pair's key and value never change once in the map.
public struct StoredValue: @unchecked Sendable, Equatable {
    let pair: Pair

    public var count: Int { pair.valueCount }
    public var version: KeyVersion { pair.version }
    /// When the key expires (Unix milliseconds); 0: never.
    public var expiresAt: UInt64 { pair.expiresAt }

    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try pair.withValue(body)
    }

    /// The value copied into an array.
    public var bytes: [UInt8] { pair.value }

    /// Milliseconds left at `now` (0: the key does not expire); below 2^63, as the wire wants.
    public func ttlMs(at now: UInt64) -> UInt64 {
        expiresAt == 0 ? 0 : min(wireNumberLimit - 1, max(1, expiresAt - min(now, expiresAt)))
    }

    public static func == (lhs: StoredValue, rhs: StoredValue) -> Bool {
        lhs.pair === rhs.pair
            || lhs.version == rhs.version && lhs.expiresAt == rhs.expiresAt
                && lhs.withUnsafeBytes { a in rhs.withUnsafeBytes { b in a.elementsEqual(b) } }
    }
}
