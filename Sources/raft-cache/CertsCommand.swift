import ArgumentParser
import Connections
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import RaftTransport

/// `raft-cache certs`: a cluster CA, and certificates it signs for nodes and clients.
struct CertsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "certs",
        abstract: "Write a cluster CA and the certificates it signs, for mutual TLS.",
        discussion: """
            Writes into --dir: ca.pem and ca-key.pem (made unless they are there already, so \
            more certificates can be signed later), then NAME.pem and NAME-key.pem for each \
            node and client. A certificate's subject names who holds it: CN is the node's id \
            (or the client's name), OU its role: peer for nodes; read, write or admin for \
            clients. Node certificates are valid for the --host names and addresses, so HTTPS \
            clients can check them. Keys are ECDSA P-256, written with mode 0600.

            Example: raft-cache certs --dir certs --node node-1 --node node-2 --node node-3 \
            --client admin:admin --client app:write
            """)

    @Option(help: "Folder to write into (made if missing).")
    var dir = "certs"

    @Option(name: .customLong("node"), help: "A node id to make a peer certificate for (repeat for each node).")
    var nodes: [String] = []

    @Option(name: .customLong("client"), help: "NAME:ROLE of a client certificate, ROLE read, write or admin (repeat).")
    var clients: [String] = []

    @Option(name: .customLong("host"), help: "A DNS name or IP address node certificates are valid for (repeat; default localhost, 127.0.0.1 and ::1).")
    var hosts: [String] = []

    @Option(help: "Days the certificates are valid.")
    var days = 365

    func validate() throws {
        guard !nodes.isEmpty || !clients.isEmpty else { throw ValidationError("name at least one --node or --client") }
        guard (1...36_500).contains(days) else { throw ValidationError("--days must be 1...36500") }
        for client in clients {
            guard let (_, role) = Self.parseClient(client), role != "peer" else {
                throw ValidationError("--client '\(client)' is not NAME:ROLE with ROLE read, write or admin")
            }
        }
        let names = nodes + clients.compactMap({ Self.parseClient($0)?.name })
        guard Set(names).count == names.count, !names.contains("ca") else {
            throw ValidationError("each name is used once, and not 'ca' (the CA's own files)")
        }
        for name in names {
            guard !name.isEmpty, name.unicodeScalars.allSatisfy({ $0.properties.isAlphabetic || $0.properties.numericType != nil || "-_.".unicodeScalars.contains($0) })
            else { throw ValidationError("'\(name)' may hold letters, digits, '-', '_' and '.' only (it names files too)") }
        }
    }

    static func parseClient(_ text: String) -> (name: String, role: String)? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, ["read", "write", "admin"].contains(parts[1]) else { return nil }
        return (String(parts[0]), String(parts[1]))
    }

    func run() throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let ca = try loadOrMakeCA()
        for node in nodes {
            let issued = try ca.issue(
                name: node, role: "peer", server: true, hosts: hosts.isEmpty ? ["localhost", "127.0.0.1", "::1"] : hosts, days: days)
            try write(certificate: issued.certificate, key: issued.key, name: node, subject: "CN=\(node), OU=peer")
        }
        for client in clients {
            let (name, role) = Self.parseClient(client)!
            let issued = try ca.issue(name: name, role: role, server: false, hosts: [], days: days)
            try write(certificate: issued.certificate, key: issued.key, name: name, subject: "CN=\(name), OU=\(role)")
        }
    }

    private func loadOrMakeCA() throws -> ClusterCA {
        let certificatePath = dir + "/ca.pem", keyPath = dir + "/ca-key.pem"
        if FileManager.default.fileExists(atPath: certificatePath) {
            print("certs: signing with \(certificatePath)")
            return try ClusterCA(
                certificatePEM: try String(contentsOfFile: certificatePath, encoding: .utf8),
                keyPEM: try String(contentsOfFile: keyPath, encoding: .utf8))
        }
        let ca = try ClusterCA.make(days: days)
        try write(certificate: try ca.certificatePEM, key: ca.keyPEM, name: "ca", subject: "the cluster CA")
        return ca
    }

    private func write(certificate: String, key: String, name: String, subject: String) throws {
        let certificatePath = dir + "/\(name).pem", keyPath = dir + "/\(name)-key.pem"
        try certificate.write(toFile: certificatePath, atomically: true, encoding: .utf8)
        // Private from the first byte: made with mode 0600, never readable by others.
        Glibc.unlink(keyPath)
        let fd = Glibc.open(keyPath, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else { throw ValidationError("cannot create \(keyPath)") }
        defer { Glibc.close(fd) }
        let bytes = Array(key.utf8)
        guard bytes.withUnsafeBytes({ Glibc.write(fd, $0.baseAddress, $0.count) }) == bytes.count else {
            throw ValidationError("cannot write \(keyPath)")
        }
        print("certs: wrote \(certificatePath) and \(keyPath) (\(subject))")
    }
}
