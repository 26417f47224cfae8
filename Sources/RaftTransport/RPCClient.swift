import Connections
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import RaftWire

/// Calls to one peer over up to `maxConnections` connections (--max-pool), made as needed
/// and made again after a failure with exponential backoff. Calls are multiplexed by call id
/// and answered in any order. Calls to a peer that cannot take more (too many waiting, or
/// unreachable while backing off) fail at once instead of queueing without bound.
public final class RPCClient: Sendable {
    public struct Options: Sendable {
        public var maxConnections: Int
        /// Connecting, and each call without a deadline of its own (--timeout).
        public var timeout: TimeAmount
        public var maxFrameLength: Int
        public var maxCallsInFlightPerConnection: Int
        public var initialBackoff: TimeAmount
        public var maxBackoff: TimeAmount
        /// TLS to the server, presenting this side's certificate (nil: plain TCP).
        public var tls: TLSContexts?
        /// The bearer token every call carries unless it names its own ("" for none).
        public var token: String

        public init(
            maxConnections: Int = 3, timeout: TimeAmount = .seconds(3), maxFrameLength: Int = Frame.defaultMaxLength,
            maxCallsInFlightPerConnection: Int = 4_096, initialBackoff: TimeAmount = .milliseconds(50),
            maxBackoff: TimeAmount = .seconds(2), tls: TLSContexts? = nil, token: String = ""
        ) {
            self.tls = tls
            self.token = token
            self.maxConnections = max(1, maxConnections)
            self.timeout = timeout
            self.maxFrameLength = maxFrameLength
            self.maxCallsInFlightPerConnection = maxCallsInFlightPerConnection
            self.initialBackoff = initialBackoff
            self.maxBackoff = maxBackoff
        }
    }

    private struct Pool {
        /// Each slot: the connection's future while it connects and after.
        var connections: [EventLoopFuture<any Channel>?]
        var next = 0
        var backoff: TimeAmount
        var retryAt: NIODeadline = .uptimeNanoseconds(0)
    }

    public let host: String
    public let port: Int
    /// With TLS: the node id the server's certificate must name (nil: any member's).
    public let peer: String?
    private let options: Options
    private let group: any EventLoopGroup
    private let logger: Logger
    private let pool: NIOLockedValueBox<Pool>

    public init(
        host: String, port: Int, peer: String? = nil, options: Options = Options(),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger
    ) {
        self.host = host
        self.port = port
        self.peer = peer
        self.options = options
        self.group = group
        self.logger = logger
        pool = NIOLockedValueBox(Pool(
            connections: Array(repeating: nil, count: options.maxConnections), backoff: options.initialBackoff))
    }

    /// Calls `method` and returns the response payload, or throws RPCError. `ordered`: use
    /// the first connection only, so calls reach the peer in the order they were made.
    public func call(
        _ method: String, payload: [UInt8], timeout: TimeAmount? = nil, ordered: Bool = false, hops: UInt32 = 0,
        token: String? = nil
    ) async throws -> [UInt8] {
        try await callFuture(method, payload: payload, timeout: timeout, ordered: ordered, hops: hops, token: token).get()
    }

    /// `call` without a task: the future completes on the connection's event loop, so a
    /// caller on that loop (a node's own peers) never changes threads. `sharedPayload`: the
    /// rest of the payload, when part of it is shared with other calls.
    public func callFuture(
        _ method: String, payload: [UInt8], sharedPayload: SharedPayload? = nil, timeout: TimeAmount? = nil, ordered: Bool = false,
        hops: UInt32 = 0, token: String? = nil, session: SessionTag? = nil
    ) -> EventLoopFuture<[UInt8]> {
        let token = token ?? options.token
        let timeout = timeout ?? options.timeout
        let host = host, port = port
        return connection(ordered: ordered).flatMap { channel in
            let promise = channel.eventLoop.makePromise(of: Envelope.self)
            let request = Envelope(
                kind: .request, method: method, timeoutMs: UInt32(clamping: timeout.nanoseconds / 1_000_000),
                payload: payload, hops: hops, authToken: token, session: session)
            // A write that fails (the connection closed meanwhile) fails the call too.
            let written = channel.eventLoop.makePromise(of: Void.self)
            written.futureResult.whenFailure { error in
                promise.fail(RPCError(.unavailable, "cannot send to \(host):\(port): \(error)"))
            }
            channel.writeAndFlush(
                PendingCall(request: request, timeout: timeout, promise: promise, sharedPayload: sharedPayload), promise: written)
            return promise.futureResult.flatMapThrowing { response in
                guard response.status == .ok else {
                    let detail = response.payload.isEmpty ? nil : try? ErrorDetail(wireBytes: response.payload)
                    throw RPCError(response.status, response.message, detail: detail)
                }
                return response.payload
            }
        }
    }

