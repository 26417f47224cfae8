import ArgumentParser
import Connections
import Foundation
import HTTPFrontend
import Logging
import NIOCore
import RaftStorage
import RaftTransport
import RaftWire

/// `raft-cache ctl`: an operator's client over the binary protocol.
struct CtlCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ctl",
        abstract: "Operate a cluster over the binary protocol: status, membership, snapshots, backups, keys.",
        discussion: """
            Talks to the node at --addr (its --raft-addr); a follower forwards writes and \
            membership changes to the leader. The flags go after the command. With TLS, give the cluster CA and a client \
            certificate and key (raft-cache certs makes them); with tokens, --token-file or \
            RAFT_CACHE_TOKEN. --json prints one JSON object (errors too, as \
            {"error": {"code", "message"}}); the exit status is 1 on any error.

            Examples:
              raft-cache ctl status
              raft-cache ctl members --addr localhost:8082 --json
              raft-cache ctl add node-4 localhost:8084
              raft-cache ctl backup cache.backup
              raft-cache ctl set greeting hello --ttl 30s
            """,
        subcommands: [
            CtlStatus.self, CtlMembers.self, CtlAdd.self, CtlRemove.self, CtlTransfer.self, CtlSnapshot.self, CtlBackup.self,
            CtlGet.self, CtlSet.self, CtlDelete.self,
        ])
}

/// Where and how ctl connects, and how it prints.
struct CtlOptions: ParsableArguments {
    @Option(help: "A node's binary-protocol address (its --raft-addr).")
    var addr = "localhost:8081"

    @Option(help: "The cluster CA (PEM): speak TLS, presenting --tls-cert-file.")
    var tlsCaFile: String?

    @Option(help: "A client certificate (PEM; its OU is the role: read, write or admin).")
    var tlsCertFile: String?

    @Option(help: "The key of --tls-cert-file (PEM).")
    var tlsKeyFile: String?

    @Option(help: "A file holding a bearer token (default: the RAFT_CACHE_TOKEN variable).")
    var tokenFile: String?

    @Option(help: "Time a call may take (Go duration; a backup has --backup-timeout).")
    var timeout = "10s"

    @Flag(help: "Print one JSON object.")
    var json = false

    func validate() throws {
        guard HostPort(addr) != nil else { throw ValidationError("--addr: '\(addr)' is not host:port") }
        if let problem = ClientCredentials.tlsProblem(ca: tlsCaFile, certificate: tlsCertFile, key: tlsKeyFile) {
            throw ValidationError(problem)
        }
        guard let duration = GoDuration.parse(timeout), duration.nanoseconds > 0 else {
            throw ValidationError("--timeout: '\(timeout)' is not a positive duration")
        }
    }

    var callTimeout: TimeAmount { GoDuration.parse(timeout)! }

    func client() throws -> RPCClient {
        var logger = Logger(label: "raft-cache-ctl")
        logger.logLevel = .critical
        let tls = try ClientCredentials.tls(ca: tlsCaFile, certificate: tlsCertFile, key: tlsKeyFile)
        let token = try ClientCredentials.token(file: tokenFile)
        let address = HostPort(addr)!
        return RPCClient(
            host: address.connectHost, port: address.port, options: .init(maxConnections: 1, timeout: callTimeout, tls: tls, token: token),
            logger: logger)
    }

    /// Runs `body` with a client, closes it, and turns a failure into its printout and exit status 1.
    func run<T>(_ body: (RPCClient) async throws -> T) async throws -> T {
        let client = try client()
        do {
            let result = try await body(client)
            await client.close()
            return result
        } catch {
            await client.close()
            let (code, message) = (error as? RPCError).map { ("\($0.status)", $0.message) } ?? ("ERROR", "\(error)")
            if json {
                Swift.print(Self.text(["error": ["code": code, "message": message]]))
            } else {
                FileHandle.standardError.write(Data("error: \(code): \(message)\n".utf8))
            }
            throw ExitCode.failure
        }
    }

    func call<Response: WireMessage>(_ method: Method, _ request: some WireMessage, as: Response.Type = Response.self) async throws -> Response {
        try await run { try await $0.call(method, request, timeout: callTimeout) }
    }

