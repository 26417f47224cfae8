/// The framing of the binary protocol: a 4-byte big-endian length, then that many
/// bytes holding one encoded `Envelope`.
public enum Frame {
    public static let headerLength = 4
    /// The default largest envelope a peer accepts (16 MiB); `--max-frame` style settings may lower it.
    public static let defaultMaxLength = 16 * 1024 * 1024

    /// The frame (length prefix and envelope) for `envelope`.
    public static func encode(_ envelope: Envelope, maxLength: Int = defaultMaxLength) throws -> [UInt8] {
        let body = try envelope.wireBytes()
        try checkLength(body.count, maxLength: maxLength)
        var frame: [UInt8] = []
        frame.reserveCapacity(headerLength + body.count)
        appendHeader(length: body.count, to: &frame)
        frame.append(contentsOf: body)
        return frame
    }

    public static func appendHeader(length: Int, to bytes: inout [UInt8]) {
        let length = UInt32(truncatingIfNeeded: length)
        bytes.append(UInt8(truncatingIfNeeded: length >> 24))
        bytes.append(UInt8(truncatingIfNeeded: length >> 16))
        bytes.append(UInt8(truncatingIfNeeded: length >> 8))
        bytes.append(UInt8(truncatingIfNeeded: length))
    }

    /// The envelope length a 4-byte header announces, refused when over `maxLength`.
    public static func bodyLength(header: some Collection<UInt8>, maxLength: Int = defaultMaxLength) throws -> Int {
        precondition(header.count >= headerLength, "a frame header is \(headerLength) bytes")
        var length = 0
        for byte in header.prefix(headerLength) { length = length << 8 | Int(byte) }
        try checkLength(length, maxLength: maxLength)
        return length
    }

    static func checkLength(_ length: Int, maxLength: Int) throws {
        guard length <= maxLength else { throw WireError.frameTooLarge(length: length, limit: maxLength) }
    }
}

/// Cuts a byte stream into frames, however the bytes arrive: a frame split over many
/// reads, many frames in one read. A length over the limit is refused as soon as its
/// header is seen, before any room is made for the body; the stream is unusable after.
public struct FrameDecoder: Sendable {
    public let maxLength: Int
    private var buffer: [UInt8] = []
    private var readIndex = 0
    /// The stream offset of `buffer[0]`, for error reports.
    private var bufferOffset = 0
    private var failure: WireError?

    public init(maxLength: Int = Frame.defaultMaxLength) {
        self.maxLength = maxLength
    }

    /// Bytes received but not yet returned as frames.
    public var bufferedByteCount: Int { buffer.count - readIndex }

    /// The offset in the stream of the next frame's header.
    public var streamOffset: Int { bufferOffset + readIndex }

    public mutating func append(_ bytes: some Sequence<UInt8>) {
        compactIfWorthIt()
        buffer.append(contentsOf: bytes)
    }

    /// The next whole frame's envelope bytes, or nil until more bytes arrive.
    public mutating func nextFrameBody() throws -> ArraySlice<UInt8>? {
        if let failure { throw failure }
        guard bufferedByteCount >= Frame.headerLength else { return nil }
        let length: Int
        do {
            length = try Frame.bodyLength(header: buffer[readIndex...], maxLength: maxLength)
        } catch let error as WireError {
            failure = error
            throw error
        }
        guard bufferedByteCount >= Frame.headerLength + length else { return nil }
        let start = readIndex + Frame.headerLength
        readIndex = start + length
        return buffer[start..<readIndex]
    }

    /// The next whole frame's envelope, or nil until more bytes arrive.
    public mutating func next() throws -> Envelope? {
        guard let body = try nextFrameBody() else { return nil }
        return try body.withUnsafeBytes { try Envelope(wireBytes: $0) }
    }

    private mutating func compactIfWorthIt() {
        guard readIndex > 0, readIndex * 2 >= buffer.count else { return }
        buffer.removeSubrange(0..<readIndex)
        bufferOffset += readIndex
        readIndex = 0
    }
}
