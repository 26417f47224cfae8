import Connections
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import NodeMetrics
import RaftWire

/// The binary-protocol listener: frames in, each call handed to the service, answers written as they
/// finish (out of order). A connection with too many calls in flight stops being read
/// until some finish, so one client cannot grow memory without bound.
public final class RPCServer: Sendable {
    public struct Options: Sendable {
        public var maxFrameLength: Int
        public var maxCallsInFlightPerConnection: Int
        public var connections: ConnectionLimits
        /// TLS on the port (nil: plain TCP).
        public var tls: TLSContexts?
        /// Bytes of a stream's responses that may wait to be sent before the stream is ended.
        public var streamBufferLimit: Int
        /// Counts the answers to clients until they are sent (the node's admission bounds).
        public var admission: AdmissionGate?

        public init(
            maxFrameLength: Int = Frame.defaultMaxLength, maxCallsInFlightPerConnection: Int = 1_024,
            connections: ConnectionLimits = ConnectionLimits(), tls: TLSContexts? = nil, streamBufferLimit: Int = 1 << 20,
            admission: AdmissionGate? = nil
        ) {
            self.maxFrameLength = maxFrameLength
            self.maxCallsInFlightPerConnection = maxCallsInFlightPerConnection
            self.connections = connections
            self.tls = tls
            self.streamBufferLimit = streamBufferLimit
            self.admission = admission
        }
    }

    private let listener: TrackedListener

    /// The address the listener is bound to (with the port chosen when 0 was asked).
    public var localAddress: SocketAddress? { listener.localAddress }
    /// Connections open now.
    public var connectionCount: Int { listener.connectionCount }

    public static func start(
        host: String, port: Int, service: any RPCService, options: Options = Options(),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger
    ) async throws -> RPCServer {
        RPCServer(listener: try await TrackedListener.bind(
            host: host, port: port, group: group, limits: options.connections, tls: options.tls, logger: logger,
            refusal: { why in
                // Protos/README.md: said on call id 0, as a frame too large is.
                let notice = Envelope(callID: 0, kind: .response, status: .permissionDenied, message: why)
                var buffer = ByteBuffer()
                try? EnvelopeEncoder(maxFrameLength: options.maxFrameLength).encode(data: notice, out: &buffer)
                return buffer
            }
        ) { pipeline, activity in
            try pipeline.addHandler(ByteToMessageHandler(EnvelopeDecoder(maxFrameLength: options.maxFrameLength)))
            try pipeline.addHandler(MessageToByteHandler(EnvelopeEncoder(maxFrameLength: options.maxFrameLength)))
            try pipeline.addHandler(ServerCallHandler(
                service: service, maxInFlight: options.maxCallsInFlightPerConnection, streamBufferLimit: options.streamBufferLimit,
                activity: activity, admission: options.admission, logger: logger))
        })
    }

    private init(listener: TrackedListener) {
        self.listener = listener
    }

    /// Stops listening and closes every connection.
    public func close() async throws {
        await listener.close()
    }
}