    /// A streaming call (`Method.streams`): `part` gets each response's payload in order, on
    /// the connection's loop (so a slow `part` slows the reading); returns once the stream
    /// ends OK, throws the status it ended with otherwise. `timeout` bounds the whole stream.
    /// A `part` that throws ends the call with its error (the rest of the stream is dropped).
    public func callStream(
        _ method: Method, _ request: some WireMessage, timeout: TimeAmount, part: @escaping @Sendable ([UInt8]) throws -> Void
    ) async throws {
        let payload = try request.wireBytes()
        let failure = NIOLockedValueBox<(any Error)?>(nil)
        let host = host, port = port
        let ended = connection(ordered: false).flatMap { channel in
            let promise = channel.eventLoop.makePromise(of: Envelope.self)
            let envelope = Envelope(
                kind: .request, method: method.rawValue, timeoutMs: UInt32(clamping: timeout.nanoseconds / 1_000_000),
                payload: payload, authToken: self.options.token)
            let written = channel.eventLoop.makePromise(of: Void.self)
            written.futureResult.whenFailure { error in promise.fail(RPCError(.unavailable, "cannot send to \(host):\(port): \(error)")) }
            let call = PendingCall(request: envelope, timeout: timeout, promise: promise) { response in
                guard failure.withLockedValue({ $0 == nil }) else { return }
                do { try part(response.payload) } catch { failure.withLockedValue { $0 = error } }
            }
            channel.writeAndFlush(call, promise: written)
            return promise.futureResult
        }
        let last = try await ended.get()
        if let error = failure.withLockedValue({ $0 }) { throw error }
        guard last.status == .ok else {
            let detail = last.payload.isEmpty ? nil : try? ErrorDetail(wireBytes: last.payload)
            throw RPCError(last.status, last.message, detail: detail)
        }
    }

    /// A streaming call (`Method.streams`) as a sequence of response payloads: it finishes
    /// with the stream's last response when that is OK, and throws its status otherwise. A
    /// reader that stops iterating (or is cancelled) ends the call with a CANCEL frame; one
    /// that falls `bufferLimit` responses behind ends it with RESOURCE_EXHAUSTED.
    public func stream(_ method: Method, _ request: some WireMessage, bufferLimit: Int = 1_024) -> AsyncThrowingStream<[UInt8], any Error> {
        let encoded = Result { try request.wireBytes() }
        let token = options.token, host = host, port = port
        let (stream, continuation) = AsyncThrowingStream<[UInt8], any Error>.makeStream(bufferingPolicy: .bufferingOldest(bufferLimit))
        // Whether the reader gave up, and where the call went once it has an id: a cancel
        // sends CANCEL as soon as both are known, whichever comes first.
        let call = NIOLockedValueBox<(cancelled: Bool, id: UInt64?, channel: (any Channel)?)>((false, nil, nil))
        @Sendable func sendCancel() {
            let target = call.withLockedValue { state -> (UInt64, any Channel)? in
                guard state.cancelled, let id = state.id, let channel = state.channel else { return nil }
                state.id = nil  // Once.
                return (id, channel)
            }
            guard let (id, channel) = target else { return }
            let frame = Envelope(callID: id, kind: .cancel)
            let done = channel.eventLoop.makePromise(of: Envelope.self)
            channel.writeAndFlush(PendingCall(request: frame, timeout: .zero, promise: done)).whenComplete { _ in done.succeed(frame) }
        }
        @Sendable func cancel(_ reason: RPCError) {
            call.withLockedValue { $0.cancelled = true }
            sendCancel()
            continuation.finish(throwing: reason)
        }
        continuation.onTermination = { termination in
            if case .cancelled = termination { cancel(RPCError(.cancelled, "cancelled by the reader")) }
        }
        let started = connection(ordered: false)
        started.whenFailure { continuation.finish(throwing: $0) }
        started.whenSuccess { channel in
            let payload: [UInt8]
            do { payload = try encoded.get() } catch { return continuation.finish(throwing: error) }
            let promise = channel.eventLoop.makePromise(of: Envelope.self)
            let request = Envelope(kind: .request, method: method.rawValue, payload: payload, authToken: token)
            var pending = PendingCall(request: request, timeout: .zero, promise: promise) { response in
                if case .dropped = continuation.yield(response.payload) {
                    cancel(RPCError(.resourceExhausted, "the reader fell \(bufferLimit) responses behind the stream"))
                }
            }
            // A stream has no deadline of its own: it lasts until it ends or is cancelled.
            pending.hasDeadline = false
            pending.assigned = { id in
                call.withLockedValue {
                    $0.id = id
                    $0.channel = channel
                }
                sendCancel()  // The reader may have gone already.
            }
            let written = channel.eventLoop.makePromise(of: Void.self)
            written.futureResult.whenFailure { error in
                promise.fail(RPCError(.unavailable, "cannot send to \(host):\(port): \(error)"))
            }
            channel.writeAndFlush(pending, promise: written)
            promise.futureResult.whenComplete { result in
                switch result {
                case .success(let last) where last.status == .ok:
                    continuation.finish()
                case .success(let last):
                    let detail = last.payload.isEmpty ? nil : try? ErrorDetail(wireBytes: last.payload)
                    continuation.finish(throwing: RPCError(last.status, last.message, detail: detail))
                case .failure(let error):
                    continuation.finish(throwing: error)
                }
            }
        }
        return stream
    }

