import NIOCore
import RaftWire

/// Cuts inbound bytes into Envelopes (Protos/README.md, "Framing"). A length over the
/// limit is refused from the 4-byte header alone, before any room is made for the body.
struct EnvelopeDecoder: ByteToMessageDecoder {
    typealias InboundOut = Envelope

    let maxFrameLength: Int

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return .needMoreData }
        guard Int(length) <= maxFrameLength else {
            throw WireError.frameTooLarge(length: Int(length), limit: maxFrameLength)
        }
        guard buffer.readableBytes >= Frame.headerLength + Int(length) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: Frame.headerLength)
        let body = buffer.readSlice(length: Int(length))!
        let envelope = try body.withUnsafeReadableBytes { try Envelope(wireBytes: $0) }
        context.fireChannelRead(wrapInboundOut(envelope))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        return .needMoreData
    }
}

/// Writes each Envelope as one frame.
struct EnvelopeEncoder: MessageToByteEncoder {
    typealias OutboundIn = Envelope

    let maxFrameLength: Int

    /// Packed straight into `out`: no array of the frame's bytes in between.
    func encode(data: Envelope, out: inout ByteBuffer) throws {
        try data.pack { size, pack in
            guard size <= maxFrameLength else {
                throw WireError.frameTooLarge(length: size, limit: maxFrameLength)
            }
            out.reserveCapacity(minimumWritableBytes: Frame.headerLength + size)
            out.writeInteger(UInt32(size))
            out.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { pack($0) }
        }
    }
}
