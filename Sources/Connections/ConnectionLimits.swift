import NIOCore
import Synchronization

/// What a listener allows each client connection: how many may be open at once, how long
/// one may sit idle between requests, and how long it may take to send a whole request
/// (HTTP head and body, or a frame) once its first byte has arrived, and to take an answer
/// once it is written: a client that never finishes a request, or never reads, holds
/// nothing for long.
/// And who may connect at all: a node without TLS serves loopback only, since nothing else
/// would tell its peers and clients from strangers.
public struct ConnectionLimits: Sendable {
    public var maxConnections: Int
    public var idleTimeout: TimeAmount
    public var readTimeout: TimeAmount
    public var writeTimeout: TimeAmount
    public var loopbackOnly: Bool

    public init(
        maxConnections: Int = 4_096, idleTimeout: TimeAmount = .seconds(120), readTimeout: TimeAmount = .seconds(10),
        writeTimeout: TimeAmount = .seconds(10), loopbackOnly: Bool = false
    ) {
        self.maxConnections = maxConnections
        self.idleTimeout = idleTimeout
        self.readTimeout = readTimeout
        self.writeTimeout = writeTimeout
        self.loopbackOnly = loopbackOnly
    }

    /// The message a refused connection is sent before it is closed.
    static func loopbackOnlyMessage(_ remote: String) -> String {
        "this node serves loopback clients only, not \(remote): configure TLS (--tls-cert-file, --tls-key-file, "
            + "--tls-ca-file) or start it with --insecure to serve other hosts"
    }
}

extension SocketAddress {
    /// 127.0.0.0/8, ::1, or an IPv4-mapped loopback address.
    public var isLoopback: Bool {
        switch self {
        case .v4(let address):
            return UInt32(bigEndian: address.address.sin_addr.s_addr) >> 24 == 127
        case .v6(let address):
            let bytes = withUnsafeBytes(of: address.address.sin6_addr) { Array($0) }
            if bytes == Array(repeating: 0, count: 15) + [1] { return true }
            return bytes.prefix(12) == Array(repeating: 0, count: 10) + [0xFF, 0xFF] && bytes[12] == 127
        case .unixDomainSocket:
            return true
        }
    }
}

/// One connection's state for its listener's limits. The protocol's handlers say when a
/// request has arrived whole and when it has been answered; the listener's sweep closes a
/// connection past its deadline, and at the connection limit the oldest connection serving
/// no request makes room for a new one.
public final class ConnectionActivity: Sendable {
    let limits: ConnectionLimits
    let opened: NIODeadline
    /// Uptime nanoseconds by which a request must arrive whole; 0 while one is being served.
    private let deadline: Atomic<UInt64>
    private let inFlight = Atomic<Int>(0)
    /// Idle, and no byte of the next request seen yet.
    private let awaitingFirstByte = Atomic<Bool>(true)

    init(limits: ConnectionLimits) {
        self.limits = limits
        opened = .now()
        deadline = Atomic((opened + limits.idleTimeout).uptimeNanoseconds)
    }

    private let peer = Atomic<Bool>(false)
    /// An answer has been written on it: a client that works, not one of a flood of
    /// connections that never finish a request.
    private let answeredOnce = Atomic<Bool>(false)
    /// Who the connection's certificate names, once read (outer nil: not read yet).
    private let certificate = Mutex<Caller??>(nil)

    var isServing: Bool { inFlight.load(ordering: .relaxed) > 0 }

    /// Whether any of its requests has been answered.
    var hasBeenAnswered: Bool { answeredOnce.load(ordering: .relaxed) }

    /// A cluster member (its certificate said so): never closed to make room.
    var isPeer: Bool { peer.load(ordering: .relaxed) }

    /// Who the TLS peer's certificate names (nil: no TLS, no certificate, or none of ours), read
    /// from the pipeline with the connection's first request (its handshake is over by then)
    /// and kept; a peer's connection is marked so.
    public func caller(_ pipeline: ChannelPipeline.SynchronousOperations) -> Caller? {
        certificate.withLock { known in
            if let known { return known }
            let caller = pipeline.certificateCaller
            if caller?.role == .peer { peer.store(true, ordering: .relaxed) }
            known = .some(caller)
            return caller
        }
    }

    func isPastDeadline(_ now: NIODeadline) -> Bool {
        let due = deadline.load(ordering: .relaxed)
        return due != 0 && now.uptimeNanoseconds > due
    }

    /// Bytes arrived: the first of a request starts its clock.
    func bytesArrived() {
        guard awaitingFirstByte.load(ordering: .relaxed) else { return }
        awaitingFirstByte.store(false, ordering: .relaxed)
        if inFlight.load(ordering: .relaxed) == 0 {
            deadline.store((NIODeadline.now() + limits.readTimeout).uptimeNanoseconds, ordering: .relaxed)
        }
    }

    /// A whole request arrived. While requests are served the connection must make progress
    /// (a request received or an answer written) every idle timeout: a client that sends
    /// and never reads its answers is closed.
    public func requestReceived() {
        inFlight.wrappingAdd(1, ordering: .relaxed)
        awaitingFirstByte.store(true, ordering: .relaxed)
        deadline.store((NIODeadline.now() + limits.idleTimeout).uptimeNanoseconds, ordering: .relaxed)
    }

    /// Part of a streamed answer (a watch, a backup, an event stream) was written: the
    /// connection makes progress though its request is not answered yet.
    public func progressed() {
        deadline.store((NIODeadline.now() + limits.idleTimeout).uptimeNanoseconds, ordering: .relaxed)
    }

    /// An answer is being written: its reader must take it within the write timeout (a slow
    /// reader is closed rather than have its answers held without end).
    public func answerQueued() {
        deadline.store((NIODeadline.now() + limits.writeTimeout).uptimeNanoseconds, ordering: .relaxed)
    }

    /// A request answered before it arrived whole (refused) has now arrived whole: the next
    /// byte starts the next request's clock; with none in flight the connection is idle.
    public func requestEnded() {
        awaitingFirstByte.store(true, ordering: .relaxed)
        if inFlight.load(ordering: .relaxed) == 0 {
            deadline.store((NIODeadline.now() + limits.idleTimeout).uptimeNanoseconds, ordering: .relaxed)
        }
    }

    /// A request's answer was written; with none left the connection is idle.
    public func requestAnswered() {
        answeredOnce.store(true, ordering: .relaxed)
        let left = inFlight.wrappingSubtract(1, ordering: .relaxed).newValue
        let timeout = left > 0 || awaitingFirstByte.load(ordering: .relaxed) ? limits.idleTimeout : limits.readTimeout
        deadline.store((NIODeadline.now() + timeout).uptimeNanoseconds, ordering: .relaxed)
    }
}

/// First in each connection's pipeline: tells the connection's activity that bytes arrived.
final class ActivityHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    private let activity: ConnectionActivity

    init(activity: ConnectionActivity) {
        self.activity = activity
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        activity.bytesArrived()
        context.fireChannelRead(data)
    }
}

/// The whole pipeline of a refused connection: once it is up, says why and closes it.
final class RefusalHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let message: ByteBuffer

    init(message: ByteBuffer) {
        self.message = message
    }

    func channelActive(context: ChannelHandlerContext) {
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(message)).whenComplete { _ in channel.close(promise: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
}