    /// `object` as JSON with --json, else `text`.
    func print(_ object: [String: Any], text: @autoclosure () -> String) {
        Swift.print(json ? Self.text(object) : text())
    }

    static func text(_ object: [String: Any]) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}

struct CtlStatus: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "The node's status (as GET /api/v1/status).")

    @OptionGroup var options: CtlOptions

    func run() async throws {
        let status: StatusResponse = try await options.call(.status, StatusRequest())
        var lines = [
            "\(status.nodeID): \(StatusJSON.role(status.role)), term \(status.term), leader \(status.leaderID.isEmpty ? "none" : status.leaderID)",
            "log: commit \(status.commitIndex), applied \(status.appliedIndex), last \(status.lastLogIndex), snapshot \(status.snapshot.index) (\(status.snapshot.sizeBytes) bytes)",
            "map: \(status.keys) keys, \(status.bytes) bytes, digest \(String(status.digest, radix: 16))",
        ]
        lines += status.followers.map { "follower \($0.id): match \($0.matchIndex), lag \($0.lag), \($0.state)" }
        options.print(StatusJSON.object(status), text: lines.joined(separator: "\n"))
    }
}

struct CtlMembers: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "members", abstract: "The cluster's members, and which one leads.")

    @OptionGroup var options: CtlOptions

    func run() async throws {
        let status: StatusResponse = try await options.call(.status, StatusRequest())
        let members: [[String: Any]] = status.members.map { member in
            ["id": member.id, "address": member.address, "suffrage": StatusJSON.suffrage(member.suffrage), "leader": member.id == status.leaderID]
        }
        let text = status.members.map { member in
            "\(member.id)\t\(member.address)\t\(StatusJSON.suffrage(member.suffrage))\(member.id == status.leaderID ? "\tleader" : "")"
        }.joined(separator: "\n")
        options.print(["members": members, "leader_id": status.leaderID], text: text)
    }
}

struct CtlAdd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add", abstract: "Add a member (admin): it joins as staging and becomes a voter once caught up.",
        discussion: "Start the new node first, with --leader-addr pointing at the cluster, or with an empty directory and this command.")

    @OptionGroup var options: CtlOptions

    @Argument(help: "The new member's id.")
    var id: String

    @Argument(help: "Its Raft address, host:port.")
    var address: String

    @Flag(help: "Keep it a learner: it gets every entry but does not vote.")
    var learner = false

    func run() async throws {
        let response: MembershipResponse = try await options.call(.addVoter, AddVoterRequest(id: id, address: address, learner: learner))
        options.print(["index": response.index, "id": id, "address": address], text: "added \(id) at \(address) (index \(response.index))")
    }
}

struct CtlRemove: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "remove", abstract: "Remove a member (admin).")

    @OptionGroup var options: CtlOptions

    @Argument(help: "The member's id.")
    var id: String

    func run() async throws {
        let response: MembershipResponse = try await options.call(.removeServer, RemoveServerRequest(id: id))
        options.print(["index": response.index, "id": id], text: "removed \(id) (index \(response.index))")
    }
}

struct CtlTransfer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "transfer", abstract: "Hand leadership to a voter (admin): the one named, or the most up-to-date.")

    @OptionGroup var options: CtlOptions

    @Argument(help: "The voter to lead (default: the most up-to-date one).")
    var id: String?

    func run() async throws {
        let _: TransferLeadershipResponse = try await options.call(.transferLeadership, TransferLeadershipRequest(targetID: id ?? ""))
        options.print(["status": "transferring", "to": id ?? ""], text: "transferring leadership\(id.map { " to \($0)" } ?? "")")
    }
}

struct CtlSnapshot: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "snapshot", abstract: "Take a snapshot of the node now (admin).")

    @OptionGroup var options: CtlOptions

    func run() async throws {
        let snapshot: SnapshotStatus = try await options.call(.snapshot, SnapshotRequest())
        options.print(StatusJSON.object(snapshot), text: "snapshot at index \(snapshot.index), term \(snapshot.term), \(snapshot.sizeBytes) bytes")
    }
}

