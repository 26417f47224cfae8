import ArgumentParser
import Crypto
import Foundation
import SwiftASN1
import X509

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
        let now = Date()
        let until = now.addingTimeInterval(Double(days) * 86_400)
        let ca = try loadOrMakeCA(now: now, until: until)
        for node in nodes {
            try issue(name: node, role: "peer", server: true, ca: ca, now: now, until: until)
        }
        for client in clients {
            let (name, role) = Self.parseClient(client)!
            try issue(name: name, role: role, server: false, ca: ca, now: now, until: until)
        }
    }

    private func loadOrMakeCA(now: Date, until: Date) throws -> (certificate: Certificate, key: P256.Signing.PrivateKey) {
        let certificatePath = dir + "/ca.pem", keyPath = dir + "/ca-key.pem"
        if FileManager.default.fileExists(atPath: certificatePath) {
            let certificate = try Certificate(pemEncoded: try String(contentsOfFile: certificatePath, encoding: .utf8))
            let key = try P256.Signing.PrivateKey(pemRepresentation: try String(contentsOfFile: keyPath, encoding: .utf8))
            print("certs: signing with \(certificatePath)")
            return (certificate, key)
        }
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName {
            OrganizationName("raft-cache")
            CommonName("raft-cache cluster CA")
        }
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-300), notValidAfter: until, issuer: name, subject: name,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: .init(key.publicKey))
            },
            issuerPrivateKey: .init(key))
        try write(certificate, key: key, name: "ca")
        return (certificate, key)
    }

    private func issue(
        name: String, role: String, server: Bool, ca: (certificate: Certificate, key: P256.Signing.PrivateKey), now: Date,
        until: Date
    ) throws {
        let key = P256.Signing.PrivateKey()
        let subject = try DistinguishedName {
            OrganizationName("raft-cache")
            OrganizationalUnitName(role)
            CommonName(name)
        }
        let names: [GeneralName] = (hosts.isEmpty ? ["localhost", "127.0.0.1", "::1"] : hosts).map { host in
            ipAddressBytes(host).map { .ipAddress(ASN1OctetString(contentBytes: ArraySlice($0))) } ?? .dnsName(host)
        }
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-300), notValidAfter: until, issuer: ca.certificate.subject,
            subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true, keyEncipherment: true))
                try ExtendedKeyUsage(server ? [.serverAuth, .clientAuth] : [.clientAuth])
                if server { SubjectAlternativeNames(names) }
                AuthorityKeyIdentifier(keyIdentifier: try ca.certificate.extensions.subjectKeyIdentifier?.keyIdentifier)
            },
            issuerPrivateKey: .init(ca.key))
        try write(certificate, key: key, name: name)
    }

    private func write(_ certificate: Certificate, key: P256.Signing.PrivateKey, name: String) throws {
        let certificatePath = dir + "/\(name).pem", keyPath = dir + "/\(name)-key.pem"
        try certificate.serializeAsPEM().pemString.appending("\n").write(toFile: certificatePath, atomically: true, encoding: .utf8)
        // Private from the first byte: made with mode 0600, never readable by others.
        try? FileManager.default.removeItem(atPath: keyPath)
        guard FileManager.default.createFile(
            atPath: keyPath, contents: Data(key.pemRepresentation.appending("\n").utf8), attributes: [.posixPermissions: 0o600])
        else { throw ValidationError("cannot write \(keyPath)") }
        print("certs: wrote \(certificatePath) and \(keyPath) (\(certificate.subject))")
    }
}

/// The 4 or 16 bytes of an IPv4 or IPv6 address; nil for a name.
private func ipAddressBytes(_ text: String) -> [UInt8]? {
    var v4 = in_addr()
    if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: v4) { Array($0) } }
    var v6 = in6_addr()
    if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: v6) { Array($0) } }
    return nil
}
