import CProtobufC

/// protobuf-c keeps a string field only up to its first NUL, so "node-2\0x" would unpack as
/// "node-2". Before unpacking, the raw bytes are walked with the message's descriptor and a
/// string holding a NUL is refused (`WireError.nulInString`) instead of being read cut short.
/// Bytes that do not parse are left for protobuf-c to refuse.
func rejectNULInStrings(_ bytes: UnsafeRawBufferPointer, descriptor: UnsafePointer<ProtobufCMessageDescriptor>) throws {
    guard hasStrings(descriptor) else { return }
    var position = 0
    while position < bytes.count {
        guard let key = readVarint(bytes, &position) else { return }
        switch key & 7 {
        case 0:
            guard readVarint(bytes, &position) != nil else { return }
        case 1:
            position += 8
        case 5:
            position += 4
        case 2:
            guard let length = readVarint(bytes, &position), length <= UInt64(bytes.count - position) else { return }
            let value = UnsafeRawBufferPointer(rebasing: bytes[position..<(position + Int(length))])
            position += Int(length)
            guard key >> 3 <= UInt64(UInt32.max),
                let field = protobuf_c_message_descriptor_get_field(descriptor, UInt32(key >> 3))
            else { continue }
            if field.pointee.type == PROTOBUF_C_TYPE_STRING, value.contains(0) {
                throw WireError.nulInString(
                    field: String(cString: descriptor.pointee.name) + "." + String(cString: field.pointee.name))
            }
            if field.pointee.type == PROTOBUF_C_TYPE_MESSAGE, let nested = field.pointee.descriptor {
                try rejectNULInStrings(value, descriptor: nested.assumingMemoryBound(to: ProtobufCMessageDescriptor.self))
            }
        default:
            return
        }
    }
}

/// Whether a message or one nested in it has a string field (most Raft traffic has none in
/// its entries, and its walk stops at the top level).
private func hasStrings(_ descriptor: UnsafePointer<ProtobufCMessageDescriptor>, depth: Int = 0) -> Bool {
    guard depth < 8 else { return true }
    for i in 0..<Int(descriptor.pointee.n_fields) {
        let field = descriptor.pointee.fields[i]
        if field.type == PROTOBUF_C_TYPE_STRING { return true }
        if field.type == PROTOBUF_C_TYPE_MESSAGE, let nested = field.descriptor,
            hasStrings(nested.assumingMemoryBound(to: ProtobufCMessageDescriptor.self), depth: depth + 1)
        {
            return true
        }
    }
    return false
}

private func readVarint(_ bytes: UnsafeRawBufferPointer, _ position: inout Int) -> UInt64? {
    var value: UInt64 = 0
    for shift in stride(from: 0, to: 64, by: 7) {
        guard position < bytes.count else { return nil }
        let byte = bytes[position]
        position += 1
        value |= UInt64(byte & 0x7F) << UInt64(shift)
        if byte < 0x80 { return value }
    }
    return nil
}
