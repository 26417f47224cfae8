import ArgumentParser
import CacheStore
import Connections
import Dispatch
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import HTTPFrontend
import Logging
import NIOCore
import NIOPosix
import NodeMetrics
import RaftCore
import RaftNode
import RaftStorage
import RaftTransport
import RaftWire

/// `raft-cache`: a node (the default, as the original program is), or one of the tools
/// beside it.
@main
struct RaftCacheCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "raft-cache",
        abstract: "A strongly consistent, in-memory key-value cache replicated with Raft.",
        discussion: "With no subcommand, raft-cache starts a node: raft-cache [node] [<options>]; raft-cache node --help lists its flags.",
        subcommands: [NodeCommand.self, CtlCommand.self, CertsCommand.self, RestoreCommand.self, RecoverCommand.self],
        defaultSubcommand: NodeCommand.self)
}

/// The raft-cache node. The flags are those of the original program, with its defaults,
/// and a few of its own.
struct NodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node",
        abstract: "Start a node (the default when no subcommand is given).",
        usage: "raft-cache [node] [<options>]",
        discussion: """
            Starts one node. With an empty data directory and no --leader-addr it founds a \
            one-node cluster. With --leader-addr it joins instead: through \
            --leader-api-endpoint's HTTP API (POST /api/v1/node) when that is given, as the \
            original does, or else by asking the member at --leader-addr over the binary \
            protocol. A node restarted with a data directory resumes from it - its log, vote \
            and membership - and never founds a second cluster.

            SIGINT or SIGTERM: a leader hands leadership to another voter first, then the node \
            stops. It stays a member unless --leave-on-shutdown is given. SIGHUP: the TLS files \
            and the token file are read again.

            Without TLS a node serves loopback clients only (unless --insecure). With \
            --tls-cert-file, --tls-key-file and --tls-ca-file (raft-cache certs makes them) \
            both ports speak TLS: peers authenticate each other with their certificates, \
            clients with a certificate or a bearer token (--auth-token-file).
            """)

    @Option(help: "This node's id.")
    var localID = "node-1"

    @Option(help: "Raft (binary protocol) address to bind and advertise, host:port.")
    var raftAddr = "localhost:8081"

    @Option(help: "Data directory (log, hard state, snapshots).")
    var raftDir = "temp/"

    @Option(help: "Raft address of a cluster member; when set and the data directory is empty, the node joins instead of founding a cluster.")
    var leaderAddr = ""

    @Option(help: "HTTP base URL of a member, used to send the join request.")
    var leaderApiEndpoint = ""

    @Option(help: "Connections kept per peer.")
    var maxPool = 3

    @Option(help: "Raft network I/O timeout (Go duration: 500ms, 3s, 1m).")
    var timeout = "3s"

    @Option(help: "Snapshots kept on disk.")
    var snapshotRetain = 2

    @Option(help: "Size of each log segment file (MiB); whole segments are dropped once a snapshot covers them.")
    var segmentMib = 64

    @Option(help: "Size of each chunk a snapshot is sent to a follower in (KiB); one chunk is in flight at a time.")
    var snapshotChunkKib = 1_024

    @Option(help: "HTTP listen address (:8000 means every interface, port 8000).")
    var port = ":8000"

    @Option(help: "The largest value a write may carry, in bytes (413 past it).")
    var maxValueSize = 1 << 20

    @Option(help: "The longest key a request may name, in bytes (413 past it; at most 65536).")
    var maxKeySize = 16 << 10

    @Option(help: "The longest URL, and the most bytes of header fields, an HTTP request may have (414 and 431 past them). A key in a URL takes up to three times its length, percent-encoded.")
    var maxHeaderSize = HTTPServer.defaultMaxHeaderSize

    @Option(help: "Bound on the memory the map counts: keys, values and 96 bytes per key (bytes, or with KiB, MiB, GiB: 512MiB). 0: no bound.")
    var maxMemory = "0"

    @Option(help: "At --max-memory: noeviction (refuse writes with 507), allkeys-lru, allkeys-lfu, volatile-lru or volatile-ttl (Redis' meanings; volatile: keys with a TTL).")
    var evictionPolicy = "noeviction"

    @Option(help: "Changes kept for watchers that resume with since: a number of entries (100000), or bytes of keys and values (64MiB); both bounds hold, the one not given at its default (100000 entries, 64 MiB).")
    var watchHistory = "100000"

    @Option(help: "Bytes of a watcher's changes that may wait to be sent (KiB, MiB); a watcher that does not read past it is ended.")
    var watchBuffer = "1MiB"

    @Option(help: "A client session (exactly-once writes) without a write for this long is ended by the leader (Go duration).")
    var sessionTimeout = "1h"

    @Option(help: "Writes a node holds at once, received and not yet answered (on the leader: the proposals in flight); past it a write is refused at once with 503 and Retry-After (UNAVAILABLE with retry_after_ms). The default is 2048 per core of this machine.")
    var maxWritesInFlight = AdmissionLimits.machine.maxWritesInFlight

    @Option(help: "Bytes of client requests a node holds at once (HTTP bodies from their head on, binary calls' payloads), refused past it as --max-writes-in-flight is (bytes, or with KiB, MiB, GiB). The default is 1/256 of this machine's memory, from 8MiB to 64MiB.")
    var maxBytesInFlight = ByteSize.describe(AdmissionLimits.machine.maxBytes)

    @Option(help: "Log entries not yet applied past which writes are refused as --max-writes-in-flight are.")
    var maxApplyBacklog = 5_000

    @Option(help: "Bytes of answers a node holds that their readers have not taken yet; past it reads of keys are refused as --max-writes-in-flight are, until slow readers read or are closed (--write-timeout). Its default is the same as --max-bytes-in-flight's.")
    var maxAnswerBytes = ByteSize.describe(AdmissionLimits.machine.maxBytes)

    @Option(help: "Take a snapshot (and drop the log it covers) after this many entries,")
    var snapshotEntries = 100_000

    @Option(help: "or after entries carrying this many bytes of commands (MiB).")
    var snapshotMib = 64

    @Option(help: "Heartbeat interval (Go duration).")
    var heartbeat = "100ms"

    @Option(help: "Shortest election timeout (Go duration); each election waits a random time between it and twice it.")
    var electionTimeout = "500ms"

    @Flag(help: "On SIGINT/SIGTERM, leave the cluster (remove this node) before stopping.")
    var leaveOnShutdown = false

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel = "info"

    @Option(help: "Log format on standard error: text, or json (one object a line: time, level, label, message, metadata).")
    var logFormat = "text"

    @Flag(help: "Accept connections from any host, not only from loopback, without TLS. Then nothing tells peers and clients from strangers: anyone who reaches a port can read, write and change the membership.")
    var insecure = false

    @Option(help: "This node's certificate (PEM; its subject: CN=the node's id, OU=peer). With --tls-key-file and --tls-ca-file: mutual TLS between peers, TLS on both ports (HTTPS on --port). Read again on SIGHUP.")
    var tlsCertFile = ""

    @Option(help: "The key of --tls-cert-file (PEM).")
    var tlsKeyFile = ""

    @Option(help: "The cluster CA (PEM): every peer's and client's certificate must chain to it.")
    var tlsCaFile = ""

    @Option(help: "Append TLS session secrets here in the NSS key log format, for Wireshark. Debugging only: anyone with the file can read the traffic.")
    var tlsKeylogFile = ""

    @Option(help: "Bearer tokens, one per line: ROLE TOKEN [NAME], ROLE read, write or admin. Clients without a certificate send one (HTTP Authorization: Bearer; on the wire the Envelope's auth_token). Read again on SIGHUP.")
    var authTokenFile = ""

    @Option(help: "Connections each port (HTTP, binary) keeps open; past it the oldest one serving no request (one never answered first) is closed for a new one.")
    var maxConnections = 4_096

    @Option(help: "Time a client has to send a whole request (HTTP head and body, or a frame) once it starts (Go duration).")
    var readTimeout = "10s"

    @Option(help: "Time a connection may stay open with no request (Go duration).")
    var idleTimeout = "2m"

    @Option(help: "Time a client has to read an answer once the node writes it (Go duration); a client that does not is closed, so slow readers hold no answers for long.")
    var writeTimeout = "10s"

    /// --watch-history: entries (a bare number) or bytes (a size with a unit).
    var watchHistoryLimits: WatchHistoryLimits? {
        if let entries = Int(watchHistory), entries > 0 { return WatchHistoryLimits(entries: entries) }
        guard watchHistory.contains(where: \.isLetter), let bytes = ByteSize.parse(watchHistory), bytes > 0, bytes <= 1 << 40 else {
            return nil
        }
        return WatchHistoryLimits(bytes: Int(bytes))
    }

    /// --max-memory and --eviction-policy (validated).
    var memoryBound: MemoryBound? {
        let bytes = ByteSize.parse(maxMemory) ?? 0
        return bytes == 0 ? nil : MemoryBound(maxBytes: bytes, policy: EvictionPolicy(rawValue: evictionPolicy) ?? .noEviction)
    }

    func validate() throws {
        guard let io = GoDuration.parse(timeout), io.nanoseconds > 0 else {
            throw ValidationError("--timeout: '\(timeout)' is not a positive duration like 500ms, 3s or 1m")
        }
        guard (1...65_536).contains(maxKeySize) else { throw ValidationError("--max-key-size must be between 1 and 65536") }
        guard (4_096...(1 << 20)).contains(maxHeaderSize) else { throw ValidationError("--max-header-size must be between 4096 and 1048576") }
        // A value must fit in one frame with its key, envelope and entry around it.
        guard (1...(Frame.defaultMaxLength - 64 * 1024 - maxKeySize)).contains(maxValueSize) else {
            throw ValidationError("--max-value-size must be between 1 and \(Frame.defaultMaxLength - 64 * 1024 - maxKeySize)")
        }
        guard watchHistoryLimits != nil else {
            throw ValidationError("--watch-history: '\(watchHistory)' is neither a number of entries nor a size like 64MiB")
        }
        guard let buffer = ByteSize.parse(watchBuffer), (1_024...(1 << 30)).contains(buffer) else {
            throw ValidationError("--watch-buffer must be a size from 1KiB to 1GiB, like 1MiB")
        }
        guard let session = GoDuration.parse(sessionTimeout), session.nanoseconds >= 1_000_000_000 else {
            throw ValidationError("--session-timeout must be a duration of at least 1s, like 1h")
        }
        guard maxWritesInFlight >= 1 else { throw ValidationError("--max-writes-in-flight must be at least 1") }
        guard let inFlight = ByteSize.parse(maxBytesInFlight), (1 << 20...1 << 40).contains(inFlight) else {
            throw ValidationError("--max-bytes-in-flight must be a size from 1MiB to 1TiB, like 64MiB")
        }
        guard maxApplyBacklog >= 1 else { throw ValidationError("--max-apply-backlog must be at least 1") }
        guard let answers = ByteSize.parse(maxAnswerBytes), (1 << 20...1 << 40).contains(answers) else {
            throw ValidationError("--max-answer-bytes must be a size from 1MiB to 1TiB, like 64MiB")
        }
        guard let beat = GoDuration.parse(heartbeat), beat.nanoseconds > 0 else { throw ValidationError("--heartbeat: '\(heartbeat)' is not a positive duration") }
        guard let election = GoDuration.parse(electionTimeout), election.nanoseconds > 2 * beat.nanoseconds else {
            throw ValidationError("--election-timeout must be a duration of more than twice --heartbeat")
        }
        guard let bound = ByteSize.parse(maxMemory), bound <= 1 << 62 else {
            throw ValidationError("--max-memory: '\(maxMemory)' is not a size like 1073741824, 512MiB or 2GiB")
        }
        guard EvictionPolicy(rawValue: evictionPolicy) != nil else {
            throw ValidationError("--eviction-policy must be one of \(EvictionPolicy.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        try validateMember(id: localID, address: raftAddr)
        guard leaderAddr.isEmpty || HostPort(leaderAddr) != nil else { throw ValidationError("--leader-addr: '\(leaderAddr)' is not host:port") }
        guard HostPort(listenAddress: port) != nil else { throw ValidationError("--port: '\(port)' is not :port or host:port") }
        guard maxPool >= 1 else { throw ValidationError("--max-pool must be at least 1") }
        guard snapshotEntries >= 1 else { throw ValidationError("--snapshot-entries must be at least 1") }
        guard snapshotMib >= 1 else { throw ValidationError("--snapshot-mib must be at least 1") }
        guard (1...1024).contains(segmentMib) else { throw ValidationError("--segment-mib must be 1...1024") }
        guard (1...8_192).contains(snapshotChunkKib) else { throw ValidationError("--snapshot-chunk-kib must be 1...8192") }
        guard snapshotRetain >= 1 else { throw ValidationError("--snapshot-retain must be at least 1") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("--log-level: unknown level '\(logLevel)'") }
        guard ["text", "json"].contains(logFormat) else { throw ValidationError("--log-format must be text or json, not '\(logFormat)'") }
        guard maxConnections >= 1 else { throw ValidationError("--max-connections must be at least 1") }
        let tlsFiles = [tlsCertFile, tlsKeyFile, tlsCaFile].filter { !$0.isEmpty }.count
        guard tlsFiles == 0 || tlsFiles == 3 else {
            throw ValidationError("--tls-cert-file, --tls-key-file and --tls-ca-file go together")
        }
        guard tlsKeylogFile.isEmpty || tlsFiles == 3 else { throw ValidationError("--tls-keylog-file needs TLS") }
        guard let read = GoDuration.parse(readTimeout), read.nanoseconds > 0 else {
            throw ValidationError("--read-timeout: '\(readTimeout)' is not a positive duration")
        }
        guard let write = GoDuration.parse(writeTimeout), write.nanoseconds > 0 else {
            throw ValidationError("--write-timeout: '\(writeTimeout)' is not a positive duration")
        }
        guard let idle = GoDuration.parse(idleTimeout), idle.nanoseconds > 0 else {
            throw ValidationError("--idle-timeout: '\(idleTimeout)' is not a positive duration")
        }
    }

    func run() async throws {
        // Before the first logger is made: it takes its handler from here.
        let level = Logger.Level(rawValue: logLevel)!, json = logFormat == "json"
        LoggingSystem.bootstrap { label in
            guard !json else {
                var handler = JSONLogHandler(label: label)
                handler.logLevel = level
                return handler
            }
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        // Before the first metric is made, as the log's handler is: what /metrics exports.
        let metrics = MetricsExporter.bootstrapProcess()
        let logger = {
            var logger = Logger(label: "raft-cache")
            logger.logLevel = level
            logger[metadataKey: "node"] = "\(localID)"
            return logger
        }()

        let security = try Security.load(
            tls: tlsCertFile.isEmpty ? nil : TLSFiles(
                certificate: tlsCertFile, key: tlsKeyFile, ca: tlsCaFile, keyLog: tlsKeylogFile.isEmpty ? nil : tlsKeylogFile),
            tokenFile: authTokenFile.isEmpty ? nil : authTokenFile, localID: localID, logger: logger)
        let limits = connectionLimits(tls: security.tls != nil, logger: logger)
        let storage: FileStorage
        do {
            storage = try FileStorage(directory: raftDir, options: .init(segmentSize: segmentMib << 20, snapshotRetain: snapshotRetain), logger: logger)
        } catch {
            throw StartupError("cannot open --raft-dir \(raftDir): \(error)")
        }
        let fresh = storage.recovered.entries.isEmpty && storage.recovered.snapshot.lastIncludedIndex == 0
            && storage.recovered.hardState.term == 0
        // Either flag asks to join a cluster; only with neither does a new node found one.
        let joining = !leaderAddr.isEmpty || !leaderApiEndpoint.isEmpty
        // Otherwise the node starts from what the storage recovered.
        var founding: PersistentState?
        if fresh && !joining {
            logger.info("founding a one-node cluster", metadata: ["address": "\(raftAddr)"])
            let initial = RaftCore.bootstrapState(servers: [Server(id: localID, address: raftAddr)])
            try await storage.persist(StorageUpdate(hardState: initial.hardState, entries: initial.entries))
            founding = initial
        }

        let tick = GoDuration.parse(heartbeat)!
        let electionTicks = Int(GoDuration.parse(electionTimeout)!.nanoseconds / tick.nanoseconds)
        let ioTimeout = GoDuration.parse(timeout)!
        let storeState = CacheStore()
        let housekeeping = Housekeeping.forProcess()
        let node = RaftNode(
            options: .init(
                id: localID, address: raftAddr, tickInterval: tick, electionTicks: max(2, electionTicks), heartbeatTicks: 1,
                requestTimeout: max(ioTimeout, .seconds(1)), maxValueSize: maxValueSize,
                snapshotEntries: UInt64(snapshotEntries), snapshotBytes: snapshotMib << 20, snapshotChunkSize: snapshotChunkKib << 10,
                // A peer that comes back is reached again within half a second.
                client: .init(
                    maxConnections: maxPool, timeout: ioTimeout, maxBackoff: .milliseconds(500), tls: security.tls),
                memoryBound: memoryBound, watchHistory: watchHistoryLimits!, maxKeySize: maxKeySize,
                sessionTimeout: GoDuration.parse(sessionTimeout)!,
                admission: AdmissionLimits(
                    maxWritesInFlight: maxWritesInFlight, maxBytesInFlight: Int(ByteSize.parse(maxBytesInFlight)!),
                    maxApplyBacklog: maxApplyBacklog, maxAnswerBytes: Int(ByteSize.parse(maxAnswerBytes)!))),
            storage: storage, state: founding, store: storeState, logger: logger, housekeeping: housekeeping)
        do {
            try node.restoreStore()
        } catch {
            throw StartupError("cannot load the newest snapshot in --raft-dir \(raftDir): \(error)")
        }
        let api = NodeAPI(node: node, access: security.access)
        let raftListen = HostPort(raftAddr)!
        let server: RPCServer
        do {
            // On the node's loop: peers' calls and binary clients reach the core without a thread hop.
            server = try await RPCServer.start(
                host: raftListen.bindHost, port: raftListen.port, service: RaftNodeService(api: api),
                options: .init(connections: limits, tls: security.tls, streamBufferLimit: Int(ByteSize.parse(watchBuffer)!),
                    admission: node.admission),
                group: node.eventLoop, logger: logger)
        } catch {
            throw StartupError("cannot listen on --raft-addr \(raftAddr): \(error)")
        }
        node.start()
        let memoryTrimmer = housekeeping.returnFreeMemoryPeriodically(on: node.eventLoop)
        defer { memoryTrimmer.cancel() }
        logger.info("serving the binary protocol", metadata: ["address": "\(raftAddr)", "data_dir": "\(raftDir)"])

        let httpListen = HostPort(listenAddress: port)!
        let frontend = HTTPFrontend(api: api, watchBufferLimit: Int(ByteSize.parse(watchBuffer)!), metrics: metrics)
        frontend.listeners.add(port: "raft") { server.connectionCount }
        let http: HTTPServer
        do {
            // On the node's loop as well: a key request reaches the core without a thread hop.
            http = try await HTTPServer.start(
                host: httpListen.bindHost, port: httpListen.port, frontend: frontend, group: node.eventLoop, limits: limits, tls: security.tls,
                maxHeaderSize: maxHeaderSize,
                logger: logger)
        } catch {
            await shutDown(node: node, server: server, storage: storage, security: security, logger: logger)
            throw StartupError("cannot serve HTTP on --port \(port): \(error)")
        }
        frontend.listeners.add(port: "http") { http.connectionCount }
        logger.info("serving HTTP", metadata: ["address": "\(port)"])
        let shouldJoin = fresh && joining
        // Runs until a signal, or the node or the join failing.
        let stop = StopTrigger()
        stop.watchSignals(logger: logger)
        node.failure.whenSuccess { reason in stop.fire(StartupError("the node stopped: \(reason)")) }
        let failure: (any Error)? = await withTaskGroup(of: Void.self) { group in
            if shouldJoin {
                group.addTask {
                    do {
                        try await join(logger: logger, timeout: ioTimeout, security: security)
                    } catch {
                        stop.fire(error)
                    }
                }
            }
            let reason = await stop.wait()
            group.cancelAll()
            return reason
        }
        await http.close()
        await shutDown(node: node, server: server, storage: storage, security: security, logger: logger)
        if let failure { throw failure }
    }

    /// The connection limits from the flags, within the file descriptors the process may
    /// open: the soft limit is raised to the hard one, and both ports' connections must fit
    /// in it beside the node's own files and peers.
    private func connectionLimits(tls: Bool, logger: Logger) -> ConnectionLimits {
        let descriptors = raiseOpenFileLimit()
        let fit = max(1, (descriptors - 256) / 2)
        if maxConnections > fit {
            logger.warning("--max-connections lowered to fit the open-file limit", metadata: [
                "asked": "\(maxConnections)", "allowed": "\(fit)", "open_file_limit": "\(descriptors)"])
        }
        if tls {
            logger.info("TLS on both ports: peers and clients from any host, authenticated")
        } else if insecure {
            logger.warning("--insecure: accepting connections from any host, with no authentication; anyone who reaches the ports can read, write and change the membership")
        } else {
            logger.notice("serving loopback clients only: connections from other hosts are refused; to serve them, configure --tls-cert-file, --tls-key-file and --tls-ca-file, or start with --insecure on a network you trust")
        }
        return ConnectionLimits(
            maxConnections: min(maxConnections, fit), idleTimeout: GoDuration.parse(idleTimeout)!,
            readTimeout: GoDuration.parse(readTimeout)!, writeTimeout: GoDuration.parse(writeTimeout)!, loopbackOnly: !insecure && !tls)
    }

    /// Asks a member to add this node: over HTTP at --leader-api-endpoint (the original's
    /// way), or over the binary protocol at --leader-addr. Retried while the cluster has no
    /// leader or another change is committing.
    private func join(logger: Logger, timeout: TimeAmount, security: Security) async throws {
        if !leaderApiEndpoint.isEmpty { return try await joinOverHTTP(logger: logger, token: security.access.adminToken) }
        guard !leaderAddr.isEmpty else { return }
        let leader = HostPort(leaderAddr)!
        let client = RPCClient(
            host: leader.connectHost, port: leader.port,
            options: .init(timeout: timeout, tls: security.tls, token: security.access.adminToken ?? ""), logger: logger)
        defer { Task { await client.close() } }
        let deadline = ContinuousClock.now + .seconds(30)
        while true {
            do {
                // Joining again with the same id and address is a no-op, so retrying is safe.
                let response: MembershipResponse = try await client.call(
                    .addVoter, AddVoterRequest(id: localID, address: raftAddr), timeout: timeout * 3)
                logger.info("joined the cluster", metadata: ["index": "\(response.index)"])
                return
            } catch let error as RPCError
                where [.unavailable, .failedPrecondition, .deadlineExceeded, .aborted].contains(error.status)
                    && ContinuousClock.now < deadline
            {
                // No leader yet, or another change (another node joining) still committing.
                try await Task.sleep(for: .milliseconds(200))
            } catch {
                throw StartupError("cannot join through \(leaderAddr): \(error)")
            }
        }
    }

    private func joinOverHTTP(logger: Logger, token: String?) async throws {
        let endpoint = leaderApiEndpoint.hasSuffix("/") ? String(leaderApiEndpoint.dropLast()) : leaderApiEndpoint
        guard let url = URL(string: endpoint + "/api/v1/node") else {
            throw StartupError("--leader-api-endpoint \(leaderApiEndpoint) is not a URL")
        }
        var request = URLRequest(url: url)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        request.httpBody = try JSONSerialization.data(withJSONObject: ["addr": raftAddr, "node_id": localID])
        request.timeoutInterval = 15
        let deadline = ContinuousClock.now + .seconds(30)
        while true {
            var reason = ""
            do {
                let (body, response) = try await URLSession.shared.data(for: request)
                let status = (response as? HTTPURLResponse)?.statusCode ?? 0
                if status == 200 {
                    logger.info("joined the cluster", metadata: ["through": "\(url)"])
                    return
                }
                reason = "HTTP \(status): \(String(decoding: body, as: UTF8.self))"
                guard [409, 503, 504].contains(status) else { throw StartupError("cannot join through \(url): \(reason)") }
            } catch let error as StartupError {
                throw error
            } catch {
                reason = "\(error)"
            }
            guard ContinuousClock.now < deadline else { throw StartupError("cannot join through \(url): \(reason)") }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    private func shutDown(node: RaftNode, server: RPCServer, storage: FileStorage, security: Security, logger: Logger) async {
        if let status = try? await node.status().get() {
            if leaveOnShutdown {
                // Through the node's service, which forwards to the leader from a follower.
                let me = NodeAPI.Requester(certificate: Caller(name: localID, role: .admin), token: security.access.adminToken ?? "")
                do {
                    _ = try await NodeAPI(node: node, access: security.access).removeServer(id: localID, by: me).get()
                    logger.info("left the cluster")
                } catch {
                    logger.warning("could not leave the cluster", metadata: ["error": "\(error)"])
                }
            } else if status.role == .leader && status.members.filter({ $0.suffrage == .voter }).count > 1 {
                try? await node.transferLeadership(to: nil).get()
                let deadline = ContinuousClock.now + .seconds(2)
                while ContinuousClock.now < deadline, (try? await node.status().get())?.role == .leader {
                    try? await Task.sleep(for: .milliseconds(20))
                }
            }
        }
        await node.stop()
        try? await server.close()
        storage.close()
        logger.info("stopped")
    }
}

/// What stops the process: SIGINT/SIGTERM, or a failure fired from anywhere. The first
/// one wins; a second signal while stopping ends the process at once.
final class StopTrigger: @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: CheckedContinuation<(any Error)?, Never>?
    private var fired = false
    private var reason: (any Error)?
    private var sources: [any DispatchSourceSignal] = []
    private let queue = DispatchQueue(label: "raft-cache.signals")

    func watchSignals(logger: Logger) {
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        for number in [SIGINT, SIGTERM] {
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler { [self] in
                if fire(nil) {
                    logger.notice("stopping", metadata: ["signal": "\(number == SIGINT ? "SIGINT" : "SIGTERM")"])
                } else {
                    logger.notice("second signal: exiting now")
                    exit(130)
                }
            }
            source.resume()
            lock.withLock { sources.append(source) }
        }
    }

    /// Stops the process (`error`: why, when it is a failure). True the first time.
    @discardableResult
    func fire(_ error: (any Error)?) -> Bool {
        let (first, continuation) = lock.withLock { () -> (Bool, CheckedContinuation<(any Error)?, Never>?) in
            guard !fired else { return (false, nil) }
            fired = true
            reason = error
            defer { self.continuation = nil }
            return (true, self.continuation)
        }
        continuation?.resume(returning: error)
        return first
    }

    /// Waits until something fires; returns the failure, if it was one.
    func wait() async -> (any Error)? {
        await withCheckedContinuation { continuation in
            let now = lock.withLock { () -> (any Error)?? in
                if fired { return .some(reason) }
                self.continuation = continuation
                return .none
            }
            if let now { continuation.resume(returning: now) }
        }
    }
}

/// Why the node could not start or had to stop, or a command failed; printed, and the exit
/// status is 1.
struct StartupError: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}

/// --local-id and --raft-addr: both go into the cluster's configuration, as every joining
/// server's do.
func validateMember(id: String, address: String) throws {
    guard HostPort(address) != nil else { throw ValidationError("--raft-addr: '\(address)' is not host:port") }
    if let problem = NodeAPI.membershipProblem(id: id, address: address) {
        throw ValidationError("--local-id '\(id)' and --raft-addr '\(address)': \(problem)")
    }
}

/// Raises the soft limit on open files to the hard one (which any user may); returns the limit now.
func raiseOpenFileLimit() -> Int {
    var limit = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1_024 }
    if limit.rlim_cur < limit.rlim_max {
        var raised = limit
        raised.rlim_cur = limit.rlim_max
        if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
    }
    return Int(clamping: limit.rlim_cur)
}
