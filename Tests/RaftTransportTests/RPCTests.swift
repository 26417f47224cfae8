import Connections
import Foundation
import Logging
import NIOCore
import NIOPosix
import RaftTransport
import RaftWire
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Echo, slow echo (its payload's first byte: milliseconds to wait), a call that hangs,
/// and UNIMPLEMENTED for anything else.
struct TestService: RPCService {
    func handle(_ call: InboundCall) async -> RPCResult {
        switch call.method {
        case "/test.Test/Echo":
            return .success(call.payload)
        case "/test.Test/Slow":
            try? await Task.sleep(for: .milliseconds(Int(call.payload.first ?? 0)))
            return .success(call.payload)
        case "/test.Test/Hang":
            try? await Task.sleep(for: .seconds(30))
            return .success([])
        case Method.status.rawValue:
            return .success((try? StatusResponse(nodeID: "n1", role: .leader, term: 7).wireBytes()) ?? [])
        default:
            return .failure(.unimplemented, "unknown method \(call.method)")
        }
    }
}

let testLogger: Logger = {
    var logger = Logger(label: "test")
    logger.logLevel = .critical
    return logger
}()

func startServer(port: Int = 0, options: RPCServer.Options = .init()) async throws -> (RPCServer, Int) {
    let server = try await RPCServer.start(host: "127.0.0.1", port: port, service: TestService(), options: options, logger: testLogger)
    return (server, server.localAddress!.port!)
}

/// Sends raw bytes on a plain socket and returns everything the server sends back until it closes.
func rawExchange(port: Int, send bytes: [UInt8]) throws -> [UInt8] {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    precondition(fd >= 0)
    defer { close(fd) }
    var timeout = timeval(tv_sec: 5, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = UInt16(port).bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { throw RPCError(.unavailable, "connect failed") }
    _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    var received: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4_096)
    while true {
        let n = read(fd, &buffer, buffer.count)
        if n <= 0 { break }
        received += buffer[0..<n]
    }
    return received
}

@Suite("Binary protocol transport", .serialized)
struct RPCTests {
    @Test("500 concurrent calls on one connection, answered out of order, each to its caller")
    func multiplexing() async throws {
        let (server, port) = try await startServer()
        let client = RPCClient(host: "127.0.0.1", port: port, options: .init(maxConnections: 1), logger: testLogger)
        try await withThrowingTaskGroup(of: Bool.self) { group in
            for i in 0..<500 {
                group.addTask {
                    let payload: [UInt8] = [UInt8(i % 20), UInt8(i & 0xFF), UInt8(i >> 8)]
                    return try await client.call("/test.Test/Slow", payload: payload) == payload
                }
            }
            for try await matched in group { #expect(matched) }
        }
        await client.close()
        try await server.close()
    }

    @Test("typed calls, and the status of a failure reaches the caller")
    func typedAndFailures() async throws {
        let (server, port) = try await startServer()
        let client = RPCClient(host: "127.0.0.1", port: port, logger: testLogger)
        let status: StatusResponse = try await client.call(.status, StatusRequest())
        #expect(status == StatusResponse(nodeID: "n1", role: .leader, term: 7))
        await #expect(throws: RPCError(.unimplemented, "unknown method /test.Test/Nope")) {
            _ = try await client.call("/test.Test/Nope", payload: [])
        }
        await client.close()
        try await server.close()
    }

    @Test("a call with no answer fails at its deadline")
    func deadline() async throws {
        let (server, port) = try await startServer()
        let client = RPCClient(host: "127.0.0.1", port: port, logger: testLogger)
        let start = ContinuousClock.now
        await #expect(throws: RPCError.self) {
            _ = try await client.call("/test.Test/Hang", payload: [], timeout: .milliseconds(200))
        }
        #expect(ContinuousClock.now - start < .seconds(2))
        // The connection still works.
        #expect(try await client.call("/test.Test/Echo", payload: [1]) == [1])
        await client.close()
        try await server.close()
    }

    @Test("an oversized length is refused from the header: call id 0, RESOURCE_EXHAUSTED, then close")
    func oversizedFrame() async throws {
        let (server, port) = try await startServer(options: .init(maxFrameLength: 1_024))
        let answer = try rawExchange(port: port, send: [0x00, 0x10, 0x00, 0x00])
        var decoder = FrameDecoder()
        decoder.append(answer)
        let notice = try #require(try decoder.next())
        #expect(notice.callID == 0)
        #expect(notice.status == .resourceExhausted)
        // Everyone else is still served.
        let client = RPCClient(host: "127.0.0.1", port: port, logger: testLogger)
        #expect(try await client.call("/test.Test/Echo", payload: [9]) == [9])
        await client.close()
        try await server.close()
    }

    @Test("random bytes close that connection only")
    func garbage() async throws {
        let (server, port) = try await startServer()
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<20 {
            let length = Int.random(in: 1...64, using: &rng)
            var bytes: [UInt8] = [0, 0, 0, UInt8(length)]
            bytes += (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
            _ = try rawExchange(port: port, send: bytes + [0, 0, 0, 0])
        }
        let client = RPCClient(host: "127.0.0.1", port: port, logger: testLogger)
        #expect(try await client.call("/test.Test/Echo", payload: [3]) == [3])
        await client.close()
        try await server.close()
    }

    @Test("a connection that drops is made again for the next calls")
    func reconnectAfterDrop() async throws {
        let (first, port) = try await startServer()
        let client = RPCClient(host: "127.0.0.1", port: port, options: .init(maxConnections: 1, maxBackoff: .milliseconds(100)), logger: testLogger)
        #expect(try await client.call("/test.Test/Echo", payload: [1], ordered: true) == [1])
        try await first.close()
        let (second, _) = try await startServer(port: port)
        let deadline = ContinuousClock.now + .seconds(5)
        var answered = false
        while !answered && ContinuousClock.now < deadline {
            answered = (try? await client.call("/test.Test/Echo", payload: [2], ordered: true)) == [2]
            if !answered { try await Task.sleep(for: .milliseconds(20)) }
        }
        #expect(answered)
        await client.close()
        try await second.close()
    }

    @Test("a peer that is down fails calls at once; once it is up, calls succeed again")
    func reconnect() async throws {
        let (first, port) = try await startServer()
        try await first.close()
        let client = RPCClient(
            host: "127.0.0.1", port: port, options: .init(timeout: .seconds(1), maxBackoff: .milliseconds(200)),
            logger: testLogger)
        await #expect(throws: RPCError.self) { _ = try await client.call("/test.Test/Echo", payload: [1]) }
        let (second, _) = try await startServer(port: port)
        let deadline = ContinuousClock.now + .seconds(5)
        var answered = false
        while !answered && ContinuousClock.now < deadline {
            answered = (try? await client.call("/test.Test/Echo", payload: [2])) == [2]
            if !answered { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(answered)
        await client.close()
        try await second.close()
    }

    @Test("calls beyond the in-flight bound fail fast instead of queueing")
    func clientBackpressure() async throws {
        let (server, port) = try await startServer()
        let client = RPCClient(
            host: "127.0.0.1", port: port, options: .init(maxConnections: 1, maxCallsInFlightPerConnection: 10),
            logger: testLogger)
        var statuses: [StatusCode] = []
        await withTaskGroup(of: StatusCode.self) { group in
            for _ in 0..<30 {
                group.addTask {
                    do {
                        _ = try await client.call("/test.Test/Hang", payload: [], timeout: .milliseconds(500))
                        return .ok
                    } catch let error as RPCError {
                        return error.status
                    } catch {
                        return .unknown
                    }
                }
            }
            for await status in group { statuses.append(status) }
        }
        #expect(statuses.filter { $0 == .unavailable }.count == 20)
        #expect(statuses.filter { $0 == .deadlineExceeded }.count == 10)
        await client.close()
        try await server.close()
    }
}

@Suite("Calls whose payload goes on in shared bytes")
struct SharedPayloadTests {
    @Test("one buffer sent as the end of several calls' payloads reaches the server whole in each")
    func sharedTail() async throws {
        let (server, port) = try await startServer()
        let client = RPCClient(host: "127.0.0.1", port: port, logger: testLogger)
        let shared = ByteBuffer(bytes: (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 13) })
        for (head, end): ([UInt8], [UInt8]) in [([], []), ([1], []), ([], [5, 6]), ([2, 3, 4], [7])] {
            let rest = SharedPayload(shared: shared, end: end)
            let echoed = try await client.callFuture("/test.Test/Echo", payload: head, sharedPayload: rest).get()
            #expect(echoed == head + Array(shared.readableBytesView) + end)
        }
        await client.close()
        try await server.close()
    }
}
