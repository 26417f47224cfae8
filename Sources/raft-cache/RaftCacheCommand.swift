import ArgumentParser
import CacheStore
import Dispatch
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import HTTPFrontend
import Hummingbird
import Logging
import NIOCore
import NIOPosix
import RaftCore
import RaftNode
import RaftStorage
import RaftTransport
import RaftWire

/// The raft-cache node. The flags are those of the original program, with its defaults,
/// and a few of its own.
@main
struct RaftCacheCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "raft-cache",
        abstract: "A strongly consistent, in-memory key-value cache replicated with Raft.",
        discussion: """
            Starts one node. With an empty data directory and no --leader-addr it founds a \
            one-node cluster. With --leader-addr it joins instead: through \
            --leader-api-endpoint's HTTP API (POST /api/v1/node) when that is given, as the \
            original does, or else by asking the member at --leader-addr over the binary \
            protocol. A node restarted with a data directory resumes from it - its log, vote \
            and membership - and never founds a second cluster.

            SIGINT or SIGTERM: a leader hands leadership to another voter first, then the node \
            stops. It stays a member unless --leave-on-shutdown is given.
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

    @Option(help: "HTTP listen address (:8000 means every interface, port 8000).")
    var port = ":8000"

    @Option(help: "The largest value a write may carry, in bytes (413 past it).")
    var maxValueSize = 1 << 20

    @Option(help: "Heartbeat interval (Go duration).")
    var heartbeat = "100ms"

    @Option(help: "Shortest election timeout (Go duration); each election waits a random time between it and twice it.")
    var electionTimeout = "500ms"

    @Flag(help: "On SIGINT/SIGTERM, leave the cluster (remove this node) before stopping.")
    var leaveOnShutdown = false

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel = "info"

    func validate() throws {
        guard GoDuration.parse(timeout) != nil else { throw ValidationError("--timeout: '\(timeout)' is not a duration like 500ms, 3s or 1m") }
        guard let beat = GoDuration.parse(heartbeat), beat.nanoseconds > 0 else { throw ValidationError("--heartbeat: '\(heartbeat)' is not a positive duration") }
        guard let election = GoDuration.parse(electionTimeout), election.nanoseconds > 2 * beat.nanoseconds else {
            throw ValidationError("--election-timeout must be a duration of more than twice --heartbeat")
        }
        guard RaftNode.split(raftAddr) != nil else { throw ValidationError("--raft-addr: '\(raftAddr)' is not host:port") }
        guard leaderAddr.isEmpty || RaftNode.split(leaderAddr) != nil else { throw ValidationError("--leader-addr: '\(leaderAddr)' is not host:port") }
        guard ListenAddress.parse(port) != nil else { throw ValidationError("--port: '\(port)' is not :port or host:port") }
        guard maxPool >= 1 else { throw ValidationError("--max-pool must be at least 1") }
        guard snapshotRetain >= 1 else { throw ValidationError("--snapshot-retain must be at least 1") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("--log-level: unknown level '\(logLevel)'") }
    }

    func run() async throws {
        let logger = {
            var logger = Logger(label: "raft-cache")
            logger.logLevel = Logger.Level(rawValue: logLevel)!
            logger[metadataKey: "node"] = "\(localID)"
            return logger
        }()
        let level = logger.logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }

        let storage: FileStorage
        do {
            storage = try FileStorage(directory: raftDir, options: .init(snapshotRetain: snapshotRetain), logger: logger)
        } catch {
            throw CleanExit.message("raft-cache: cannot open --raft-dir \(raftDir): \(error)")
        }
        let fresh = storage.recovered.entries.isEmpty && storage.recovered.snapshot.lastIncludedIndex == 0
            && storage.recovered.hardState.term == 0
        var state = storage.recovered
        if fresh && leaderAddr.isEmpty {
            logger.info("founding a one-node cluster", metadata: ["address": "\(raftAddr)"])
            state = RaftCore.bootstrapState(servers: [Server(id: localID, address: raftAddr)])
            try await storage.persist(StorageUpdate(hardState: state.hardState, entries: state.entries))
        }

        let tick = GoDuration.parse(heartbeat)!
        let electionTicks = Int(GoDuration.parse(electionTimeout)!.nanoseconds / tick.nanoseconds)
        let ioTimeout = GoDuration.parse(timeout)!
        let storeState = CacheStore()
        // (Snapshots of the store arrive with the snapshot work; until then the log holds everything.)
        let node = RaftNode(
            options: .init(
                id: localID, address: raftAddr, tickInterval: tick, electionTicks: max(2, electionTicks), heartbeatTicks: 1,
                requestTimeout: max(ioTimeout, .seconds(1)),
                // A peer that comes back is reached again within half a second.
                client: .init(maxConnections: maxPool, timeout: ioTimeout, maxBackoff: .milliseconds(500))),
            storage: storage, state: state, store: storeState, logger: logger)
        let (host, raftPort) = RaftNode.split(raftAddr)!
        let server: RPCServer
        do {
            server = try await RPCServer.start(host: host, port: raftPort, service: RaftNodeService(node: node), logger: logger)
        } catch {
            throw CleanExit.message("raft-cache: cannot listen on --raft-addr \(raftAddr): \(error)")
        }
        node.start()
        logger.info("serving the binary protocol", metadata: ["address": "\(raftAddr)", "data_dir": "\(raftDir)"])

        let (httpHost, httpPort) = ListenAddress.parse(port)!
        let application = HTTPFrontend(node: node, options: .init(maxValueSize: maxValueSize))
            .application(host: httpHost, port: httpPort, logger: logger)
        let shouldJoin = fresh && !leaderAddr.isEmpty
        let failure: (any Error)? = await withTaskGroup(of: (any Error)?.self) { group in
            group.addTask {
                do {
                    try await application.run()
                    return nil
                } catch {
                    return CleanExit.message("raft-cache: cannot serve HTTP on --port \(port): \(error)")
                }
            }
            group.addTask {
                if shouldJoin {
                    do {
                        try await join(logger: logger, timeout: ioTimeout)
                    } catch {
                        return error
                    }
                }
                await waitForSignal(logger: logger)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        await shutDown(node: node, server: server, storage: storage, logger: logger)
        if let failure { throw failure }
    }

    /// Asks a member to add this node: over HTTP at --leader-api-endpoint (the original's
    /// way), or over the binary protocol at --leader-addr. Retried while the cluster has no
    /// leader or another change is committing.
    private func join(logger: Logger, timeout: TimeAmount) async throws {
        if !leaderApiEndpoint.isEmpty { return try await joinOverHTTP(logger: logger) }
        let (host, port) = RaftNode.split(leaderAddr)!
        let client = RPCClient(host: host, port: port, options: .init(timeout: timeout), logger: logger)
        defer { Task { await client.close() } }
        let deadline = ContinuousClock.now + .seconds(30)
        while true {
            do {
                let response: MembershipResponse = try await client.call(.addVoter, AddVoterRequest(id: localID, address: raftAddr))
                logger.info("joined the cluster", metadata: ["index": "\(response.index)"])
                return
            } catch let error as RPCError
                where [.unavailable, .failedPrecondition].contains(error.status) && ContinuousClock.now < deadline
            {
                // No leader yet, or another change (another node joining) still committing.
                try await Task.sleep(for: .milliseconds(200))
            } catch {
                throw CleanExit.message("raft-cache: cannot join through \(leaderAddr): \(error)")
            }
        }
    }

    private func joinOverHTTP(logger: Logger) async throws {
        let endpoint = leaderApiEndpoint.hasSuffix("/") ? String(leaderApiEndpoint.dropLast()) : leaderApiEndpoint
        guard let url = URL(string: endpoint + "/api/v1/node") else {
            throw CleanExit.message("raft-cache: --leader-api-endpoint \(leaderApiEndpoint) is not a URL")
        }
        var request = URLRequest(url: url)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = try JSONSerialization.data(withJSONObject: ["addr": raftAddr, "node_id": localID])
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
                guard status == 503 || status == 409 else { throw CleanExit.message("raft-cache: cannot join through \(url): \(reason)") }
            } catch let error as CleanExit {
                throw error
            } catch {
                reason = "\(error)"
            }
            guard ContinuousClock.now < deadline else { throw CleanExit.message("raft-cache: cannot join through \(url): \(reason)") }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    private func waitForSignal(logger: Logger) async {
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let queue = DispatchQueue(label: "raft-cache.signals")
            let once = OnceFlag()
            for number in [SIGINT, SIGTERM] {
                let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
                source.setEventHandler {
                    logger.notice("stopping", metadata: ["signal": "\(number == SIGINT ? "SIGINT" : "SIGTERM")"])
                    if once.set() { continuation.resume() }
                }
                source.resume()
                SignalSources.keep(source)
            }
        }
    }

    private func shutDown(node: RaftNode, server: RPCServer, storage: FileStorage, logger: Logger) async {
        if let status = try? await node.status() {
            if leaveOnShutdown {
                do {
                    _ = try await node.changeMembership(.remove(id: localID))
                    logger.info("left the cluster")
                } catch {
                    logger.warning("could not leave the cluster", metadata: ["error": "\(error)"])
                }
            } else if status.role == .leader && status.members.filter({ $0.suffrage == .voter }).count > 1 {
                try? await node.transferLeadership(to: nil)
                let deadline = ContinuousClock.now + .seconds(2)
                while ContinuousClock.now < deadline, (try? await node.status())?.role == .leader {
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

/// Set once, from any thread.
final class OnceFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var done = false

    /// True the first time only.
    func set() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        if done { return false }
        done = true
        return true
    }
}

/// Signal sources must live as long as the process.
enum SignalSources {
    nonisolated(unsafe) private static var sources: [any DispatchSourceSignal] = []
    private static let lock = NSLock()

    static func keep(_ source: any DispatchSourceSignal) {
        lock.lock()
        defer { lock.unlock() }
        sources.append(source)
    }
}
