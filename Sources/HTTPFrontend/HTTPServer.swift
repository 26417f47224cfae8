import Connections
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
import NodeMetrics
import RaftNode
import RaftWire

/// The HTTP listener: SwiftNIO's HTTP/1.1 codec, and a handler per connection that answers
/// each request through the frontend, in request order. Run on the node's loop, a key request
/// reaches the Raft core and its answer goes back without a task or a thread hop.
public final class HTTPServer: Sendable {
    private let listener: TrackedListener

    /// The address the listener is bound to (with the port chosen when 0 was asked).
    public var localAddress: SocketAddress? { listener.localAddress }
    /// Connections open now.
    public var connectionCount: Int { listener.connectionCount }

    public static func start(
        host: String, port: Int, frontend: HTTPFrontend, group: any EventLoopGroup,
        limits: ConnectionLimits = ConnectionLimits(), tls: TLSContexts? = nil, maxHeaderSize: Int = defaultMaxHeaderSize, logger: Logger
    ) async throws -> HTTPServer {
        let bodyLimit = frontend.bodyLimit
        return HTTPServer(listener: try await TrackedListener.bind(
            // One read per connection per turn: under a flood of large bodies, the heads of
            // requests to refuse are read in the same turn as the bodies being read, not after
            // 256 KiB of each (a refusal's latency: p50 85 -> 27 ms in the first second of 400
            // writers of 1 MiB starting at once, on the wire).
            host: host, port: port, group: group, limits: limits, tls: tls, readsPerTurn: 1, logger: logger,
            refusal: { why in HTTPResponseWriter.bytes(of: APIError(.forbidden, why).answer, keepAlive: false) }
        ) { pipeline, activity in
            // Malformed HTTP is answered (MalformedRequests.swift) and the connection closed by
            // NIO. Answers carry only header names and values of our own, so they go unvalidated.
            let progress = RequestLineProgress()
            var decoderLimits = NIOHTTPDecoderLimitConfiguration()
            decoderLimits.maxHeaderFieldSize = maxHeaderSize
            decoderLimits.maxHeaderListSize = maxHeaderSize
            try pipeline.addHandler(RequestLineWatch(progress))
            // NIO's request decoder; answers written by our own writer (HTTPResponseWriter.swift).
            try pipeline.addHandler(ByteToMessageHandler(HTTPRequestDecoder(
                leftOverBytesStrategy: .dropBytes, informationalResponseStrategy: .drop, limitConfiguration: decoderLimits)))
            try pipeline.addHandler(HTTPResponseWriter())
            try pipeline.addHandler(MalformedRequestAnswers(progress, maxHeaderSize: maxHeaderSize))
            try pipeline.addHandler(HTTPConnectionHandler(frontend: frontend, bodyLimit: bodyLimit, activity: activity, logger: logger))
        })
    }

    /// NIO's own bound on a request's URL, and on its header fields together.
    public static let defaultMaxHeaderSize = 80 << 10

    private init(listener: TrackedListener) {
        self.listener = listener
    }

    /// Stops listening and closes every connection.
    public func close() async {
        await listener.close()
    }
}

