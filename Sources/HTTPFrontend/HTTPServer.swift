import Connections
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
import NodeMetrics
import RaftNode
import RaftWire

/// The HTTP listener: SwiftNIO's HTTP/1.1 codec, with its pipelining assistance so answers
/// go out in request order, and a handler per connection that reads one request at a time
/// and answers it through the frontend. Run on the node's loop, a key request reaches the
/// Raft core and its answer goes back without a task or a thread hop.
public final class HTTPServer: Sendable {
    private let listener: TrackedListener

    /// The address the listener is bound to (with the port chosen when 0 was asked).
    public var localAddress: SocketAddress? { listener.localAddress }
    /// Connections open now.
    public var connectionCount: Int { listener.connectionCount }

    public static func start(
        host: String, port: Int, frontend: HTTPFrontend, group: any EventLoopGroup,
        limits: ConnectionLimits = ConnectionLimits(), tls: TLSContexts? = nil, logger: Logger
    ) async throws -> HTTPServer {
        let bodyLimit = frontend.bodyLimit
        return HTTPServer(listener: try await TrackedListener.bind(
            host: host, port: port, group: group, limits: limits, tls: tls, logger: logger,
            refusal: { why in
                let answer = APIError(.forbidden, why).answer
                var raw = ByteBuffer(string: "HTTP/1.1 403 Forbidden\r\n")
                for (name, value) in answer.headers { raw.writeString("\(name): \(value)\r\n") }
                raw.writeString("Content-Length: \(answer.body.readableBytes)\r\nConnection: close\r\n\r\n")
                raw.writeImmutableBuffer(answer.body)
                return raw
            }
        ) { pipeline, activity in
            // Malformed HTTP is answered 400 and the connection closed by NIO. Answers carry
            // only header names and values of our own, so they go unvalidated.
            try pipeline.configureHTTPServerPipeline(
                withPipeliningAssistance: true, withErrorHandling: true, withOutboundHeaderValidation: false)
            try pipeline.addHandler(HTTPConnectionHandler(frontend: frontend, bodyLimit: bodyLimit, activity: activity, logger: logger))
        })
    }

    private init(listener: TrackedListener) {
        self.listener = listener
    }

    /// Stops listening and closes every connection.
    public func close() async {
        await listener.close()
    }
}