    /// A typed call: encodes the request and decodes the method's response type. `session`:
    /// a client session's write, applied once per sequence (Protos/README.md).
    public func call<Response: WireMessage>(
        _ method: Method, _ request: some WireMessage, as: Response.Type = Response.self, timeout: TimeAmount? = nil,
        ordered: Bool = false, session: SessionTag? = nil
    ) async throws -> Response {
        let payload = try await callFuture(
            method.rawValue, payload: try request.wireBytes(), timeout: timeout, ordered: ordered, session: session
        ).get()
        do {
            return try Response(wireBytes: payload)
        } catch {
            throw RPCError(.internal, "the answer to \(method.rawValue) does not decode: \(error)")
        }
    }

    public func close() async {
        let channels = pool.withLockedValue { pool in
            defer { pool.connections = Array(repeating: nil, count: options.maxConnections) }
            return pool.connections.compactMap { $0 }
        }
        for future in channels {
            if let channel = try? await future.get() { try? await channel.close() }
        }
    }

    /// A connected (or connecting) channel; connects when a slot is empty, unless backing off.
    private func connection(ordered: Bool) -> EventLoopFuture<any Channel> {
        let loop = group.next()
        return pool.withLockedValue { pool in
            let slot: Int
            if ordered {
                slot = 0
            } else {
                slot = pool.next % pool.connections.count
                pool.next &+= 1
            }
            if let existing = pool.connections[slot] { return existing }
            guard NIODeadline.now() >= pool.retryAt else {
                return loop.makeFailedFuture(RPCError(.unavailable, "\(host):\(port) is unreachable; retrying soon"))
            }
            let future = connect(on: loop, slot: slot)
            pool.connections[slot] = future
            return future
        }
    }

