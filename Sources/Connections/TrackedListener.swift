import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL

/// A TCP listener that keeps its connections, so closing it closes them too, and holds them
/// to its `ConnectionLimits`: a sweep closes those past their deadline, and at the limit the
/// oldest connection serving no request and not a peer's makes room for a new one (none:
/// the new one is refused), one never answered before one that has been: a flood of
/// connections that never finish a request replaces its own, not the clients (and, without
/// TLS to name them, the peers) that work. The servers of both protocols are one of these
/// with a pipeline of their own.
public final class TrackedListener: Sendable {
    private let channel: any Channel
    private let connections: NIOLockedValueBox<[ObjectIdentifier: (channel: any Channel, activity: ConnectionActivity)]>
    private let sweep: RepeatedTask

    /// The address the listener is bound to (with the port chosen when 0 was asked).
    public var localAddress: SocketAddress? { channel.localAddress }

    /// Connections open now.
    public var connectionCount: Int { connections.withLockedValue { $0.count } }

    /// Listens on host:port; `configure` sets up each new connection's pipeline, whose
    /// handlers report requests to the connection's activity. A connection refused because
    /// it is not from loopback (`limits.loopbackOnly`) is sent `refusal(why)` first. A ready
    /// connection is read at most `readsPerTurn` times (64 KiB at most each) per turn of its loop.
    public static func bind(
        host: String, port: Int, group: any EventLoopGroup, limits: ConnectionLimits = ConnectionLimits(),
        tls: TLSContexts? = nil, readsPerTurn: UInt = 4, logger: Logger,
        refusal: @escaping @Sendable (String) -> ByteBuffer = { _ in ByteBuffer() },
        configure: @escaping @Sendable (ChannelPipeline.SynchronousOperations, ConnectionActivity) throws -> Void
    ) async throws -> TrackedListener {
        let connections = NIOLockedValueBox<[ObjectIdentifier: (channel: any Channel, activity: ConnectionActivity)]>([:])
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 4_096)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            // 32 new connections a turn of the loop, not NIO's 4: under load refused clients
            // reconnect by the hundred a second and a busy loop's turns are long, so they would
            // wait in the accept queue. Far more lets a flood of connections starve the peers'
            // messages (test_flood.py lost its leader at 256).
            .serverChannelOption(ChannelOptions.maxMessagesPerRead, value: 32)
            .childChannelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(ChannelOptions.maxMessagesPerRead, value: readsPerTurn)
            .childChannelInitializer { channel in
                if limits.loopbackOnly, !(channel.remoteAddress?.isLoopback ?? false) {
                    let remote = channel.remoteAddress.map { "\($0)" } ?? "an unknown address"
                    logger.notice("refused a connection from outside loopback (no TLS configured)", metadata: ["remote": "\(remote)"])
                    let why = ConnectionLimits.loopbackOnlyMessage(remote)
                    return channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(RefusalHandler(message: refusal(why)))
                    }
                }
                let key = ObjectIdentifier(channel)
                let activity = ConnectionActivity(limits: limits)
                let admitted = connections.withLockedValue { open -> Bool in
                    if open.count >= limits.maxConnections {
                        var oldest: (key: ObjectIdentifier, answered: Bool, opened: NIODeadline)?
                        for (key, connection) in open where !connection.activity.isServing && !connection.activity.isPeer {
                            let answered = connection.activity.hasBeenAnswered, opened = connection.activity.opened
                            let earlier = oldest.map { answered == $0.answered ? opened < $0.opened : !answered } ?? true
                            if earlier { oldest = (key, answered, opened) }
                        }
                        guard let oldest, let evicted = open.removeValue(forKey: oldest.key) else { return false }
                        evicted.channel.close(promise: nil)
                        logger.debug("connection limit reached: closed the oldest connection serving no request")
                    }
                    open[key] = (channel, activity)
                    return true
                }
                guard admitted else {
                    logger.debug("connection limit reached and every connection busy: refused a new one")
                    return channel.close()
                }
                channel.closeFuture.whenComplete { _ in _ = connections.withLockedValue { $0.removeValue(forKey: key) } }
                return channel.eventLoop.makeCompletedFuture {
                    // Before TLS: the handshake's first byte starts the read clock too.
                    try channel.pipeline.syncOperations.addHandler(ActivityHandler(activity: activity))
                    if let tls {
                        // The contexts in force now: a certificate rotated on SIGHUP serves new connections.
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls.server))
                        try channel.pipeline.syncOperations.addHandler(WriteCoalescer())
                    }
                    try configure(channel.pipeline.syncOperations, activity)
                }
            }
            .bind(host: host, port: port)
            .get()
        // A tenth of the shortest timeout apart: a connection is closed at most 10% late.
        let every = TimeAmount.nanoseconds(
            max(min(limits.idleTimeout, limits.readTimeout, limits.writeTimeout).nanoseconds / 10, TimeAmount.milliseconds(50).nanoseconds))
        let sweep = channel.eventLoop.scheduleRepeatedTask(initialDelay: every, delay: every) { _ in
            let now = NIODeadline.now()
            let late = connections.withLockedValue { open in open.values.filter { $0.activity.isPastDeadline(now) } }
            for connection in late { connection.channel.close(promise: nil) }
            if !late.isEmpty { logger.debug("closed connections past their deadline", metadata: ["count": "\(late.count)"]) }
        }
        return TrackedListener(channel: channel, connections: connections, sweep: sweep)
    }

    private init(
        channel: any Channel, connections: NIOLockedValueBox<[ObjectIdentifier: (channel: any Channel, activity: ConnectionActivity)]>,
        sweep: RepeatedTask
    ) {
        self.channel = channel
        self.connections = connections
        self.sweep = sweep
    }

    /// Stops listening and closes every connection.
    public func close() async {
        sweep.cancel()
        try? await channel.close()
        for connection in connections.withLockedValue({ Array($0.values) }) {
            try? await connection.channel.close()
        }
    }
}
