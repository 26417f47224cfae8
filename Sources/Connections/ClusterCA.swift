import Crypto
import Foundation
import SwiftASN1
import X509

/// A cluster's certificate authority: it signs the certificates `raft-cache certs` writes, in
/// which the subject's CN names the holder (a node's id, a client's name) and its OU the role.
/// Keys are ECDSA P-256.
public struct ClusterCA: Sendable {
    public let certificate: Certificate
    let key: P256.Signing.PrivateKey

    /// A new CA, valid from five minutes ago (clocks differ a little) for `days`.
    public static func make(days: Int) throws -> ClusterCA {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName {
            OrganizationName("raft-cache")
            CommonName("raft-cache cluster CA")
        }
        let now = Date()
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-300), notValidAfter: now.addingTimeInterval(Double(days) * 86_400),
            issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: .init(key.publicKey))
            },
            issuerPrivateKey: .init(key))
        return ClusterCA(certificate: certificate, key: key)
    }

    /// A CA written before (`certificatePEM`, `keyPEM`).
    public init(certificatePEM: String, keyPEM: String) throws {
        self.init(certificate: try Certificate(pemEncoded: certificatePEM), key: try P256.Signing.PrivateKey(pemRepresentation: keyPEM))
    }

    private init(certificate: Certificate, key: P256.Signing.PrivateKey) {
        self.certificate = certificate
        self.key = key
    }

    public var certificatePEM: String { get throws { try certificate.serializeAsPEM().pemString + "\n" } }
    public var keyPEM: String { key.pemRepresentation + "\n" }

    /// A certificate for `name` with `role` (peer, admin, write or read), and its key, as PEM.
    /// A server's (`server`: a node's) is valid for `hosts` (DNS names or IP addresses).
    public func issue(name: String, role: String, server: Bool, hosts: [String], days: Int) throws -> (certificate: String, key: String) {
        let key = P256.Signing.PrivateKey()
        let subject = try DistinguishedName {
            OrganizationName("raft-cache")
            OrganizationalUnitName(role)
            CommonName(name)
        }
        let names: [GeneralName] = hosts.map { host in
            ipAddressBytes(host).map { .ipAddress(ASN1OctetString(contentBytes: ArraySlice($0))) } ?? .dnsName(host)
        }
        let now = Date()
        let issued = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-300), notValidAfter: now.addingTimeInterval(Double(days) * 86_400),
            issuer: certificate.subject, subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true, keyEncipherment: true))
                try ExtendedKeyUsage(server ? [.serverAuth, .clientAuth] : [.clientAuth])
                if server { SubjectAlternativeNames(names) }
                AuthorityKeyIdentifier(keyIdentifier: try certificate.extensions.subjectKeyIdentifier?.keyIdentifier)
            },
            issuerPrivateKey: .init(self.key))
        return (try issued.serializeAsPEM().pemString + "\n", key.pemRepresentation + "\n")
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
