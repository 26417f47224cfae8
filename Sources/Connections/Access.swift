import NIOConcurrencyHelpers
import NIOCore
import NIOSSL

/// What a caller may do. Each role may do what the ones before it may.
public enum AccessRole: String, Sendable, Comparable, CaseIterable {
    /// Get and status.
    case read
    /// Set and delete too.
    case write
    /// Membership, leadership transfer and snapshots too.
    case admin
    /// A cluster member: Raft's own messages too (a certificate only, never a token).
    case peer

    public static func < (a: AccessRole, b: AccessRole) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// Who called: the name and role a certificate (its subject's common name and
/// organizational unit) or a token gives.
public struct Caller: Sendable, Equatable {
    public var name: String
    public var role: AccessRole

    public init(name: String, role: AccessRole) {
        self.name = name
        self.role = role
    }

    /// The caller a certificate names: CN is the name (a node's id), OU the role.
    public init?(certificate: NIOSSLCertificate) {
        // Exactly one CN and one OU: a subject naming two callers names none.
        let names = certificate.subjectName.filter { $0.type == .commonName }
        let units = certificate.subjectName.filter { $0.type == .organizationalUnit }
        guard names.count == 1, units.count == 1, let name = names.first?.value, !name.isEmpty,
            let role = AccessRole(rawValue: units[0].value)
        else { return nil }
        self.init(name: name, role: role)
    }
}

/// Bearer tokens and their roles, from a file of lines `ROLE TOKEN [NAME]` (`#` starts a
/// comment). Tokens are compared in constant time and never logged.
public struct TokenTable: Sendable {
    private let entries: [(token: [UInt8], caller: Caller)]

    public init(entries: [(token: String, caller: Caller)]) {
        self.entries = entries.map { (Array($0.token.utf8), $0.caller) }
    }

    public init(file text: String, path: String) throws {
        var entries: [(String, Caller)] = []
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let words = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0]
                .split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
            if words.isEmpty { continue }
            guard words.count <= 3, words.count >= 2, let role = AccessRole(rawValue: String(words[0])), role != .peer else {
                throw TLSSetupError("\(path):\(number + 1): expected ROLE TOKEN [NAME] with ROLE read, write or admin")
            }
            guard words[1].utf8.count >= 16 else {
                throw TLSSetupError("\(path):\(number + 1): a token must be at least 16 characters")
            }
            entries.append((String(words[1]), Caller(name: words.count == 3 ? String(words[2]) : "token-\(number + 1)", role: role)))
        }
        guard !entries.isEmpty else { throw TLSSetupError("\(path) holds no token") }
        self.init(entries: entries)
    }

    public var isEmpty: Bool { entries.isEmpty }

    /// The caller a token stands for. Every entry is compared, each in time that depends only
    /// on the lengths, so the time taken tells nothing of which bytes matched.
    public func caller(for token: String) -> Caller? {
        let offered = Array(token.utf8)
        var found: Caller?
        for entry in entries where constantTimeEqual(entry.token, offered) && found == nil {
            found = entry.caller
        }
        return found
    }

    /// The first admin token: a node calls the cluster's admin methods (joining, leaving) with it.
    public var adminToken: String? {
        entries.first { $0.caller.role >= .admin }.map { String(decoding: $0.token, as: UTF8.self) }
    }
}

private func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    var difference: UInt8 = a.count == b.count ? 0 : 1
    for i in 0..<max(a.count, b.count) {
        difference |= (i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0)
    }
    return difference == 0
}

/// Why a call is refused.
public enum AccessDenied: Error, Sendable, Equatable, CustomStringConvertible {
    /// No credential, or one that is not valid: HTTP 401, UNAUTHENTICATED.
    case unauthenticated(String)
    /// A valid credential whose role may not do this: HTTP 403, PERMISSION_DENIED.
    case permissionDenied(String)

    public var description: String {
        switch self {
        case .unauthenticated(let why), .permissionDenied(let why): why
        }
    }
}

/// Who may call what on a node. With TLS a caller is whoever its certificate names; with
/// tokens, whoever its token stands for. With neither configured there is no one to tell
/// apart (a node without TLS serves loopback only, unless --insecure): every caller may do
/// everything. Without TLS, Raft's own messages cannot be authenticated and are let through.
public final class AccessPolicy: Sendable {
    public let tls: Bool
    private let tokens: NIOLockedValueBox<TokenTable?>

    public init(tls: Bool, tokens: TokenTable?) {
        self.tls = tls
        self.tokens = NIOLockedValueBox(tokens)
    }

    /// Replaces the tokens (a token file read again).
    public func replaceTokens(_ table: TokenTable?) {
        tokens.withLockedValue { $0 = table }
    }

    public var adminToken: String? { tokens.withLockedValue { $0?.adminToken } }

    /// Whether a caller with this certificate and token may do what `needed` allows.
    public func authorize(_ needed: AccessRole, certificate: Caller?, token: String?) -> Result<Caller, AccessDenied> {
        // Without TLS a peer has nothing to prove itself with (a token is a client's, and the
        // node's own calls carry its admin token for joining and leaving).
        if needed == .peer && !tls { return .success(Caller(name: "", role: .peer)) }
        let table = tokens.withLockedValue { $0 }
        let caller: Caller
        if let certificate {
            caller = certificate
        } else if let token, !token.isEmpty, let table {
            guard let known = table.caller(for: token) else { return .failure(.unauthenticated("the token is not valid")) }
            caller = known
        } else if tls || table != nil {
            return .failure(.unauthenticated(
                "a client certificate or a token is needed" + (needed == .peer ? " (a peer's certificate, for Raft's messages)" : "")))
        } else {
            return .success(Caller(name: "", role: .peer))
        }
        guard caller.role >= needed else {
            return .failure(.permissionDenied("\(caller.name) has the role \(caller.role.rawValue); this needs \(needed.rawValue)"))
        }
        return .success(caller)
    }
}

extension ChannelPipeline.SynchronousOperations {
    /// Who the TLS peer's certificate names (nil: no TLS, no certificate, or none of ours).
    public var certificateCaller: Caller? {
        (try? nioSSL_peerCertificate())?.flatMap(Caller.init(certificate:))
    }
}
