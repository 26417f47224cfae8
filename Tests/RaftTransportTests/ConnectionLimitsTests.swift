import Connections
import NIOCore
import NIOPosix
import RaftTransport
import RaftWire
import Testing

@Suite("Connection limits")
struct ConnectionLimitsTests {
    @Test("loopback addresses are told from others")
    func loopback() throws {
        for address in ["127.0.0.1", "127.255.0.9", "::1", "::ffff:127.0.0.1"] {
            #expect(try SocketAddress(ipAddress: address, port: 1).isLoopback, "\(address)")
        }
        for address in ["10.0.0.1", "192.0.2.2", "128.0.0.1", "::2", "::ffff:10.0.0.1", "fe80::1"] {
            #expect(try !SocketAddress(ipAddress: address, port: 1).isLoopback, "\(address)")
        }
    }

    /// A connection that has sent half a frame, to the server at `port`.
    private func stalledConnection(port: Int) async throws -> any Channel {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port).get()
        var partial = ByteBuffer()
        partial.writeInteger(UInt32(100))
        partial.writeBytes([8, 8, 8])
        try await channel.writeAndFlush(partial).get()
        return channel
    }

    private func client(_ port: Int) -> RPCClient {
        RPCClient(host: "127.0.0.1", port: port, options: .init(maxConnections: 1, timeout: .seconds(5)), logger: testLogger)
    }

    @Test("a connection that sends half a frame is closed after the read timeout")
    func readTimeout() async throws {
        let limits = ConnectionLimits(maxConnections: 100, idleTimeout: .seconds(30), readTimeout: .milliseconds(300))
        let (server, port) = try await startServer(options: .init(connections: limits))
        defer { Task { try? await server.close() } }
        let stalled = try await stalledConnection(port: port)
        let started = ContinuousClock.now
        try await stalled.closeFuture.get()
        #expect(ContinuousClock.now - started >= .milliseconds(250))
        #expect(ContinuousClock.now - started < .seconds(5))
    }

    @Test("at the connection limit the oldest connection serving nothing makes room")
    func eviction() async throws {
        let limits = ConnectionLimits(maxConnections: 2, idleTimeout: .seconds(30), readTimeout: .seconds(30))
        let (server, port) = try await startServer(options: .init(connections: limits))
        defer { Task { try? await server.close() } }
        let stalled = try await stalledConnection(port: port)
        let first = client(port), second = client(port)
        #expect(try await first.call("/test.Test/Echo", payload: [1]) == [1])
        #expect(try await second.call("/test.Test/Echo", payload: [2]) == [2])
        try await stalled.closeFuture.get()
        #expect(try await first.call("/test.Test/Echo", payload: [3]) == [3])
        await first.close()
        await second.close()
    }

    @Test("at the limit a connection never answered makes room before an older one that was")
    func floodReplacesItself() async throws {
        let limits = ConnectionLimits(maxConnections: 2, idleTimeout: .seconds(30), readTimeout: .seconds(30))
        let (server, port) = try await startServer(options: .init(connections: limits))
        defer { Task { try? await server.close() } }
        let working = client(port)
        #expect(try await working.call("/test.Test/Echo", payload: [1]) == [1])
        // The working client's connection is the oldest and idle; the first half-sent one,
        // never answered, is the one the second replaces (else it would stay 30 s).
        let stalled = try await stalledConnection(port: port)
        // Counted before the next arrives: each connection is set up on its own loop, so the
        // second could otherwise be counted first and be the newest never answered.
        let counted = ContinuousClock.now + .seconds(5)
        while server.connectionCount < 2 {
            guard ContinuousClock.now < counted else { Issue.record("the half-sent connection was not counted"); return }
            try await Task.sleep(for: .milliseconds(5))
        }
        let next = try await stalledConnection(port: port)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await stalled.closeFuture.get() }
            group.addTask {
                try await Task.sleep(for: .seconds(10))
                Issue.record("the connection never answered was not the one closed")
            }
            try await group.next()
            group.cancelAll()
        }
        #expect(next.isActive)
        #expect(server.connectionCount == 2)
        await working.close()
        try? await next.close()
    }
}
