import NIOCore
import NIOHTTP1

/// Writes HTTP/1.x responses, in place of NIO's HTTPResponseEncoder, framed as it frames them
/// (Content-Length as given, else chunked on HTTP/1.1; no body after 1xx, 204 and 304, nor in
/// answer to HEAD or CONNECT). A response's head waits for what follows it: a small body, and
/// the end, go out in the same buffer, so an answer is one buffer and one pass down the
/// pipeline instead of three, and no separate buffer for its end.
///
/// Sits after the request decoder, whose heads it reads on their way in: which method each
/// response answers.
final class HTTPResponseWriter: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = IOData

    /// A body up to this size joins its head's buffer; a larger one is written as it is.
    static let coalescedBodyLimit = 16 << 10

    /// What a request asks of its answer's body: HEAD and CONNECT get none.
    private enum Asked {
        case body, noBody, noBodyNorFraming
    }

    /// For each request read and not yet answered, what it asks.
    private var asked = CircularBuffer<Asked>(initialCapacity: 4)
    private var chunked = false
    private var suppressBody = false
    /// Bytes not yet written (a head, and what joined it), and the promises of their parts.
    private var pending: ByteBuffer?
    private var pendingPromise: EventLoopPromise<Void>?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head(let head) = unwrapInboundIn(data) {
            asked.append(head.method == .HEAD ? .noBody : head.method == .CONNECT ? .noBodyNorFraming : .body)
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let head):
            writePending(context)
            let code = head.status.code
            if (100..<200).contains(code) && code != 101 {
                // Informational (100 Continue): another head follows for the same request.
                var buffer = context.channel.allocator.buffer(capacity: 64)
                Self.writeHead(head, framing: .none, into: &buffer)
                return context.write(wrapOutboundOut(.byteBuffer(buffer)), promise: promise)
            }
            // HEAD's answer keeps the framing headers a GET's would have (RFC 9112, 6.3).
            let request = asked.popFirst() ?? .body
            suppressBody = request != .body
            let framing = Self.framing(of: head, mayHaveBody: Self.mayHaveBody(code) && request != .noBodyNorFraming)
            chunked = framing == .chunked && !suppressBody
            var buffer = context.channel.allocator.buffer(capacity: 256)
            Self.writeHead(head, framing: framing, into: &buffer)
            pending = buffer
            pendingPromise = promise
        case .body(let body):
            guard !suppressBody else {
                promise?.succeed(())
                return
            }
            if chunked {
                guard body.readableBytes > 0 else { return pass(body, context: context, promise: promise) }
                var out = takePending(context, minimumCapacity: 16)
                out.writeString(String(body.readableBytes, radix: 16))
                out.writeStaticString("\r\n")
                if case .byteBuffer(var bytes) = body, bytes.readableBytes <= Self.coalescedBodyLimit {
                    out.writeBuffer(&bytes)
                } else {
                    context.write(wrapOutboundOut(.byteBuffer(out)), promise: takePromise())
                    context.write(wrapOutboundOut(body), promise: nil)
                    out = context.channel.allocator.buffer(capacity: 2)
                }
                out.writeStaticString("\r\n")
                pending = out
                join(promise)
            } else if case .byteBuffer(var bytes) = body, bytes.readableBytes <= Self.coalescedBodyLimit, pending != nil {
                pending!.writeBuffer(&bytes)
                join(promise)
            } else {
                pass(body, context: context, promise: promise)
            }
        case .end(let trailers):
            if chunked {
                var tail = takePending(context, minimumCapacity: 5)
                tail.writeStaticString("0\r\n")
                for (name, value) in trailers ?? [:] { Self.writeField(name, value, into: &tail) }
                tail.writeStaticString("\r\n")
                pending = tail
            }
            chunked = false
            suppressBody = false
            join(promise)
            if pending == nil {
                // The promise keeps its place behind what was written before it.
                pending = context.channel.allocator.buffer(capacity: 0)
            }
            writePending(context)
        }
    }

    func flush(context: ChannelHandlerContext) {
        writePending(context)
        context.flush()
    }

    /// Bytes never flushed go with the connection; their writers hear so.
    func channelInactive(context: ChannelHandlerContext) {
        pending = nil
        takePromise()?.fail(ChannelError.ioOnClosedChannel)
        context.fireChannelInactive()
    }

    // MARK: Pending bytes

    private func join(_ promise: EventLoopPromise<Void>?) {
        guard let promise else { return }
        if let earlier = pendingPromise { promise.futureResult.cascade(to: earlier) }
        pendingPromise = promise
    }

    private func takePromise() -> EventLoopPromise<Void>? {
        defer { pendingPromise = nil }
        return pendingPromise
    }

    /// The pending bytes to add to (a new buffer when there are none).
    private func takePending(_ context: ChannelHandlerContext, minimumCapacity: Int) -> ByteBuffer {
        defer { pending = nil }
        return pending ?? context.channel.allocator.buffer(capacity: minimumCapacity)
    }

    private func writePending(_ context: ChannelHandlerContext) {
        guard let buffer = pending else { return }
        pending = nil
        context.write(wrapOutboundOut(.byteBuffer(buffer)), promise: takePromise())
    }

    private func pass(_ body: IOData, context: ChannelHandlerContext, promise: EventLoopPromise<Void>?) {
        writePending(context)
        context.write(wrapOutboundOut(body), promise: promise)
    }

    // MARK: Framing and bytes

    enum Framing {
        case none, contentLength, chunked
    }

    static func mayHaveBody(_ code: UInt) -> Bool {
        !((100..<200).contains(code) || code == 204 || code == 304)
    }

    /// How the body is delimited, as NIO's encoder decides it.
    static func framing(of head: HTTPResponseHead, mayHaveBody: Bool) -> Framing {
        guard mayHaveBody else { return .none }
        if head.headers.contains(name: "Content-Length") { return .contentLength }
        return head.version.major == 1 && head.version.minor >= 1 ? .chunked : .none
    }

    /// The status line and header fields, with the framing's: without Content-Length or
    /// Transfer-Encoding when there is no body, without Transfer-Encoding beside a length, and
    /// with `Transfer-Encoding: chunked` when chunked.
    static func writeHead(_ head: HTTPResponseHead, framing: Framing, into buffer: inout ByteBuffer) {
        if head.version == .http1_1 {
            buffer.writeStaticString("HTTP/1.1 ")
        } else {
            buffer.writeString("HTTP/\(head.version.major).\(head.version.minor) ")
        }
        buffer.writeString(String(head.status.code))
        buffer.writeStaticString(" ")
        buffer.writeString(head.status.reasonPhrase)
        buffer.writeStaticString("\r\n")
        for (name, value) in head.headers {
            let isLength = isName(name, "content-length"), isEncoding = isName(name, "transfer-encoding")
            switch framing {
            case .none where isLength || isEncoding: continue
            case .contentLength where isEncoding: continue
            case .chunked where isEncoding: continue
            default: writeField(name, value, into: &buffer)
            }
        }
        if framing == .chunked { buffer.writeStaticString("Transfer-Encoding: chunked\r\n") }
        buffer.writeStaticString("\r\n")
    }

    /// The whole of `answer` on HTTP/1.1, for a connection refused before it has a pipeline.
    static func bytes(of answer: HTTPAnswer, keepAlive: Bool) -> ByteBuffer {
        var buffer = ByteBuffer()
        for part in answer.parts(version: .http1_1, keepAlive: keepAlive) {
            switch part {
            case .head(let head): writeHead(head, framing: .contentLength, into: &buffer)
            case .body(.byteBuffer(var body)): buffer.writeBuffer(&body)
            case .body(.fileRegion), .end: break
            }
        }
        return buffer
    }

    /// Whether header name `name` is `lowercase` (header names ignore case).
    static func isName(_ name: String, _ lowercase: StaticString) -> Bool {
        let expected = UnsafeRawBufferPointer(start: lowercase.utf8Start, count: lowercase.utf8CodeUnitCount)
        guard name.utf8.count == expected.count else { return false }
        return zip(name.utf8, expected).allSatisfy { byte, lower in byte == lower || (byte | 0x20 == lower && lower >= 0x61 && lower <= 0x7A) }
    }

    private static func writeField(_ name: String, _ value: String, into buffer: inout ByteBuffer) {
        buffer.writeString(name)
        buffer.writeStaticString(": ")
        buffer.writeString(value)
        buffer.writeStaticString("\r\n")
    }
}
