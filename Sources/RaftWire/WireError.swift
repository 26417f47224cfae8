/// Why bytes could not be turned into a frame or a message, or a message into bytes.
public enum WireError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A frame's length prefix is over the limit; nothing was allocated for it.
    case frameTooLarge(length: Int, limit: Int)
    /// The bytes are not a valid encoding of the named message.
    case malformed(message: String)
    /// A string field is not valid UTF-8.
    case invalidUTF8(field: String)
    /// A string to encode holds a NUL byte, which protobuf-c strings cannot carry.
    case nulInString(field: String)
    /// An enum field holds a number this version does not know.
    case unknownEnumValue(type: String, value: UInt32)
    /// A term, index, offset or size at or above 2^63 (`wireNumberLimit`).
    case numberOutOfRange(field: String, value: UInt64)

    public var description: String {
        switch self {
        case .frameTooLarge(let length, let limit):
            return "frame of \(length) bytes is over the limit of \(limit) bytes"
        case .malformed(let message):
            return "bytes are not a valid \(message)"
        case .invalidUTF8(let field):
            return "field \(field) is not valid UTF-8"
        case .nulInString(let field):
            return "field \(field) contains a NUL byte"
        case .unknownEnumValue(let type, let value):
            return "unknown \(type) value \(value)"
        case .numberOutOfRange(let field, let value):
            return "field \(field) is \(value), at or above the limit of 2^63"
        }
    }
}
