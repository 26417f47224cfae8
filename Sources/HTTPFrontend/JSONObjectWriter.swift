import NIOCore

/// A flat JSON object written straight into a buffer, for answers of a fixed shape that are
/// made often (an error, a refusal under load): JSONSerialization takes tens of microseconds
/// for one, a quarter of a leader's loop while it refuses a flood. The caller gives the
/// members in the order they should appear.
struct JSONObjectWriter {
    private(set) var buffer: ByteBuffer
    private var empty = true

    init(capacity: Int = 256) {
        buffer = ByteBuffer()
        buffer.reserveCapacity(capacity)
        buffer.writeInteger(UInt8(ascii: "{"))
    }

    mutating func add(_ name: String, _ value: String) {
        key(name)
        Self.writeString(value, to: &buffer)
    }

    mutating func add(_ name: String, _ value: some BinaryInteger) {
        key(name)
        buffer.writeString(String(value))
    }

    /// The object, closed.
    mutating func finish() -> ByteBuffer {
        buffer.writeInteger(UInt8(ascii: "}"))
        return buffer
    }

    private mutating func key(_ name: String) {
        if !empty { buffer.writeInteger(UInt8(ascii: ",")) }
        empty = false
        Self.writeString(name, to: &buffer)
        buffer.writeInteger(UInt8(ascii: ":"))
    }

    /// `text` as a JSON string (RFC 8259): quotes, backslashes and control characters escaped,
    /// everything else as its UTF-8.
    static func writeString(_ text: String, to buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): buffer.writeStaticString("\\\"")
            case UInt8(ascii: "\\"): buffer.writeStaticString("\\\\")
            case UInt8(ascii: "\n"): buffer.writeStaticString("\\n")
            case UInt8(ascii: "\r"): buffer.writeStaticString("\\r")
            case UInt8(ascii: "\t"): buffer.writeStaticString("\\t")
            case 0..<0x20:
                buffer.writeStaticString("\\u00")
                buffer.writeInteger(hexDigit(byte >> 4))
                buffer.writeInteger(hexDigit(byte & 0xF))
            default: buffer.writeInteger(byte)
            }
        }
        buffer.writeInteger(UInt8(ascii: "\""))
    }

    private static func hexDigit(_ value: UInt8) -> UInt8 {
        value < 10 ? UInt8(ascii: "0") + value : UInt8(ascii: "a") + value - 10
    }
}
