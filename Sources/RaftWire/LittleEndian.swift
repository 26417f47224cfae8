// Little-endian integers in byte arrays: the fixed layouts of log records, snapshot files
// and cache snapshots (protobuf covers the wire).

extension Array where Element == UInt8 {
    public mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }
}

extension UnsafeRawBufferPointer {
    public func loadLittleEndian<T: FixedWidthInteger>(at offset: Int, as: T.Type = UInt64.self) -> T {
        T(littleEndian: loadUnaligned(fromByteOffset: offset, as: T.self))
    }
}