    private func connect(on loop: any EventLoop, slot: Int) -> EventLoopFuture<any Channel> {
        let options = options
        let host = host, port = port, peer = peer
        // With TLS the connection is handed out only once the server has shown a member's
        // certificate (the one it was meant to be): no call goes to anyone else.
        let identified = loop.makePromise(of: Void.self)
        let handshakeTimer = loop.scheduleTask(in: options.timeout) {
            identified.fail(RPCError(.unavailable, "no TLS handshake with \(host):\(port) within the timeout"))
        }
        identified.futureResult.whenComplete { _ in handshakeTimer.cancel() }
        let future = ClientBootstrap(group: loop)
            .connectTimeout(options.timeout)
            .channelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    if let tls = options.tls {
                        try sync.addHandler(NIOSSLClientHandler(context: tls.client, serverHostname: nil))
                        try sync.addHandler(ServerIdentityCheck(expected: peer, identified: identified))
                    } else {
                        identified.succeed()
                    }
                    try sync.addHandler(ByteToMessageHandler(EnvelopeDecoder(maxFrameLength: options.maxFrameLength)))
                    try sync.addHandler(FrameWriter(maxFrameLength: options.maxFrameLength))
                    try sync.addHandler(ClientCallHandler(maxInFlight: options.maxCallsInFlightPerConnection))
                }
            }
            .connect(host: host, port: port)
            .flatMapError { error in
                identified.fail(error)  // Completing twice is harmless; leaving it open is not.
                return loop.makeFailedFuture(error)
            }
            .flatMap { channel in
                identified.futureResult.map { channel }.flatMapError { error in
                    channel.close(promise: nil)
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }
            .flatMapErrorThrowing { error -> any Channel in
                throw RPCError(.unavailable, "cannot connect to \(host):\(port): \(error)")
            }
        // The slot holds this very future; callbacks compare against it to free the slot.
        future.whenComplete { [self] result in
            switch result {
            case .success(let channel):
                pool.withLockedValue { pool in
                    pool.backoff = options.initialBackoff
                    pool.retryAt = .uptimeNanoseconds(0)
                }
                // A closed connection frees its slot for the next call.
                channel.closeFuture.whenComplete { [self] _ in forget(slot: slot, future: future) }
            case .failure(let error):
                pool.withLockedValue { pool in
                    if pool.connections[slot] === future { pool.connections[slot] = nil }
                    pool.retryAt = .now() + pool.backoff
                    pool.backoff = min(pool.backoff * 2, options.maxBackoff)
                }
                logger.debug("cannot connect", metadata: ["peer": "\(host):\(port)", "error": "\(error)"])
            }
        }
        return future
    }

    /// Empties a slot whose connection closed (unless it already holds a newer one).
    private func forget(slot: Int, future: EventLoopFuture<any Channel>) {
        pool.withLockedValue { pool in
            if pool.connections[slot] === future { pool.connections[slot] = nil }
        }
    }
}

/// A call on its way out: the handler gives it an id and waits for the answer.
struct PendingCall: Sendable {
    var request: Envelope
    var timeout: TimeAmount
    /// The answer; for a stream, its last response.
    var promise: EventLoopPromise<Envelope>
    /// The rest of the request's payload, when part of it is shared with other calls.
    var sharedPayload: SharedPayload?
    /// A stream's responses before its last.
    var part: (@Sendable (Envelope) -> Void)?
    /// Told the call's id once it has one (a stream's reader cancels by it).
    var assigned: (@Sendable (UInt64) -> Void)?
    /// False for a watch-like stream, which lasts until it ends or is cancelled.
    var hasDeadline = true
}

/// Pairs answers with calls by id on one connection; fails every waiting call when the
/// connection goes, and each one whose deadline passes.
final class ClientCallHandler: ChannelDuplexHandler {
    typealias InboundIn = Envelope
    typealias OutboundIn = PendingCall
    typealias OutboundOut = OutboundFrame

    private let maxInFlight: Int
    private var nextCallID: UInt64 = 1
    private var waiting: [UInt64: EventLoopPromise<Envelope>] = [:]
    /// What receives the parts of streaming calls, by id.
    private var streams: [UInt64: @Sendable (Envelope) -> Void] = [:]
    /// Call ids by deadline; answered calls are skipped when their deadline comes up.
    private var deadlines = MinHeap<UInt64>()
    /// One timer for the earliest deadline, not one per call.
    private var sweep: Scheduled<Void>?
    private var sweepAt = UInt64.max
    /// Expired calls are failed in batches, up to this late.
    private static let sweepSlack: UInt64 = 20_000_000

