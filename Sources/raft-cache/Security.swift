import Connections
import Dispatch
import Foundation
import Logging
import RaftTransport

/// What a node trusts, from its flags: its TLS contexts and who may call what. Both are read
/// again on SIGHUP, so a rotated certificate or a changed token file takes effect without a
/// restart (for connections made afterwards); a file that no longer reads keeps the old.
final class Security: @unchecked Sendable {
    let tls: TLSContexts?
    let access: AccessPolicy
    private let tokenFile: String?
    private let localID: String
    private var hangup: (any DispatchSourceSignal)?

    private init(tls: TLSContexts?, access: AccessPolicy, tokenFile: String?, localID: String) {
        self.tls = tls
        self.access = access
        self.tokenFile = tokenFile
        self.localID = localID
    }

    static func load(tls files: TLSFiles?, tokenFile: String?, localID: String, logger: Logger) throws -> Security {
        var tls: TLSContexts?
        if let files {
            do {
                tls = try TLSContexts(files: files)
            } catch {
                throw StartupError("cannot set up TLS from --tls-cert-file, --tls-key-file and --tls-ca-file: \(error)")
            }
            try checkOwnIdentity(try tls!.ownIdentity(), localID: localID)
            if let keyLog = files.keyLog {
                logger.warning("--tls-keylog-file: TLS session secrets are written to \(keyLog); anyone who has it can read this node's traffic")
            }
        }
        let tokens = try tokenFile.map(readTokens)
        if let tokenFile { logger.info("bearer tokens loaded", metadata: ["file": "\(tokenFile)"]) }
        let security = Security(
            tls: tls, access: AccessPolicy(tls: tls != nil, tokens: tokens), tokenFile: tokenFile, localID: localID)
        security.reloadOnHangup(logger: logger)
        return security
    }

    /// A node's certificate must name it, as a peer: the others check the sender of every
    /// Raft message against it.
    private static func checkOwnIdentity(_ own: Caller?, localID: String) throws {
        guard let own, own.name == localID, own.role == .peer else {
            throw StartupError(
                "--tls-cert-file must name this node: subject CN=\(localID), OU=peer (it names "
                    + (own.map { "CN=\($0.name), OU=\($0.role.rawValue)" } ?? "no raft-cache identity") + "); "
                    + "raft-cache certs makes such certificates")
        }
    }

    private static func readTokens(_ path: String) throws -> TokenTable {
        do {
            return try TokenTable(file: try String(contentsOfFile: path, encoding: .utf8), path: path)
        } catch let error as TLSSetupError {
            throw StartupError("--auth-token-file: \(error)")
        } catch {
            throw StartupError("--auth-token-file: cannot read \(path): \(error)")
        }
    }

    private func reloadOnHangup(logger: Logger) {
        signal(SIGHUP, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: DispatchQueue(label: "raft-cache.sighup"))
        source.setEventHandler { [self] in reload(logger: logger) }
        source.resume()
        hangup = source
    }

    func reload(logger: Logger) {
        if let tls {
            do {
                try tls.reload { try Self.checkOwnIdentity($0, localID: localID) }
                logger.notice("SIGHUP: TLS certificate, key and CA read again")
            } catch {
                logger.error("SIGHUP: TLS files not reloaded; the ones in force stay", metadata: ["error": "\(error)"])
            }
        }
        if let tokenFile {
            do {
                access.replaceTokens(try Self.readTokens(tokenFile))
                logger.notice("SIGHUP: bearer tokens read again", metadata: ["file": "\(tokenFile)"])
            } catch {
                logger.error("SIGHUP: tokens not reloaded; the ones in force stay", metadata: ["error": "\(error)"])
            }
        }
    }
}
