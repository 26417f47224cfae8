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

    public init(
        method: String, payload: [UInt8], timeoutMs: UInt32 = 0, hops: UInt32 = 0, caller: Caller? = nil,
        token: String = ""
    ) {
        self.method = method
        self.payload = payload
        self.timeoutMs = timeoutMs
        self.hops = hops
        self.caller = caller
        self.token = token
    }
}

/// Serves the calls of a server: may run many at once, answering in any order.
public protocol RPCService: Sendable {
    func handle(_ call: InboundCall) async -> RPCResult
    /// Answers a call arriving on `loop`, without blocking it. By default `handle` runs as a
    /// task; a service whose work lives on event loops answers here without one.
    func respond(to call: InboundCall, on loop: any EventLoop) -> EventLoopFuture<RPCResult>
}

extension RPCService {
    public func respond(to call: InboundCall, on loop: any EventLoop) -> EventLoopFuture<RPCResult> {
        loop.makeFutureWithTask { await handle(call) }
    }
}
