import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import RaftTransport
import RaftWire

/// `--listen ... --forward ...`: a TCP relay that decodes both directions as they pass. With
/// TLS it ends TLS on both sides: clients see its certificate, the node sees it present the
/// same one, and the frames between are plain to decode.
struct ProxySource {
    let listen: HostPort
    let forward: HostPort
    /// TLS toward clients (`server`) and toward the node (`client`).
    var tls: (server: NIOSSLContext, client: NIOSSLContext)?

    /// Runs until SIGINT or SIGTERM, then finishes the dumper (summary) and exits.
    func run(dumper: Dumper) throws -> Never {
        let shared = NIOLockedValueBox(dumper)
        let connectionCount = NIOLockedValueBox(0)
        let forward = self.forward, tls = self.tls
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = try ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { inbound in
                let number = connectionCount.withLockedValue { count -> Int in
                    count += 1
                    return count
                }
                let client = inbound.remoteAddress.map(Self.text) ?? "client"
                let upstream = StreamLabel(connection: number, source: client, destination: forward.description)
                let downstream = StreamLabel(connection: number, source: forward.description, destination: client)
                if let tls {
                    do {
                        try inbound.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls.server))
                    } catch {
                        return inbound.eventLoop.makeFailedFuture(error)
                    }
                }
                return ClientBootstrap(group: inbound.eventLoop)
                    .channelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
                    .channelInitializer { outbound in
                        outbound.eventLoop.makeCompletedFuture {
                            if let tls {
                                try outbound.pipeline.syncOperations.addHandler(
                                    NIOSSLClientHandler(context: tls.client, serverHostname: nil))
                            }
                            try outbound.pipeline.syncOperations.addHandler(
                                Self.relay(to: inbound, label: downstream, shared: shared))
                        }
                    }
                    .connect(host: forward.host, port: forward.port)
                    .flatMapThrowing { outbound in
                        try inbound.pipeline.syncOperations.addHandler(
                            Self.relay(to: outbound, label: upstream, shared: shared))
                    }
                    .flatMapErrorThrowing { error in
                        shared.withLockedValue { $0.note("c\(number): cannot connect to \(forward): \(error)") }
                        throw error
                    }
            }
            .bind(host: listen.host, port: listen.port)
            .wait()
        let bound = server.localAddress.map(Self.text) ?? listen.description
        shared.withLockedValue { $0.note("listening on \(bound), forwarding to \(forward)") }
        let signalSources = Self.finishOnSignals(shared)
        try server.closeFuture.wait()
        withExtendedLifetime(signalSources) {}
        shared.withLockedValue { $0.finish() }
        exit(0)
    }

    /// A relay whose bytes go through the dumper under `label`.
    private static func relay(to peer: any Channel, label: StreamLabel, shared: NIOLockedValueBox<Dumper>) -> RelayHandler {
        RelayHandler(
            peer: peer,
            tap: { buffer in shared.withLockedValue { $0.receive(buffer.readableBytesView, on: label, at: .now()) } },
            closed: { shared.withLockedValue { $0.endStream(label, at: .now()) } })
    }

    /// The sources must stay alive while the proxy runs.
    private static func finishOnSignals(_ shared: NIOLockedValueBox<Dumper>) -> [any DispatchSourceSignal] {
        [SIGINT, SIGTERM].map { signalNumber in
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler {
                shared.withLockedValue { $0.finish() }
                exit(0)
            }
            source.resume()
            return source
        }
    }

    static func text(_ address: SocketAddress) -> String {
        guard let ip = address.ipAddress, let port = address.port else { return "\(address)" }
        return address.protocol == .inet6 ? "[\(ip)]:\(port)" : "\(ip):\(port)"
    }
}

/// `host:port` from the command line (`[::1]:8081` for IPv6).
extension HostPort {
    /// A proxy's address: a missing host is this machine's loopback, to listen on as to connect
    /// to (a debugging proxy is not for other machines unless asked).
    init(proxyAddress text: String) throws {
        guard let parsed = HostPort(text) else { throw WireDumpError.badAddress(text) }
        self.init(host: parsed.connectHost, port: parsed.port)
    }
}