    init(maxInFlight: Int) {
        self.maxInFlight = maxInFlight
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let call = unwrapOutboundIn(data)
        if call.request.kind == .cancel {
            // The caller gives up a stream: what it would still be sent is dropped here.
            streams[call.request.callID] = nil
            waiting.removeValue(forKey: call.request.callID)?.fail(RPCError(.cancelled, "cancelled by the caller"))
            context.writeAndFlush(wrapOutboundOut(OutboundFrame(envelope: call.request)), promise: promise)
            return
        }
        // Backpressure: a peer that does not keep up (too many calls waiting, or bytes piling
        // up unsent) gets no more until it does; callers see UNAVAILABLE at once.
        guard waiting.count < maxInFlight, context.channel.isWritable else {
            let reason = waiting.count >= maxInFlight ? "too many calls waiting" : "too many bytes waiting to be sent"
            call.promise.fail(RPCError(.unavailable, "\(reason) for \(context.remoteAddress.map { "\($0)" } ?? "the peer")"))
            promise?.succeed(())
            return
        }
        let id = nextCallID
        nextCallID += 1
        var request = call.request
        request.callID = id
        waiting[id] = call.promise
        if let part = call.part { streams[id] = part }
        call.assigned?(id)
        if call.hasDeadline {
            deadlines.insert(id, key: (NIODeadline.now() + call.timeout).uptimeNanoseconds)
            scheduleSweep(on: context.eventLoop)
        }
        context.write(wrapOutboundOut(OutboundFrame(envelope: request, sharedPayload: call.sharedPayload)), promise: promise)
    }

    private func scheduleSweep(on loop: any EventLoop) {
        guard let next = deadlines.minKey, next + Self.sweepSlack < sweepAt else { return }
        sweep?.cancel()
        sweepAt = next + Self.sweepSlack
        let loopBound = NIOLoopBound(self, eventLoop: loop)
        sweep = loop.scheduleTask(deadline: .uptimeNanoseconds(sweepAt)) { loopBound.value.expireDue(on: loop) }
    }

    private func expireDue(on loop: any EventLoop) {
        sweep = nil
        sweepAt = .max
        for id in deadlines.popAll(through: NIODeadline.now().uptimeNanoseconds) {
            streams[id] = nil
            waiting.removeValue(forKey: id)?.fail(RPCError(.deadlineExceeded, "no answer within the deadline"))
        }
        scheduleSweep(on: loop)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let response = unwrapInboundIn(data)
        guard response.kind == .response else {
            context.close(promise: nil)
            return
        }
        if response.callID == 0 {
            // A connection-level error (an oversized frame): the server closes next.
            failAll(RPCError(response.status, response.message))
            return
        }
        if response.more {
            // A part of a stream still open; one of a call that is not a stream is dropped.
            streams[response.callID]?(response)
            return
        }
        streams[response.callID] = nil
        waiting.removeValue(forKey: response.callID)?.succeed(response)
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(RPCError(.unavailable, "connection to \(context.remoteAddress.map { "\($0)" } ?? "the peer") closed"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failAll(RPCError(.unavailable, "connection failed: \(error)"))
        context.close(promise: nil)
    }

    private func failAll(_ error: RPCError) {
        let entries = waiting
        waiting = [:]
        streams = [:]
        deadlines.removeAll()
        sweep?.cancel()
        sweep = nil
        sweepAt = .max
        for (_, promise) in entries { promise.fail(error) }
    }
}

/// Passes the connection on once the TLS handshake shows the server is a member (OU=peer),
/// the one `expected` names when given; otherwise fails it and closes the connection.
final class ServerIdentityCheck: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    private let expected: String?
    private var identified: EventLoopPromise<Void>?

    init(expected: String?, identified: EventLoopPromise<Void>) {
        self.expected = expected
        self.identified = identified
    }

    /// Completes the promise once.
    private func finish(_ result: Result<Void, any Error>) {
        identified?.completeWith(result)
        identified = nil
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted = event as? TLSUserEvent {
            let server = context.pipeline.syncOperations.certificateCaller
            if let server, server.role == .peer, expected == nil || server.name == expected {
                finish(.success(()))
            } else {
                let shown = server.map { "\($0.name) (\($0.role.rawValue))" } ?? "no member's certificate"
                finish(.failure(RPCError(.unavailable, "the server showed \(shown), not \(expected ?? "a member")'s")))
                context.close(promise: nil)
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish(.failure(RPCError(.unavailable, "the connection closed during the TLS handshake")))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        finish(.failure(error))
        context.fireErrorCaught(error)
    }
}