/// Hands each request of one connection to the service and writes its answer when done.
final class ServerCallHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = Envelope
    typealias OutboundOut = Envelope

    private let service: any RPCService
    private let maxInFlight: Int
    private let streamBufferLimit: Int
    private let activity: ConnectionActivity
    private let admission: AdmissionGate?
    private let logger: Logger
    private var inFlight = 0
    private var paused = false
    /// Unary calls by method and status (streams are not counted here).
    private static let metrics = RequestMetrics(count: .rpcRequests, duration: .rpcDuration, nameLabel: "method")
    private lazy var metrics = RequestMetrics.Local(Self.metrics)
    /// Streaming calls not yet ended, by call id (a cancel names one).
    private var streams: [UInt64: ResponseStream] = [:]
    /// A flush is queued behind the answers written in this turn of the loop.
    private var flushQueued = false

    init(
        service: any RPCService, maxInFlight: Int, streamBufferLimit: Int, activity: ConnectionActivity, admission: AdmissionGate? = nil,
        logger: Logger
    ) {
        self.service = service
        self.admission = admission
        self.maxInFlight = maxInFlight
        self.streamBufferLimit = streamBufferLimit
        self.activity = activity
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let request = unwrapInboundIn(data)
        if request.kind == .cancel {
            // One the stream ended already, or never was, is nothing to cancel.
            streams[request.callID]?.cancel(closing: false)
            return
        }
        guard request.kind == .request, request.callID != 0 else {
            // Protos/README.md: a response sent to a server, or a request without a call id.
            logger.notice("closing a connection that broke the protocol", metadata: [
                "remote": "\(context.remoteAddress.map { "\($0)" } ?? "?")", "call_id": "\(request.callID)"])
            context.close(promise: nil)
            return
        }
        inFlight += 1
        activity.requestReceived()
        updateReading(channel: context.channel)
        let call = InboundCall(
            method: request.method, payload: request.payload, timeoutMs: request.timeoutMs, hops: request.hops,
            caller: activity.caller(context.pipeline.syncOperations), token: request.authToken, session: request.session)
        let channel = context.channel
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        let method = Method(rawValue: request.method)
        if method?.streams == true {
            guard streams[request.callID] == nil else {
                let duplicate = Envelope(callID: request.callID, kind: .response, status: .invalidArgument, message: "call id \(request.callID) is already streaming")
                return channel.writeAndFlush(duplicate).whenComplete { _ in handler.value.callFinished(channel: channel) }
            }
            let callID = request.callID
            let stream = ResponseStream(
                callID: callID, loop: context.eventLoop, bufferLimit: streamBufferLimit,
                write: { [activity] response in
                    let written = channel.writeAndFlush(response)
                    written.whenSuccess { activity.progressed() }
                    return written
                },
                ended: {
                    handler.value.streams[callID] = nil
                    handler.value.callFinished(channel: channel)
                })
            streams[callID] = stream
            return service.stream(call, to: stream)
        }
        let started = NIODeadline.now()
        let admission = admission, activity = activity
        service.respond(to: call, on: context.eventLoop).hop(to: context.eventLoop).whenComplete { outcome in
            let result: RPCResult
            switch outcome {
            case .success(let answer): result = answer
            case .failure(let error): result = .failure(.internal, "\(error)")
            }
            var response: Envelope
            switch result {
            case .success(let payload):
                response = Envelope(callID: request.callID, kind: .response, payload: payload)
            case .failure(let error):
                response = Envelope.failure(callID: request.callID, error)
            }
            let took = UInt64(max(0, (NIODeadline.now() - started).nanoseconds))
            // A client's answer counts against the node's bound until it is sent; a read's that
            // would pass it is refused instead (reads admitted together each found room).
            var answerBytes = method?.isRaft == true ? 0 : response.payload.count
            let isRead = method == .get && response.status == .ok
            if let refusal = admission?.answerQueued(bytes: answerBytes, isRead: isRead) {
                response = Envelope.failure(callID: request.callID, refusal)
                answerBytes = response.payload.count
                admission?.answerQueued(bytes: answerBytes)
            }
            activity.answerQueued()
            // The call counts against the limit until its answer is written: a client that
            // does not read its answers stops being read.
            let written = channel.write(response)
            handler.value.flushSoon(channel)
            let queuedBytes = answerBytes, status = response.status
            written.whenComplete { _ in
                admission?.answerSent(bytes: queuedBytes)
                channel.eventLoop.execute {
                    handler.value.metrics.record(
                        name: method?.rawValue ?? "unknown", code: "\(status)", nanoseconds: took)
                    handler.value.callFinished(channel: channel)
                }
            }
        }
    }

    /// The caller went away: its streams end (nothing more can reach it).
    func channelInactive(context: ChannelHandlerContext) {
        for stream in Array(streams.values) { stream.cancel(closing: true) }
        context.fireChannelInactive()
    }

    /// A client that does not read its answers stops being read too.
    func channelWritabilityChanged(context: ChannelHandlerContext) {
        updateReading(channel: context.channel)
        context.fireChannelWritabilityChanged()
    }

    /// Stops reading at the limit of calls in flight or while answers cannot be written, and
    /// reads again once half the calls are answered and answers can be written.
    private func updateReading(channel: any Channel) {
        let shouldPause = !channel.isWritable || inFlight >= (paused ? maxInFlight / 2 : maxInFlight)
        if shouldPause != paused {
            paused = shouldPause
            channel.setOption(ChannelOptions.autoRead, value: !shouldPause).whenComplete { _ in }
        }
    }

    /// Answers that come in one turn of the loop (a batch of applied writes) go out in one
    /// flush: one system call, not one each.
    private func flushSoon(_ channel: any Channel) {
        guard !flushQueued else { return }
        flushQueued = true
        let handler = NIOLoopBound(self, eventLoop: channel.eventLoop)
        channel.eventLoop.execute {
            handler.value.flushQueued = false
            channel.flush()
        }
    }

    private func callFinished(channel: any Channel) {
        inFlight -= 1
        activity.requestAnswered()
        updateReading(channel: channel)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if case WireError.frameTooLarge(let length, let limit) = error {
            // Protos/README.md: say why on call id 0, then close.
            let notice = Envelope(
                callID: 0, kind: .response, status: .resourceExhausted,
                message: "frame of \(length) bytes is over the limit of \(limit) bytes")
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(notice)).whenComplete { _ in channel.close(promise: nil) }
            return
        }
        let remote = "\(context.remoteAddress.map { "\($0)" } ?? "?")"
        if error is IOError || error as? NIOSSLError == .uncleanShutdown {
            // The peer went away (reset, crashed): ordinary on a network, not a protocol error.
            logger.debug("connection lost", metadata: ["remote": "\(remote)", "error": "\(error)"])
        } else {
            logger.notice("closing a connection after a protocol error", metadata: ["remote": "\(remote)", "error": "\(error)"])
        }
        context.close(promise: nil)
    }
}
