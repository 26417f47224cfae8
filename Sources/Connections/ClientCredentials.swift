import Foundation

/// What a client program (raft-cache ctl, raft-cache-load) presents to the nodes: TLS from
/// the cluster CA and a client certificate and key, given all three or none, and a bearer
/// token from a file or the RAFT_CACHE_TOKEN variable.
public enum ClientCredentials {
    /// Why the TLS files cannot be used together, or nil.
    public static func tlsProblem(ca: String?, certificate: String?, key: String?) -> String? {
        let given = [ca, certificate, key].compactMap { $0 }.count
        return given == 0 || given == 3 ? nil : "--tls-ca-file, --tls-cert-file and --tls-key-file go together"
    }

    /// The TLS contexts of the three files, or nil when none is given.
    public static func tls(ca: String?, certificate: String?, key: String?) throws -> TLSContexts? {
        guard let ca, let certificate, let key else { return nil }
        return try TLSContexts(files: TLSFiles(certificate: certificate, key: key, ca: ca))
    }

    /// The token in `file` (trimmed), else RAFT_CACHE_TOKEN, else none ("").
    public static func token(file: String?) throws -> String {
        try file.map { try String(contentsOfFile: $0, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines) }
            ?? ProcessInfo.processInfo.environment["RAFT_CACHE_TOKEN"] ?? ""
    }
}
