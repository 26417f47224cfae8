import RaftWire

/// One key and its value in a single allocation: the object header, the lengths, the key's
/// hash and its version, then the key's bytes followed by the value's. Two arrays would cost
/// two allocations and two array headers per pair; at a million small values that is about a
/// third of the map's memory. Immutable once in the map, so replicas of the map share pairs.
final class Pair: ManagedBuffer<Pair.Header, UInt8> {
    struct Header {
        var hash: Int
        var keyCount: UInt32
        var valueCount: UInt32
        var version: KeyVersion
    }

    static func make(key: [UInt8], value: [UInt8], hash: Int, version: KeyVersion) -> Pair {
        let made = Pair.create(minimumCapacity: key.count + value.count) { _ in
            Header(hash: hash, keyCount: UInt32(key.count), valueCount: UInt32(value.count), version: version)
        }
        let pair = unsafeDowncast(made, to: Pair.self)
        pair.withUnsafeMutablePointerToElements { bytes in
            key.withUnsafeBufferPointer { source in
                if let base = source.baseAddress { bytes.update(from: base, count: source.count) }
            }
            value.withUnsafeBufferPointer { source in
                if let base = source.baseAddress { (bytes + key.count).update(from: base, count: source.count) }
            }
        }
        return pair
    }

    var hash: Int { header.hash }
    var version: KeyVersion { header.version }
    var keyCount: Int { Int(header.keyCount) }
    var valueCount: Int { Int(header.valueCount) }

    func withKey<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withUnsafeMutablePointerToElements { try body(UnsafeRawBufferPointer(start: $0, count: keyCount)) }
    }

    func withValue<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withUnsafeMutablePointerToElements { try body(UnsafeRawBufferPointer(start: $0 + keyCount, count: valueCount)) }
    }

    func hasKey(_ key: UnsafeRawBufferPointer, hash: Int) -> Bool {
        hash == self.hash && withKey { $0.elementsEqual(key) }
    }

    var key: [UInt8] { withKey { Array($0) } }
    var value: [UInt8] { withValue { Array($0) } }
}

/// A value as the map holds it, sharing the pair's storage: reading one copies nothing
/// until its bytes are written out. Sendable: a pair is never changed once in the map.
public struct StoredValue: @unchecked Sendable, Equatable {
    let pair: Pair

    public var count: Int { pair.valueCount }
    public var version: KeyVersion { pair.version }

    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try pair.withValue(body)
    }

    /// The value copied into an array.
    public var bytes: [UInt8] { pair.value }

    public static func == (lhs: StoredValue, rhs: StoredValue) -> Bool {
        lhs.pair === rhs.pair
            || lhs.version == rhs.version && lhs.withUnsafeBytes { a in rhs.withUnsafeBytes { b in a.elementsEqual(b) } }
    }
}
