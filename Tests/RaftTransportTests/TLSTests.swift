import Connections
import Foundation
import NIOCore
import RaftTransport
import RaftWire
import Testing

@Suite("TLS")
struct TLSTests {
    /// A cluster CA, and node-1's and node-2's certificates, written to a new folder.
    static func files() throws -> (node1: TLSFiles, node2: TLSFiles) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("raft-cache-tls-\(UUID())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let ca = try ClusterCA.make(days: 1)
        try ca.certificatePEM.write(toFile: folder + "/ca.pem", atomically: true, encoding: .utf8)
        var files: [TLSFiles] = []
        for name in ["node-1", "node-2"] {
            let issued = try ca.issue(name: name, role: "peer", server: true, hosts: ["127.0.0.1"], days: 1)
            try issued.certificate.write(toFile: folder + "/\(name).pem", atomically: true, encoding: .utf8)
            try issued.key.write(toFile: folder + "/\(name)-key.pem", atomically: true, encoding: .utf8)
            files.append(TLSFiles(certificate: folder + "/\(name).pem", key: folder + "/\(name)-key.pem", ca: folder + "/ca.pem"))
        }
        return (files[0], files[1])
    }

    @Test("a client calls a peer only once the server has shown that peer's certificate")
    func serverIdentity() async throws {
        let (node1, node2) = try Self.files()
        let (server, port) = try await startServer(options: .init(tls: try TLSContexts(files: node2)))
        defer { Task { try? await server.close() } }
        let tls = try TLSContexts(files: node1)
        func client(expecting peer: String?) -> RPCClient {
            RPCClient(
                host: "127.0.0.1", port: port, peer: peer, options: .init(maxConnections: 1, timeout: .seconds(3), tls: tls),
                logger: testLogger)
        }
        let right = client(expecting: "node-2"), anyMember = client(expecting: nil), wrong = client(expecting: "node-3")
        #expect(try await right.call("/test.Test/Echo", payload: [1]) == [1])
        #expect(try await anyMember.call("/test.Test/Echo", payload: [2]) == [2])
        do {
            _ = try await wrong.call("/test.Test/Echo", payload: [3])
            Issue.record("a call went to node-2 when node-3 was meant")
        } catch let error as RPCError {
            #expect(error.message.contains("node-2"), "\(error)")
        }
        for c in [right, anyMember, wrong] { await c.close() }
    }
}
