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
        try data.pack { size, pack in try writeFrame(size: size, headSize: size, pack, to: &out) }
    }

    /// The length prefix of an envelope of `size` bytes (refused past the limit), then the
    /// first `headSize` of them, which `pack` writes.
    private func writeFrame(size: Int, headSize: Int, _ pack: (UnsafeMutableRawBufferPointer) -> Int, to out: inout ByteBuffer) throws {
        guard size <= maxFrameLength else {
            throw WireError.frameTooLarge(length: size, limit: maxFrameLength)
        }
        out.reserveCapacity(minimumWritableBytes: Frame.headerLength + headSize)
        out.writeInteger(UInt32(size))
        out.writeWithUnsafeMutableBytes(minimumWritableBytes: headSize) { pack($0) }
    }
}

/// The end of a call's payload past its envelope's `payload`: bytes shared with other calls,
/// sent as they are (an AppendEntries' entries, encoded once for every follower), then a few
/// of this call's own.
public struct SharedPayload: Sendable {
    public var shared: ByteBuffer
    public var end: [UInt8]

    public init(shared: ByteBuffer, end: [UInt8]) {
        self.shared = shared
        self.end = end
    }
}

/// A call's frame on its way out: its envelope, and the rest of its payload when shared.
struct OutboundFrame {
    var envelope: Envelope
    var sharedPayload: SharedPayload?
}

/// Writes each OutboundFrame as one frame. A payload's shared bytes are written as they are,
/// between a buffer of the frame's own before them and one after (the socket gathers the
/// three); the frame's bytes are the same as the whole envelope's encoding.
final class FrameWriter: ChannelOutboundHandler {
    typealias OutboundIn = OutboundFrame
    typealias OutboundOut = ByteBuffer

    private let encoder: EnvelopeEncoder

    init(maxFrameLength: Int) {
        encoder = EnvelopeEncoder(maxFrameLength: maxFrameLength)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let frame = unwrapOutboundIn(data)
        var head = context.channel.allocator.buffer(capacity: 0)
        do {
            guard let rest = frame.sharedPayload else {
                try encoder.encode(data: frame.envelope, out: &head)
                return context.write(wrapOutboundOut(head), promise: promise)
            }
            let after = try encoder.encode(frame.envelope, payloadGoingOnFor: rest.shared.readableBytes + rest.end.count, out: &head)
            var tail = context.channel.allocator.buffer(capacity: rest.end.count + after.count)
            tail.writeBytes(rest.end)
            tail.writeBytes(after)
            context.write(wrapOutboundOut(head), promise: nil)
            context.write(wrapOutboundOut(rest.shared), promise: nil)
            context.write(wrapOutboundOut(tail), promise: promise)
        } catch {
            // As MessageToByteHandler does: the call handler fails every call and closes.
            promise?.fail(error)
            context.fireErrorCaught(error)
        }
    }
}

extension EnvelopeEncoder {
    /// The frame of `envelope` up to the end of its `payload`, for a payload that goes on for
    /// `moreLength` bytes; returns the envelope's fields that go after them.
    func encode(_ envelope: Envelope, payloadGoingOnFor moreLength: Int, out: inout ByteBuffer) throws -> [UInt8] {
        try envelope.pack(payloadGoingOnFor: moreLength) { size, headSize, pack in
            try writeFrame(size: size, headSize: headSize, pack, to: &out)
        }
    }
}
