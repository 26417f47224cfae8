import RaftWire

/// One change that applying an entry made to a key: what a watch streams. It shares the
/// pair's storage (the new one of a set, the removed one of a removal): nothing is copied
/// until it is encoded. Sendable: a pair's key and value never change.
public struct Change: @unchecked Sendable {
    public let kind: WatchEventKind
    let pair: Pair

    /// The key's bytes, without a copy.
    public func withKey<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try pair.withKey(body)
    }

    public var key: [UInt8] { pair.key }
    /// A set's new value; a removal's last one.
    public var value: StoredValue { StoredValue(pair: pair) }
    /// A set's new mod index (the entry's); a removal's: the value removed.
    public var modIndex: UInt64 { pair.version.modIndex }
    /// The key's hash in this process's maps (to find who watches it).
    public var keyHash: Int { pair.hash }
    /// Bytes of key and value, what a history holding it counts.
    public var size: Int { pair.keyCount + pair.valueCount }

    /// The hash `keyHash` has for `key`.
    public static func hash(of key: [UInt8]) -> Int {
        key.withUnsafeBytes(ShardedMap.hash)
    }
}