struct CtlBackup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup", abstract: "Write a backup of the node's map to a file (admin); raft-cache restore reads it.",
        discussion: "The file is written beside its final name, its checksum checked, then renamed: a backup that fails leaves no file.")

    @OptionGroup var options: CtlOptions

    @Argument(help: "The file to write.")
    var file: String

    @Option(help: "Time the whole backup may take (Go duration).")
    var backupTimeout = "1h"

    func validate() throws {
        guard let duration = GoDuration.parse(backupTimeout), duration.nanoseconds > 0 else {
            throw ValidationError("--backup-timeout: '\(backupTimeout)' is not a positive duration")
        }
    }

    func run() async throws {
        let partial = file + ".partial"
        guard FileManager.default.createFile(atPath: partial, contents: nil), let out = FileHandle(forWritingAtPath: partial) else {
            throw ValidationError("cannot write \(partial)")
        }
        let written = Counter()
        do {
            try await options.run { client in
                try await client.callStream(.backup, BackupRequest(), timeout: GoDuration.parse(backupTimeout)!) { payload in
                    let part = try BackupChunk(wireBytes: payload)
                    try out.write(contentsOf: part.data)
                    written.add(part.data.count)
                }
                try out.synchronize()
                try out.close()
                // What arrived is checked whole before it takes the name.
                let backup = try FileSnapshot.verified(path: partial)
                guard rename(partial, file) == 0 else { throw ValidationError("cannot rename \(partial) to \(file)") }
                options.print(
                    ["file": file, "index": backup.metadata.lastIncludedIndex, "bytes": written.value],
                    text: "wrote \(file): index \(backup.metadata.lastIncludedIndex), \(written.value) bytes")
            }
        } catch {
            try? out.close()
            unlink(partial)
            throw error
        }
    }

    /// Bytes written so far, from the connection's loop.
    private final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var total = 0
        func add(_ count: Int) { lock.withLock { total += count } }
        var value: Int { lock.withLock { total } }
    }
}

struct CtlGet: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "get", abstract: "A key's value (exit status 1 when it is missing).")

    @OptionGroup var options: CtlOptions

    @Argument(help: "The key.")
    var key: String

    @Option(help: "linearizable, lease or stale.")
    var consistency = "linearizable"

    func validate() throws {
        guard Consistency(name: consistency) != nil else { throw ValidationError("--consistency must be \(Consistency.nameList)") }
    }

    func run() async throws {
        let response: GetResponse = try await options.call(.get, GetRequest(key: Array(key.utf8), consistency: Consistency(name: consistency)!))
        let value = String(validating: response.value, as: UTF8.self)
        var object: [String: Any] = [
            "key": key, "create_index": response.createIndex, "mod_index": response.modIndex, "applied_index": response.appliedIndex,
            "ttl_ms": response.ttlMs,
        ]
        if let value { object["value"] = value } else { object["value_base64"] = Data(response.value).base64EncodedString() }
        if options.json {
            options.print(object, text: "")
        } else {
            FileHandle.standardOutput.write(Data(response.value + [UInt8(ascii: "\n")]))
        }
    }
}

struct CtlSet: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "set", abstract: "Set a key (write).")

    @OptionGroup var options: CtlOptions

    @Argument(help: "The key.")
    var key: String

    @Argument(help: "The value.")
    var value: String

    @Option(help: "Time to live (Go duration: 30s, 5m); none by default.")
    var ttl: String?

    func validate() throws {
        if let ttl { guard GoDuration.parse(ttl).map({ $0.nanoseconds >= 1_000_000 }) == true else { throw ValidationError("--ttl must be a duration of at least 1ms") } }
    }

    func run() async throws {
        let ttlMs = ttl.flatMap(GoDuration.parse).map { UInt64($0.nanoseconds / 1_000_000) } ?? 0
        let response: SetResponse = try await options.call(.set, SetRequest(key: Array(key.utf8), value: Array(value.utf8), ttlMs: ttlMs))
        options.print(["index": response.index], text: "OK (index \(response.index))")
    }
}

struct CtlDelete: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "delete", abstract: "Delete a key (write; a missing key is no error).")

    @OptionGroup var options: CtlOptions

    @Argument(help: "The key.")
    var key: String

    func run() async throws {
        let response: DeleteResponse = try await options.call(.delete, DeleteRequest(key: Array(key.utf8)))
        options.print(["index": response.index], text: "OK (index \(response.index))")
    }
}
