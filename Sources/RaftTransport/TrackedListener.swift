import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A TCP listener that keeps its connections, so closing it closes them too. The servers of
/// both protocols are one of these with a pipeline of their own.
public final class TrackedListener: Sendable {
    private let channel: any Channel
    private let connections: NIOLockedValueBox<[ObjectIdentifier: any Channel]>

    /// The address the listener is bound to (with the port chosen when 0 was asked).
    public var localAddress: SocketAddress? { channel.localAddress }

    /// Listens on host:port; `configure` sets up each new connection's pipeline.
    public static func bind(
        host: String, port: Int, group: any EventLoopGroup,
        configure: @escaping @Sendable (ChannelPipeline.SynchronousOperations) throws -> Void
    ) async throws -> TrackedListener {
        let connections = NIOLockedValueBox<[ObjectIdentifier: any Channel]>([:])
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 256)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                let key = ObjectIdentifier(channel)
                connections.withLockedValue { $0[key] = channel }
                channel.closeFuture.whenComplete { _ in _ = connections.withLockedValue { $0.removeValue(forKey: key) } }
                return channel.eventLoop.makeCompletedFuture { try configure(channel.pipeline.syncOperations) }
            }
            .bind(host: host, port: port)
            .get()
        return TrackedListener(channel: channel, connections: connections)
    }

    private init(channel: any Channel, connections: NIOLockedValueBox<[ObjectIdentifier: any Channel]>) {
        self.channel = channel
        self.connections = connections
    }

    /// Stops listening and closes every connection.
    public func close() async {
        try? await channel.close()
        for connection in connections.withLockedValue({ Array($0.values) }) {
            try? await connection.close()
        }
    }
}
