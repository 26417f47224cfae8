import NIOCore
import NIOHTTP1

/// How long the first line of the request being read is (so far): NIO's decoder reports a
/// URL and headers past its limits as one error, and this tells 414 (the URL) from 431.
final class RequestLineProgress {
    var lineLength = 0
    var lineEnded = false

    func reset() {
        lineLength = 0
        lineEnded = false
    }
}

/// Just before NIO's HTTP decoder: looks for the end of each request's first line in the bytes
/// as they arrive (a short look: it is near the start, and then the look stops until the
/// request ends).
final class RequestLineWatch: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let progress: RequestLineProgress

    init(_ progress: RequestLineProgress) {
        self.progress = progress
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if !progress.lineEnded {
            let (length, ended) = unwrapInboundIn(data).withUnsafeReadableBytes { bytes in
                bytes.firstIndex(of: UInt8(ascii: "\n")).map { ($0, true) } ?? (bytes.count, false)
            }
            progress.lineLength += length
            progress.lineEnded = ended
        }
        context.fireChannelRead(data)
    }
}

/// Where NIO's own error handler would be: answers a request NIO cannot parse with the JSON
/// error every other refusal gets, then lets the decoder close the connection. A URL or
/// headers past the decoder's limit are 414 or 431, naming the flag that sets it; anything
/// else malformed is 400.
final class MalformedRequestAnswers: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let progress: RequestLineProgress
    private let maxHeaderSize: Int
    /// An answer has begun and not ended: no other may be written now.
    private var answering = false

    init(_ progress: RequestLineProgress, maxHeaderSize: Int) {
        self.progress = progress
        self.maxHeaderSize = maxHeaderSize
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .end = unwrapInboundIn(data) { progress.reset() }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let head) where head.status.code >= 200: answering = true
        case .end: answering = false
        default: break
        }
        context.write(data, promise: promise)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parse = error as? HTTPParserError else { return context.fireErrorCaught(error) }
        if !answering {
            let refusal: APIError
            if case .headerOverflow = parse {
                let (status, what): (HTTPResponseStatus, String) =
                    progress.lineLength < maxHeaderSize ? (.requestHeaderFieldsTooLarge, "headers") : (.uriTooLong, "URL")
                refusal = APIError(
                    status, "the request's \(what) \(what == "URL" ? "is" : "are") over the limit of \(maxHeaderSize) bytes (--max-header-size)",
                    limit: "max-header-size")
            } else {
                refusal = APIError(.badRequest, "malformed HTTP request: \(parse)")
            }
            for part in refusal.answer.parts(version: .http1_1, keepAlive: false) { context.write(wrapOutboundOut(part), promise: nil) }
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
        // The decoder closes the connection once this returns.
        context.fireErrorCaught(error)
    }
}
