import CProtobufC

/// Owns the C memory a message needs while protobuf-c packs it, and frees it all at once.
///
/// Encoding builds the protoc-c struct graph of a message (strings, bytes, sub-messages,
/// arrays of pointers) out of these allocations; nothing outlives the arena. They are cut
/// from chunks (the first of 1 KiB, made on the first need): a message's few dozen pieces
/// cost a malloc or two, not one each.
final class CArena {
    private var regions = BumpRegions(firstBlock: 1 << 10)

    deinit {
        regions.freeAll()
    }

    /// Zeroed memory for `count` values of a C type (16-byte aligned).
    func allocate<T>(_: T.Type, count: Int = 1) -> UnsafeMutablePointer<T> {
        let (size, overflow) = Swift.max(count, 1).multipliedReportingOverflow(by: MemoryLayout<T>.stride)
        precondition(!overflow && MemoryLayout<T>.alignment <= 16, "cannot allocate \(count) x \(T.self)")
        guard let pointer = regions.allocate(size) else { fatalError("out of memory allocating \(count) x \(T.self)") }
        pointer.initializeMemory(as: UInt8.self, repeating: 0, count: size)
        return pointer.bindMemory(to: T.self, capacity: Swift.max(count, 1))
    }

    /// A NUL-terminated copy of `string`; nil (protobuf-c's empty string) when it is empty.
    func cString(_ string: String, field: String) throws -> UnsafeMutablePointer<CChar>? {
        if string.isEmpty { return nil }
        let utf8 = string.utf8
        guard !utf8.contains(0) else { throw WireError.nulInString(field: field) }
        let pointer = allocate(CChar.self, count: utf8.count + 1)
        var offset = 0
        for byte in utf8 {
            pointer[offset] = CChar(bitPattern: byte)
            offset += 1
        }
        pointer[offset] = 0
        return pointer
    }

    func binary(_ bytes: [UInt8]) -> ProtobufCBinaryData {
        if bytes.isEmpty { return ProtobufCBinaryData(len: 0, data: nil) }
        let pointer = allocate(UInt8.self, count: bytes.count)
        bytes.withUnsafeBufferPointer { pointer.initialize(from: $0.baseAddress!, count: $0.count) }
        return ProtobufCBinaryData(len: bytes.count, data: pointer)
    }

    /// A repeated bytes field: its count and array.
    func repeatedBinary(_ values: [[UInt8]]) -> (count: Int, values: UnsafeMutablePointer<ProtobufCBinaryData>?) {
        if values.isEmpty { return (0, nil) }
        let array = allocate(ProtobufCBinaryData.self, count: values.count)
        for (i, value) in values.enumerated() { array[i] = binary(value) }
        return (values.count, array)
    }

    /// A repeated uint64 field: its count and array.
    func repeatedNumbers(_ values: [UInt64]) -> (count: Int, values: UnsafeMutablePointer<UInt64>?) {
        if values.isEmpty { return (0, nil) }
        let array = allocate(UInt64.self, count: values.count)
        array.initialize(from: values, count: values.count)
        return (values.count, array)
    }

    /// A sub-message: its C struct, stored in the arena.
    func message<M: ProtobufCBacked>(_ message: M) throws -> UnsafeMutablePointer<M.CMessage> {
        let pointer = allocate(M.CMessage.self)
        pointer.pointee = try message.cMessage(in: self)
        return pointer
    }

    /// A repeated sub-message field: its count and array of pointers.
    func repeated<M: ProtobufCBacked>(
        _ messages: [M]
    ) throws -> (count: Int, pointers: UnsafeMutablePointer<UnsafeMutablePointer<M.CMessage>?>?) {
        try repeated(messages) { try $0.cMessage(in: self) }
    }

    /// A repeated sub-message field whose C structs `cMessage` makes from `values`.
    func repeated<V, C>(
        _ values: [V], _ cMessage: (V) throws -> C
    ) rethrows -> (count: Int, pointers: UnsafeMutablePointer<UnsafeMutablePointer<C>?>?) {
        if values.isEmpty { return (0, nil) }
        let pointers = allocate(UnsafeMutablePointer<C>?.self, count: values.count)
        for (i, value) in values.enumerated() {
            let pointer = allocate(C.self)
            pointer.pointee = try cMessage(value)
            pointers[i] = pointer
        }
        return (values.count, pointers)
    }
}