/// One connection: gathers a request's head and body (refusing a body over the limit from
/// its Content-Length, or once it grows past it), asks the frontend, writes the answer.
final class HTTPConnectionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private enum State {
        case idle
        case reading(HTTPRequestHead, ByteBuffer)
        /// A body over the limit: answered already; the rest is dropped and the connection closes.
        case refused
    }

    private let frontend: HTTPFrontend
    private let bodyLimit: Int
    private let activity: ConnectionActivity
    private let logger: Logger
    private var state = State.idle
    /// The watch this connection streams, if it does.
    private var watch: WatchHandle?

    init(frontend: HTTPFrontend, bodyLimit: Int, activity: ConnectionActivity, logger: Logger) {
        self.frontend = frontend
        self.bodyLimit = bodyLimit
        self.activity = activity
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch (unwrapInboundIn(data), state) {
        case (.head(let head), .idle):
            if let length = head.headers.first(name: "Content-Length").flatMap(Int.init), length > bodyLimit {
                refuse(context: context, head: head, length: length)
            } else {
                state = .reading(head, ByteBuffer())
                // curl asks before sending a large body; say go on rather than make it wait.
                if head.headers["expect"].contains(where: { $0.lowercased() == "100-continue" }) {
                    context.writeAndFlush(
                        wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .continue))), promise: nil)
                }
            }
        case (.body(var chunk), .reading(let head, var body)):
            guard body.readableBytes + chunk.readableBytes <= bodyLimit else {
                return refuse(context: context, head: head, length: body.readableBytes + chunk.readableBytes)
            }
            state = .idle  // Lets `body` be appended to without a copy.
            body.writeBuffer(&chunk)
            state = .reading(head, body)
        case (.end, .reading(let head, let body)):
            state = .idle
            let certificate = activity.caller(context.pipeline.syncOperations)
            answer(context: context, request: HTTPFrontend.Request(head: head, body: body, certificate: certificate))
        case (_, .refused):
            break
        default:
            // The codec never sends parts out of order; close rather than guess.
            context.close(promise: nil)
        }
    }

    private func answer(context: ChannelHandlerContext, request: HTTPFrontend.Request) {
        activity.requestReceived()
        let measured = Measured(head: request.head)
        switch frontend.respond(to: request) {
        case .now(let answer):
            write(answer, context: context, measured)
        case .watch(let request, let format, let requester):
            let sink = HTTPWatchSink(
                channel: context.channel, format: format, version: measured.version, bufferLimit: frontend.watchBufferLimit, activity: activity)
            let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
            let channel = context.channel, loop = frontend.api.node.eventLoop
            frontend.api.watch(request, to: sink, by: requester).hop(to: context.eventLoop).whenComplete { result in
                switch result {
                case .success(let handle):
                    // The caller may have gone already; else this is what its leaving ends.
                    if channel.isActive { handler.value.watch = handle } else { loop.execute { handle.cancel() } }
                case .failure(let error):
                    sink.end(error as? RPCError ?? RPCError(.internal, "\(error)"))
                }
            }
        case .stream(let stream):
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            stream.hop(to: context.eventLoop).whenComplete { result in
                let (handler, context) = loopBound.value
                switch result {
                case .success(let stream): handler.send(stream, context: context, measured)
                case .failure(let error): handler.write(HTTPFrontend.answer(for: error), context: context, measured)
                }
            }
        case .later(let answer):
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            answer.hop(to: context.eventLoop).whenComplete { result in
                let (handler, context) = loopBound.value
                let answer: HTTPAnswer
                switch result {
                case .success(let value): answer = value
                case .failure(let error): answer = APIError(.internalServerError, "\(error)").answer
                }
                handler.write(answer, context: context, measured)
            }
        }
    }

    private func refuse(context: ChannelHandlerContext, head: HTTPRequestHead, length: Int) {
        state = .refused
        activity.requestReceived()
        let answer = APIError(.payloadTooLarge, "a body of \(length) bytes is over the limit of \(bodyLimit) bytes").answer
        var measured = Measured(head: head)
        measured.keepAlive = false
        write(answer, context: context, measured)
    }

    /// Requests by route template, method and status, timed from their last byte to their answer.
    private static let metrics = RequestMetrics(count: .httpRequests, duration: .httpDuration, nameLabel: "route")
    private lazy var metrics = RequestMetrics.Local(Self.metrics)

    /// What the answer to a request is written and counted by.
    private struct Measured {
        let version: HTTPVersion
        var keepAlive: Bool
        let method: HTTPMethod
        let route: String
        let started = NIODeadline.now()

        init(head: HTTPRequestHead) {
            version = head.version
            keepAlive = head.isKeepAlive
            method = head.method
            route = HTTPFrontend.routeTemplate(uri: head.uri)
        }
    }

    private func write(_ answer: HTTPAnswer, context: ChannelHandlerContext, _ measured: Measured) {
        let version = measured.version, keepAlive = measured.keepAlive
        metrics.record(
            name: measured.route, verb: measured.method.rawValue, code: String(answer.status.code),
            nanoseconds: UInt64(max(0, (NIODeadline.now() - measured.started).nanoseconds)))
        for part in answer.parts(version: version, keepAlive: keepAlive) { context.write(wrapOutboundOut(part), promise: nil) }
        let written = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        // Answered once written: a client that does not read its answers makes no progress.
        let activity = activity
        written.whenComplete { _ in activity.requestAnswered() }
        if !keepAlive {
            let channel = context.channel
            written.whenComplete { _ in channel.close(promise: nil) }
        }
    }

    /// Writes a streamed answer: its head, then each part once the one before it is written;
    /// a stream that fails midway is cut short (the client sees the body end early).
    private func send(_ stream: HTTPStream, context: ChannelHandlerContext, _ measured: Measured) {
        metrics.record(
            name: measured.route, verb: measured.method.rawValue, code: String(stream.status.code),
            nanoseconds: UInt64(max(0, (NIODeadline.now() - measured.started).nanoseconds)))
        var headers = stream.headers
        if !measured.keepAlive { headers.replaceOrAdd(name: "Connection", value: "close") }
        context.writeAndFlush(
            wrapOutboundOut(.head(HTTPResponseHead(version: measured.version, status: stream.status, headers: headers))), promise: nil)
        let channel = context.channel, activity = activity, keepAlive = measured.keepAlive
        if let finished = stream.finished { channel.closeFuture.whenComplete { _ in finished() } }
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        @Sendable func pump() {
            guard channel.isActive else { return }
            stream.next().hop(to: channel.eventLoop).whenComplete { result in
                let (handler, context) = loopBound.value
                switch result {
                case .success(let part?):
                    context.writeAndFlush(handler.wrapOutboundOut(.body(.byteBuffer(part)))).whenSuccess {
                        activity.progressed()
                        pump()
                    }
                case .success(nil):
                    let written = context.writeAndFlush(handler.wrapOutboundOut(.end(nil)))
                    written.whenComplete { _ in
                        activity.requestAnswered()
                        if !keepAlive { channel.close(promise: nil) }
                    }
                case .failure(let error):
                    handler.logger.warning("a streamed answer failed; cutting it short", metadata: ["error": "\(error)"])
                    channel.close(promise: nil)
                }
            }
        }
        pump()
    }

    /// A client that does not read its answers stops being read: its unread answers stay
    /// within the channel's write buffer bound, not one per request it keeps sending.
    func channelWritabilityChanged(context: ChannelHandlerContext) {
        context.channel.setOption(ChannelOptions.autoRead, value: context.channel.isWritable).whenComplete { _ in }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let watch {
            self.watch = nil
            frontend.api.node.eventLoop.execute { watch.cancel() }
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("HTTP connection closed after an error", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }
}
