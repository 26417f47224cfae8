import CProtobufC

/// A Swift message whose encoding is done by its protoc-c counterpart `CMessage`.
///
/// Every protoc-c struct starts with a `ProtobufCMessage` header that points to its
/// descriptor, so one generic pack and one generic unpack serve every message.
protocol ProtobufCBacked: WireMessage {
    associatedtype CMessage
    /// The generated `foo__init`: sets the descriptor and the defaults.
    static func cInit(_ message: UnsafeMutablePointer<CMessage>)
    /// The Swift value of an unpacked C message.
    init(c: CMessage) throws
    /// The C struct of this value; pointers in it belong to `arena`.
    func cMessage(in arena: CArena) throws -> CMessage
    /// Runs `body` with the C struct of this value; pointers in it belong to `arena` or, for
    /// large byte fields a message chooses to lend rather than copy, to this value, and are
    /// valid only during `body`.
    func withCMessage<R>(in arena: CArena, _ body: (inout CMessage) throws -> R) throws -> R
}

extension ProtobufCBacked {
    func withCMessage<R>(in arena: CArena, _ body: (inout CMessage) throws -> R) throws -> R {
        var message = try cMessage(in: arena)
        return try body(&message)
    }

    /// A C struct of this type, initialized by its generated `foo__init`.
    static func emptyCMessage() -> CMessage {
        withUnsafeTemporaryAllocation(of: CMessage.self, capacity: 1) { buffer in
            cInit(buffer.baseAddress!)
            return buffer.baseAddress!.move()
        }
    }

    static var descriptor: UnsafePointer<ProtobufCMessageDescriptor> {
        var message = emptyCMessage()
        return withUnsafeMutablePointer(to: &message) {
            UnsafeMutableRawPointer($0).assumingMemoryBound(to: ProtobufCMessage.self).pointee.descriptor
        }
    }

    static var messageName: String {
        String(cString: descriptor.pointee.name)
    }

    static func decodeWithProtobufC(_ bytes: UnsafeRawBufferPointer) throws -> Self {
        let descriptor = descriptor
        try rejectNULInStrings(bytes, descriptor: descriptor)
        return try UnpackArena.with { allocator in
            // protobuf-c reads nothing when the length is 0, but wants a pointer all the same.
            var empty: UInt8 = 0
            let unpacked = withUnsafePointer(to: &empty) { emptyPointer in
                protobuf_c_message_unpack(
                    descriptor, allocator, bytes.count,
                    bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? emptyPointer)
            }
            // What it unpacked goes with the arena: no free_unpacked.
            guard let unpacked else { throw WireError.malformed(message: messageName) }
            return try Self(c: UnsafeRawPointer(unpacked).assumingMemoryBound(to: CMessage.self).pointee)
        }
    }

    func encodeWithProtobufC() throws -> [UInt8] {
        var bytes: [UInt8] = []
        try packWithProtobufC { size, pack in
            if size == 0 { return }
            bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
                count = pack(UnsafeMutableRawBufferPointer(buffer))
            }
        }
        return bytes
    }

    /// Packs this value where the caller chooses, without a copy in between: `write` is told
    /// the packed size and given `pack`, which packs into memory of at least that size and
    /// returns the bytes written. `pack` is valid only during `write`.
    func packWithProtobufC(_ write: (_ size: Int, _ pack: (UnsafeMutableRawBufferPointer) -> Int) throws -> Void) throws {
        try withCMessage(in: CArena()) { message in
            try withUnsafeMutablePointer(to: &message) { pointer in
                let base = UnsafeMutableRawPointer(pointer).assumingMemoryBound(to: ProtobufCMessage.self)
                let size = protobuf_c_message_get_packed_size(base)
                try write(size) { buffer in
                    guard size > 0 else { return 0 }
                    precondition(buffer.count >= size, "packing \(size) bytes into \(buffer.count)")
                    return protobuf_c_message_pack(base, buffer.baseAddress!.assumingMemoryBound(to: UInt8.self))
                }
            }
        }
    }
}

// MARK: Reading fields of unpacked C messages

/// A string field; protobuf-c gives NULL or "" for an absent one.
func decodeString(_ pointer: UnsafeMutablePointer<CChar>?, field: String) throws -> String {
    guard let pointer else { return "" }
    guard let string = String(validatingCString: pointer) else {
        throw WireError.invalidUTF8(field: field)
    }
    return string
}

func decodeBytes(_ data: ProtobufCBinaryData) -> [UInt8] {
    guard data.len > 0, let pointer = data.data else { return [] }
    return Array(UnsafeBufferPointer(start: pointer, count: data.len))
}

func decodeRepeated<M: ProtobufCBacked>(
    _ count: Int, _ pointers: UnsafeMutablePointer<UnsafeMutablePointer<M.CMessage>?>?
) throws -> [M] {
    guard count > 0, let pointers else { return [] }
    var messages: [M] = []
    messages.reserveCapacity(count)
    for i in 0..<count {
        guard let element = pointers[i] else { throw WireError.malformed(message: M.messageName) }
        messages.append(try M(c: element.pointee))
    }
    return messages
}

func decodeRepeatedBytes(_ count: Int, _ values: UnsafeMutablePointer<ProtobufCBinaryData>?) -> [[UInt8]] {
    guard count > 0, let values else { return [] }
    return (0..<count).map { decodeBytes(values[$0]) }
}

func decodeRepeatedNumbers(_ count: Int, _ values: UnsafeMutablePointer<UInt64>?, field: String) throws -> [UInt64] {
    guard count > 0, let values else { return [] }
    return try (0..<count).map { try decodeNumber(values[$0], field: field) }
}

/// An optional sub-message field: absent decodes as the empty message.
func decodeMessage<M: ProtobufCBacked>(_ pointer: UnsafeMutablePointer<M.CMessage>?) throws -> M {
    guard let pointer else { return try M(c: M.emptyCMessage()) }
    return try M(c: pointer.pointee)
}

/// Terms, indexes, offsets and sizes are below 2^63 (Protos/README.md, "Numbers"): one at
/// or above it is refused, so no sum of wire values, nor a successor of one, can overflow in
/// the code that acts on them. Sequence numbers are opaque (a leader starts its own at
/// term << 32, wrapping) and only compared.
public let wireNumberLimit: UInt64 = 1 << 63

func decodeNumber(_ value: UInt64, field: String) throws -> UInt64 {
    guard value < wireNumberLimit else { throw WireError.numberOutOfRange(field: field, value: value) }
    return value
}

/// A Swift enum from the raw value of a protoc-c enum.
func decodeEnum<E: RawRepresentable<UInt32>>(_ raw: UInt32, _: E.Type = E.self) throws -> E {
    guard let value = E(rawValue: raw) else {
        throw WireError.unknownEnumValue(type: String(describing: E.self), value: raw)
    }
    return value
}

extension Bool {
    /// protobuf-c's `protobuf_c_boolean`.
    var cBoolean: Int32 { self ? 1 : 0 }
}

extension ProtobufCBacked {
    public init(wireBytes bytes: UnsafeRawBufferPointer) throws {
        self = try Self.decodeWithProtobufC(bytes)
    }

    public func wireBytes() throws -> [UInt8] {
        try encodeWithProtobufC()
    }
}