/// One connection: gathers a request's head and body (refusing a body over the limit from
/// its Content-Length, or once it grows past it; and a request the node's admission bounds
/// have no room for, from its head), asks the frontend, writes the answer. The body of a
/// request refused for load is read and dropped, up to the body limit, so the client reads
/// its answer on a connection that goes on; one over the body limit closes the connection.
///
/// Requests a client pipelines are read while earlier ones are answered, and each waits for its
/// turn: it is carried out once the one before it is answered, so a read sees the writes sent
/// before it on the connection, and answers go out in request order. NIO's pipelining
/// assistance did this by reading nothing while an answer was due, which cost two epoll_ctl
/// calls a request; here reading stops only once `maxPipelined` requests wait.
final class HTTPConnectionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    /// The share of the node's admission bounds a request holds until it is answered (none
    /// for the status and the operator's calls, which do not count).
    struct Held {
        var bytes: Int
        let isWrite: Bool
    }

    private enum State {
        case idle
        /// `turn`: the request's place in the connection's order of answers (its body so far
        /// is `body`).
        case reading(HTTPRequestHead, Held?, turn: Int)
        /// Answered already (refused for load): the rest of the request's body is dropped, this
        /// many bytes of it at most before the connection is closed.
        case refused(drainable: Int)
    }

    private let frontend: HTTPFrontend
    private let bodyLimit: Int
    private let activity: ConnectionActivity
    private let logger: Logger
    private var state = State.idle
    /// The body of the request being read. Kept out of `state`: a copy of the state (the switch
    /// over it takes one) would share its storage, and each part appended would copy all the
    /// parts before it (8 MiB moved for a 1 MiB body, a quarter of a flooded leader's loop).
    private var body = ByteBuffer()
    /// The watch this connection streams, if it does.
    private var watch: WatchHandle?
    /// Requests whose head has been read; the turn of the next answer to write; what waits for
    /// its turn (a request to carry out, or a refusal to write), with the share each holds.
    private var requestsRead = 0
    private var turn = 0
    private var early: [Int: (held: Held?, write: () -> Void)] = [:]
    /// Turns being taken by `nextTurn` (its loop, not a recursion, writes what waited).
    private var takingTurns = false
    private var reading = true
    private var isActive = true
    /// Requests read and not yet answered past which reading stops.
    static let maxPipelined = 16

    init(frontend: HTTPFrontend, bodyLimit: Int, activity: ConnectionActivity, logger: Logger) {
        self.frontend = frontend
        self.bodyLimit = bodyLimit
        self.activity = activity
        self.logger = logger
    }

    private var gate: AdmissionGate { frontend.api.node.admission }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch (unwrapInboundIn(data), state) {
        case (.head(let head), .idle):
            let turn = requestsRead
            requestsRead += 1
            updateReading(context)
            let length = Self.announcedLength(head)
            if length > bodyLimit {
                return refuse(bodyTooLarge(length), context: context, head: head, turn: turn, drainable: nil)
            }
            // Reads and writes of keys count against the node's bounds; the status, metrics,
            // probes and the operator's calls answer whatever the load.
            var held: Held?
            if Self.isAdmitted(uri: head.uri) {
                let isWrite = head.method != .GET && head.method != .HEAD
                if let refusal = gate.admit(bytes: length, isWrite: isWrite) {
                    // A client that waits for 100 Continue sends no body: close rather than guess.
                    return refuse(
                        APIError(refusal), context: context, head: head, turn: turn, drainable: Self.expectsContinue(head) ? nil : bodyLimit)
                }
                held = Held(bytes: length, isWrite: isWrite)
            }
            body = ByteBuffer()
            state = .reading(head, held, turn: turn)
            // curl asks before sending a large body; say go on rather than make it wait (unless
            // an earlier answer is due: the client would take the interim answer for that one's).
            if Self.expectsContinue(head), turn == self.turn {
                context.writeAndFlush(
                    wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .continue))), promise: nil)
            }
        case (.body(var chunk), .reading(let head, var held, let turn)):
            let length = body.readableBytes + chunk.readableBytes
            guard length <= bodyLimit else {
                gate.release(held)
                return refuse(bodyTooLarge(length), context: context, head: head, turn: turn, drainable: nil)
            }
            // A body without a Content-Length (chunked) takes its share as it arrives.
            if let share = held, length > share.bytes {
                if let refusal = gate.take(bytes: length - share.bytes) {
                    gate.release(held)
                    return refuse(APIError(refusal), context: context, head: head, turn: turn, drainable: bodyLimit - length)
                }
                held?.bytes = length
            }
            if body.readableBytes == 0 {
                // A body read in one part is kept as it was read, not copied.
                body = chunk
            } else {
                // Room for the rest of an announced length at once: a body read in 64 KiB parts
                // is not copied as it grows (one without a length grows by doubling).
                if body.writableBytes < chunk.readableBytes, case let announced = Self.announcedLength(head), announced > 0 {
                    body.reserveCapacity(minimumWritableBytes: max(chunk.readableBytes, announced - body.readableBytes))
                }
                body.writeBuffer(&chunk)
            }
            state = .reading(head, held, turn: turn)
        case (.end, .reading(let head, let held, let turn)):
            state = .idle
            let request = HTTPFrontend.Request(head: head, body: body, certificate: activity.caller(context.pipeline.syncOperations))
            body = ByteBuffer()
            guard isTurnNow(turn) else {
                return inTurn(turn, held: held, context: context) { self.answer(context: context, request: request, held: held, turn: turn) }
            }
            answer(context: context, request: request, held: held, turn: turn)
        case (.body(let chunk), .refused(let drainable)):
            guard chunk.readableBytes <= drainable else { return context.close(promise: nil) }
            state = .refused(drainable: drainable - chunk.readableBytes)
        case (.end, .refused):
            state = .idle
            activity.requestEnded()
        case (_, .refused):
            break
        default:
            // The codec never sends parts out of order; close rather than guess.
            context.close(promise: nil)
        }
    }

    private func answer(context: ChannelHandlerContext, request: HTTPFrontend.Request, held: Held?, turn: Int) {
        activity.requestReceived()
        let measured = Measured(head: request.head, held: held)
        switch frontend.respond(to: request) {
        case .now(let answer):
            writeInTurn(answer, turn: turn, held: held, context: context, measured)
        case .watch(let request, let format, let requester):
            // A watch streams from its turn on; pipelined requests after it wait for its end.
            inTurn(turn, held: held, context: context) { self.startWatch(request, format: format, by: requester, context: context, measured) }
        case .stream(let stream):
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            stream.hop(to: context.eventLoop).whenComplete { result in
                let (handler, context) = loopBound.value
                handler.inTurn(turn, held: held, context: context) {
                    switch result {
                    case .success(let stream): handler.send(stream, context: context, measured)
                    case .failure(let error): handler.write(HTTPFrontend.answer(for: error), context: context, measured)
                    }
                }
            }
        case .later(let answer):
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            answer.hop(to: context.eventLoop).whenComplete { result in
                let (handler, context) = loopBound.value
                let answer: HTTPAnswer
                switch result {
                case .success(let value): answer = value
                case .failure(let error): answer = HTTPFrontend.answer(for: error)
                }
                handler.writeInTurn(answer, turn: turn, held: held, context: context, measured)
            }
        }
    }

    private func startWatch(
        _ request: WatchRequest, format: HTTPWatchSink.Format, by requester: NodeAPI.Requester, context: ChannelHandlerContext, _ measured: Measured
    ) {
        gate.release(measured.held)
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
    }

    /// Runs `write` (which carries out request `turn`, or writes its answer) now if it is that
    /// request's turn, else once the answers before it are written. Nothing is done for a
    /// closed connection; what the request held is given back.
    private func inTurn(_ turn: Int, held: Held?, context: ChannelHandlerContext, _ write: @escaping () -> Void) {
        guard isActive else { return gate.release(held) }
        guard turn == self.turn else {
            early[turn] = (held, write)
            return
        }
        write()
    }

    /// Whether request `turn` may be carried out now, on an open connection (else `inTurn`).
    private func isTurnNow(_ turn: Int) -> Bool {
        isActive && turn == self.turn
    }

    /// `inTurn` for a plain answer, without making a closure when it is its turn already.
    private func writeInTurn(_ answer: HTTPAnswer, turn: Int, held: Held?, context: ChannelHandlerContext, _ measured: Measured) {
        guard isTurnNow(turn) else {
            return inTurn(turn, held: held, context: context) { self.write(answer, context: context, measured) }
        }
        write(answer, context: context, measured)
    }

    /// The answer of this turn is written (queued in order on the channel): the next one may go.
    private func nextTurn(_ context: ChannelHandlerContext) {
        turn += 1
        if !takingTurns {
            takingTurns = true
            // Each write ends its turn (a streamed one once its stream ends), which brings the next.
            while let next = early.removeValue(forKey: turn) {
                let before = turn
                next.write()
                if turn == before { break }
            }
            takingTurns = false
        }
        updateReading(context)
    }

    /// Reads while the client reads its answers and few of its requests wait for theirs.
    private func updateReading(_ context: ChannelHandlerContext) {
        let shouldRead = context.channel.isWritable && requestsRead - turn < Self.maxPipelined
        guard shouldRead != reading else { return }
        reading = shouldRead
        context.channel.setOption(ChannelOptions.autoRead, value: shouldRead).whenComplete { _ in }
    }

    /// Answers `head` with `error` before the rest of its body is read. Then up to `drainable`
    /// bytes of the body are read and dropped and the connection goes on; nil: it is closed.
    private func refuse(_ error: APIError, context: ChannelHandlerContext, head: HTTPRequestHead, turn: Int, drainable: Int?) {
        state = .refused(drainable: drainable ?? 0)
        body = ByteBuffer()
        activity.requestReceived()
        var measured = Measured(head: head)
        if drainable == nil { measured.keepAlive = false }
        inTurn(turn, held: nil, context: context) { self.write(error.answer, context: context, measured) }
    }

    /// The body length `head` announces (0 without one: a chunked body).
    private static func announcedLength(_ head: HTTPRequestHead) -> Int {
        max(0, head.headers.first(name: "Content-Length").flatMap(Int.init) ?? 0)
    }

    private static func expectsContinue(_ head: HTTPRequestHead) -> Bool {
        head.headers["expect"].contains { $0.lowercased() == "100-continue" }
    }

    /// Requests that read or change keys (what admission bounds); not the status, metrics,
    /// probes, page, backups or membership and leadership calls an operator needs most when
    /// the node is busiest.
    static func isAdmitted(uri: String) -> Bool {
        uri.hasPrefix("/api/v1/key") || uri.hasPrefix("/api/v1/txn") || uri.hasPrefix("/api/v1/batch")
            || uri.hasPrefix("/api/v1/session")
    }

    private func bodyTooLarge(_ length: Int) -> APIError {
        APIError(.payloadTooLarge, "a body of \(length) bytes is over the limit of \(bodyLimit) bytes (--max-value-size)", limit: "max-value-size")
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
        /// What the request holds of the admission bounds, given back once it is answered.
        var held: Held?

        init(head: HTTPRequestHead, held: Held? = nil) {
            self.held = held
            version = head.version
            keepAlive = head.isKeepAlive
            method = head.method
            route = HTTPFrontend.routeTemplate(uri: head.uri)
        }
    }

    private func write(_ answer: HTTPAnswer, context: ChannelHandlerContext, _ measured: Measured) {
        let version = measured.version, keepAlive = measured.keepAlive, gate = gate
        // The answer is held, and counted against the node's bound, until its reader takes it;
        // one that does not within the write timeout is closed.
        let answer = queued(answer, isRead: measured.held?.isWrite == false)
        metrics.record(
            name: measured.route, verb: measured.method.rawValue, code: String(answer.status.code),
            nanoseconds: UInt64(max(0, (NIODeadline.now() - measured.started).nanoseconds)))
        for part in answer.parts(version: version, keepAlive: keepAlive) { context.write(wrapOutboundOut(part), promise: nil) }
        let answerBytes = answer.body.readableBytes
        activity.answerQueued()
        let written = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        // Answered once written: a client that does not read its answers makes no progress.
        let activity = activity, held = measured.held
        written.whenComplete { _ in
            gate.answerSent(bytes: answerBytes)
            activity.requestAnswered()
            gate.release(held)
        }
        if keepAlive {
            nextTurn(context)
        } else {
            // Requests the client sent after this one are not answered.
            let channel = context.channel
            written.whenComplete { _ in channel.close(promise: nil) }
        }
    }

    /// `answer`, counted against the node's bound on answers waiting for their readers; a read's
    /// answer that would pass it is replaced by the refusal (reads admitted together each found
    /// room before any of their answers was ready).
    private func queued(_ answer: HTTPAnswer, isRead: Bool) -> HTTPAnswer {
        guard let refusal = gate.answerQueued(bytes: answer.body.readableBytes, isRead: isRead) else { return answer }
        let refused = APIError(refusal).answer
        gate.answerQueued(bytes: refused.body.readableBytes)
        return refused
    }

    /// Writes a streamed answer: its head, then each part once the one before it is written;
    /// a stream that fails midway is cut short (the client sees the body end early).
    private func send(_ stream: HTTPStream, context: ChannelHandlerContext, _ measured: Measured) {
        gate.release(measured.held)
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
                    if keepAlive { handler.nextTurn(context) }
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
        updateReading(context)
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        // A request still being read gives its share back; one being answered does once it is.
        if case .reading(_, let held, _) = state {
            state = .idle
            body = ByteBuffer()
            gate.release(held)
        }
        isActive = false
        for (_, waiting) in early { gate.release(waiting.held) }
        early = [:]
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

extension AdmissionGate {
    /// Gives back what a request held (nothing, for one that does not count).
    func release(_ held: HTTPConnectionHandler.Held?) {
        if let held { release(bytes: held.bytes, isWrite: held.isWrite) }
    }
}
