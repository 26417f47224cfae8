import Connections
import NIOCore
import RaftWire

/// What a service answers to one call.
public enum RPCResult: Sendable {
    case success([UInt8])
    case failure(RPCError)

    public static func failure(_ status: StatusCode, _ message: String, detail: ErrorDetail? = nil) -> RPCResult {
        .failure(RPCError(status, message, detail: detail))
    }
}

/// One inbound call.
public struct InboundCall: Sendable {
    public var method: String
    public var payload: [UInt8]
    /// The caller's deadline in milliseconds (0: none).
    public var timeoutMs: UInt32
    /// How many nodes forwarded it here.
    public var hops: UInt32
    /// Who is calling, when that is known for sure: the connection's certificate (TLS), or a
    /// frontend that has authorized the request already.
    public var caller: Caller?
    /// The bearer token the call carries ("" for none).
    public var token: String
    /// The client session a write belongs to (nil: none).
    public var session: SessionTag?

    public init(
        method: String, payload: [UInt8], timeoutMs: UInt32 = 0, hops: UInt32 = 0, caller: Caller? = nil,
        token: String = "", session: SessionTag? = nil
    ) {
        self.method = method
        self.payload = payload
        self.timeoutMs = timeoutMs
        self.hops = hops
        self.caller = caller
        self.token = token
        self.session = session
    }
}

/// Serves the calls of a server: may run many at once, answering in any order.
public protocol RPCService: Sendable {
    func handle(_ call: InboundCall) async -> RPCResult
    /// Answers a call arriving on `loop`, without blocking it. By default `handle` runs as a
    /// task; a service whose work lives on event loops answers here without one.
    func respond(to call: InboundCall, on loop: any EventLoop) -> EventLoopFuture<RPCResult>
    /// Answers a call of a streaming method (`Method.streams`) through `stream`, on its loop.
    func stream(_ call: InboundCall, to stream: ResponseStream)
}

extension RPCService {
    public func respond(to call: InboundCall, on loop: any EventLoop) -> EventLoopFuture<RPCResult> {
        loop.makeFutureWithTask { await handle(call) }
    }

    public func stream(_ call: InboundCall, to stream: ResponseStream) {
        stream.finish(RPCError(.unimplemented, "\(call.method) does not stream here"))
    }
}

/// The responses of one streaming call: any number, each sent at once, then the last (with a
/// status). Its unsent bytes are bounded: past `bufferLimit`, `send` refuses, and the caller
/// ends the stream. Used on its connection's loop only.
public final class ResponseStream: @unchecked Sendable {
    public let loop: any EventLoop
    /// What ending it tells its connection (the call is no longer in flight).
    private let ended: () -> Void
    private let write: (Envelope) -> EventLoopFuture<Void>
    private let callID: UInt64
    private let bufferLimit: Int
    private var unsent = 0
    private var finished = false
    /// Called once if the caller cancels or goes away before the stream ends.
    public var onCancel: (() -> Void)?

    init(callID: UInt64, loop: any EventLoop, bufferLimit: Int, write: @escaping (Envelope) -> EventLoopFuture<Void>, ended: @escaping () -> Void) {
        self.callID = callID
        self.loop = loop
        self.bufferLimit = bufferLimit
        self.write = write
        self.ended = ended
    }

    /// Sends one response; false once the stream has ended, or while more than `bufferLimit`
    /// bytes of it wait to be sent (the caller does not read).
    public func send(_ payload: [UInt8]) -> Bool {
        loop.preconditionInEventLoop()
        guard !finished, unsent <= bufferLimit else { return false }
        unsent += payload.count
        let size = payload.count
        write(Envelope(callID: callID, kind: .response, payload: payload, more: true)).whenComplete { [self] _ in unsent -= size }
        return true
    }

    /// Sends one response and tells when it is written (for a sender that paces itself by
    /// its reader); nil once the stream has ended.
    public func sendPaced(_ payload: [UInt8]) -> EventLoopFuture<Void>? {
        loop.preconditionInEventLoop()
        guard !finished else { return nil }
        return write(Envelope(callID: callID, kind: .response, payload: payload, more: true))
    }

    /// Whether less than half of `bufferLimit` waits to be sent.
    public var hasRoom: Bool { !finished && unsent < bufferLimit / 2 }

    /// The last response: OK, or `error`'s status, message and detail.
    public func finish(_ error: RPCError?) {
        loop.preconditionInEventLoop()
        guard !finished else { return }
        finished = true
        onCancel = nil
        let last = error.map { Envelope.failure(callID: callID, $0) } ?? Envelope(callID: callID, kind: .response)
        write(last).whenComplete { [self] _ in ended() }
    }

    /// The caller cancelled (or its connection went): tell the service, and end.
    func cancel(closing: Bool) {
        guard !finished else { return }
        let cancelled = onCancel
        onCancel = nil
        cancelled?()
        if closing {
            finished = true
            ended()
        } else {
            finish(RPCError(.cancelled, "cancelled by the caller"))
        }
    }
}
