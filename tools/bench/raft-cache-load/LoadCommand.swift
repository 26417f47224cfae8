import ArgumentParser
import Connections
import Foundation
import Logging
import NIOCore
import NIOPosix
import RaftTransport
import RaftWire
import Synchronization

/// A load generator over the binary protocol: many calls in flight on a few pooled
/// connections, as a native client would make them. Reports throughput and latency.
@main
struct LoadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "raft-cache-load",
        abstract: "Drive raft-cache nodes over the binary protocol and report throughput and latency.",
        discussion: """
            Calls are spread over the --target nodes (followers forward writes to the leader). \
            A get of a missing key counts as a success (a miss). Exits 1 when any call failed.
            Example: raft-cache-load --target 127.0.0.1:7000 --workload set --in-flight 256 --duration 10
            """)

    enum Workload: String, ExpressibleByArgument, CaseIterable {
        /// `cas`: read a key's version, then set it on that version (compare-and-set); a set
        /// refused because another got there first counts as a conflict, not an error.
        case set, get, mix, cas
    }

    @Option(name: .customLong("target"), help: "A node's binary address, host:port (repeat for several).")
    var targets: [String] = ["127.0.0.1:7000"]

    @Option(help: "set, get, mix (--read-percent gets, the rest sets), or cas (a get, then a set on the version read).")
    var workload: Workload = .set

    @Option(help: "Share of gets in the mix workload, in percent.")
    var readPercent = 90

    @Option(help: "Calls in flight at once.")
    var inFlight = 64

    @Option(help: "Connections to each target.")
    var connections = 4

    @Option(help: "Keys are chosen at random among this many.")
    var keys = 10_000

    @Option(help: "Keys are this prefix followed by a number.")
    var keyPrefix = "key-"

    @Option(help: "Bytes in each value written.")
    var valueSize = 64

    @Option(help: "Sets give their keys this time to live, in milliseconds (0: none).")
    var ttlMs: UInt64 = 0

    @Option(help: "Sets make their keys expire at this Unix time in milliseconds (the TTL of each computed as it is sent), so keys written over a long load all expire in the same second.")
    var expireAt: UInt64 = 0

    @Option(help: "Stop after this many calls (0: run for --duration).")
    var count = 0

    @Option(help: "Seconds to run when --count is 0.")
    var duration = 10.0

    @Flag(help: "Write the keys 0..<--count in order, each once (a bulk load), instead of at random.")
    var sequential = false

    @Option(help: "Read consistency: linearizable, lease or stale.")
    var consistency = "linearizable"

    @Option(help: "Seconds each call may take before it counts as failed.")
    var timeout = 5.0

    @Flag(help: "Send every set in one client session (exactly-once writes), each with the next sequence number: what a session costs a write.")
    var session = false

    @Flag(help: "Print the result as one JSON object.")
    var json = false

    @Option(help: "Write every successful call to this file: its start (Unix time, microseconds) and latency (microseconds).")
    var latencyFile: String?

    @Option(help: "The cluster CA (PEM): speak TLS to the nodes, presenting --tls-cert-file.")
    var tlsCaFile: String?

    @Option(help: "A client certificate (PEM; its OU is the role: write for sets).")
    var tlsCertFile: String?

    @Option(help: "The key of --tls-cert-file (PEM).")
    var tlsKeyFile: String?

    @Option(help: "A file holding a bearer token sent with every call (default: the RAFT_CACHE_TOKEN variable).")
    var tokenFile: String?

    func validate() throws {
        guard inFlight >= 1, connections >= 1, keys >= 1, valueSize >= 0, count >= 0, duration > 0, timeout > 0 else {
            throw ValidationError("--in-flight, --connections and --keys must be at least 1; --count, --value-size at least 0")
        }
        guard (0...100).contains(readPercent) else { throw ValidationError("--read-percent must be 0...100") }
        guard parsedConsistency != nil else { throw ValidationError("--consistency must be linearizable, lease or stale") }
        guard !sequential || count > 0 else { throw ValidationError("--sequential needs --count") }
        for target in targets where HostPort(target) == nil { throw ValidationError("--target '\(target)' is not host:port") }
        if let problem = ClientCredentials.tlsProblem(ca: tlsCaFile, certificate: tlsCertFile, key: tlsKeyFile) {
            throw ValidationError(problem)
        }
    }

    var parsedConsistency: Consistency? { Consistency(name: consistency) }

    func run() async throws {
        var logger = Logger(label: "raft-cache-load")
        logger.logLevel = .error
        let tls = try ClientCredentials.tls(ca: tlsCaFile, certificate: tlsCertFile, key: tlsKeyFile)
        let token = try ClientCredentials.token(file: tokenFile)
        let clients = targets.map { target in
            let address = HostPort(target)!
            return RPCClient(
                host: address.connectHost, port: address.port,
                options: .init(
                    maxConnections: connections, timeout: .nanoseconds(Int64(timeout * 1e9)), tls: tls, token: token),
                logger: logger)
        }
        var numbers: SessionNumbers?
        if session {
            let opened: OpenSessionResponse = try await clients[0].call(.openSession, OpenSessionRequest())
            numbers = SessionNumbers(id: opened.sessionID)
        }
        let plan = Plan(
            workload: workload, readPercent: readPercent, keys: keys, keyPrefix: keyPrefix,
            value: Array(repeating: UInt8(ascii: "v"), count: valueSize), count: count, sequential: sequential,
            consistency: parsedConsistency!, deadline: count > 0 ? nil : .now + .nanoseconds(Int64(duration * 1e9)),
            keepStarts: latencyFile != nil, ttlMs: ttlMs, expireAt: expireAt, session: numbers)
        let started = ContinuousClock.now
        let results = await withTaskGroup(of: WorkerResult.self) { group in
            for worker in 0..<inFlight {
                group.addTask { await plan.work(client: clients[worker % clients.count]) }
            }
            var all = WorkerResult()
            for await result in group { all.merge(result) }
            return all
        }
        let elapsed = started.duration(to: .now)
        for client in clients { await client.close() }
        if let latencyFile {
            let lines = zip(results.starts, results.latencies).map { "\($0) \($1)\n" }.joined()
            try lines.write(toFile: latencyFile, atomically: true, encoding: .utf8)
        }
        let report = Report(results, elapsed: elapsed)
        print(json ? report.json : report.text)
        if results.errors.values.reduce(0, +) > 0 { throw ExitCode(1) }
    }

}

/// What every worker does, and the ticket counter they share.
struct Plan: Sendable {
    let workload: LoadCommand.Workload
    let readPercent: Int
    let keys: Int
    let keyPrefix: String
    let value: [UInt8]
    let count: Int
    let sequential: Bool
    let consistency: Consistency
    let deadline: ContinuousClock.Instant?
    let keepStarts: Bool
    let ttlMs: UInt64
    let expireAt: UInt64
    /// With --session: the session every set is numbered in.
    let session: SessionNumbers?
    let tickets = Tickets()

    final class Tickets: Sendable {
        let next = Atomic<Int>(0)
    }

    /// Calls one at a time until the count or the deadline is reached.
    func work(client: RPCClient) async -> WorkerResult {
        var result = WorkerResult()
        var random = SystemRandomNumberGenerator()
        while true {
            let ticket = tickets.next.wrappingAdd(1, ordering: .relaxed).oldValue
            if count > 0 && ticket >= count { break }
            if let deadline, ContinuousClock.now >= deadline { break }
            let key = Array((keyPrefix + String(sequential ? ticket : Int.random(in: 0..<keys, using: &random))).utf8)
            let read = workload == .get || (workload == .mix && Int.random(in: 0..<100, using: &random) < readPercent)
            let start = ContinuousClock.now
            let wallStart = keepStarts ? UInt64(Date().timeIntervalSince1970 * 1e6) : 0
            do {
                if workload == .cas {
                    try await compareAndSet(key, client: client, result: &result)
                } else if read {
                    let _: GetResponse = try await client.call(.get, GetRequest(key: key, consistency: consistency))
                } else {
                    let tag = session?.begin()
                    defer { if let tag { session?.end(tag) } }
                    let _: SetResponse = try await client.call(.set, SetRequest(key: key, value: value, ttlMs: ttl(wallStart)), session: tag)
                }
                result.record(start.duration(to: .now), startedAt: wallStart, keep: keepStarts)
            } catch let error as RPCError where error.status == .notFound && read {
                result.record(start.duration(to: .now), startedAt: wallStart, keep: keepStarts)
                result.misses += 1
            } catch let error as RPCError {
                result.errors["\(error.status)", default: 0] += 1
            } catch {
                result.errors["\(error)", default: 0] += 1
            }
        }
        return result
    }
}

extension Plan {
    /// The TTL of a set sent now: --ttl-ms, or what is left until --expire-at (at least 1 ms).
    func ttl(_ wallStart: UInt64) -> UInt64 {
        guard expireAt > 0 else { return ttlMs }
        let now = wallStart > 0 ? wallStart / 1_000 : UInt64(Date().timeIntervalSince1970 * 1_000)
        return expireAt > now ? expireAt - now : 1
    }

    /// Reads the key's version and sets it on that version; a refusal because it changed in
    /// between is a conflict (the call still counts, as an answer).
    func compareAndSet(_ key: [UInt8], client: RPCClient, result: inout WorkerResult) async throws {
        var condition = WriteCondition.absent
        do {
            let current: GetResponse = try await client.call(.get, GetRequest(key: key, consistency: consistency))
            condition = .modIndex(current.modIndex)
        } catch let error as RPCError where error.status == .notFound {}
        do {
            let _: SetResponse = try await client.call(.set, SetRequest(key: key, value: value, condition: condition))
        } catch let error as RPCError where error.status == .failedPrecondition {
            result.conflicts += 1
        }
    }
}

/// Sequence numbers of one client session shared by every worker: the next one for each set,
/// acknowledging every answer below the oldest set still waiting.
final class SessionNumbers: Sendable {
    let id: UInt64
    private let state = Mutex<(next: UInt64, waiting: Set<UInt64>)>((1, []))

    init(id: UInt64) {
        self.id = id
    }

    func begin() -> SessionTag {
        state.withLock { state in
            let sequence = state.next
            state.next += 1
            state.waiting.insert(sequence)
            return SessionTag(id: id, sequence: sequence, ackedBelow: state.waiting.min() ?? sequence)
        }
    }

    func end(_ tag: SessionTag) {
        _ = state.withLock { $0.waiting.remove(tag.sequence) }
    }
}

struct WorkerResult: Sendable {
    /// Latencies of successful calls, in microseconds.
    var latencies: [UInt32] = []
    /// With --latency-file: when each call started (Unix time, microseconds).
    var starts: [UInt64] = []
    var misses = 0
    /// cas: sets refused because the key changed after it was read.
    var conflicts = 0
    var errors: [String: Int] = [:]

    mutating func record(_ latency: Duration, startedAt: UInt64, keep: Bool) {
        let (seconds, attoseconds) = latency.components
        latencies.append(UInt32(clamping: seconds * 1_000_000 + attoseconds / 1_000_000_000_000))
        if keep { starts.append(startedAt) }
    }

    mutating func merge(_ other: WorkerResult) {
        latencies += other.latencies
        starts += other.starts
        misses += other.misses
        conflicts += other.conflicts
        errors.merge(other.errors, uniquingKeysWith: +)
    }
}

struct Report {
    let ok: Int
    let misses: Int
    let conflicts: Int
    let errors: [String: Int]
    let seconds: Double
    let percentiles: [(name: String, ms: Double)]

    init(_ results: WorkerResult, elapsed: Duration) {
        let sorted = results.latencies.sorted()
        ok = sorted.count
        misses = results.misses
        conflicts = results.conflicts
        errors = results.errors
        let (whole, fraction) = elapsed.components
        seconds = Double(whole) + Double(fraction) / 1e18
        func at(_ quantile: Double) -> Double {
            guard !sorted.isEmpty else { return 0 }
            return Double(sorted[min(sorted.count - 1, Int(Double(sorted.count) * quantile))]) / 1_000
        }
        percentiles = [("p50", at(0.5)), ("p90", at(0.9)), ("p99", at(0.99)), ("p999", at(0.999)), ("max", Double(sorted.last ?? 0) / 1_000)]
    }

    var throughput: Double { seconds > 0 ? Double(ok) / seconds : 0 }

    var text: String {
        let latency = percentiles.map { "\($0.name) \(String(format: "%.2f", $0.ms)) ms" }.joined(separator: ", ")
        let failed = errors.isEmpty ? "none" : errors.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        return """
            \(ok) calls in \(String(format: "%.2f", seconds)) s: \(String(format: "%.0f", throughput)) calls/s (\(misses) misses, \(conflicts) conflicts)
            latency: \(latency)
            errors: \(failed)
            """
    }

    var json: String {
        var object: [String: Any] = [
            "ok": ok, "misses": misses, "conflicts": conflicts, "errors": errors, "seconds": seconds, "throughput": throughput,
        ]
        for (name, ms) in percentiles { object["\(name)_ms"] = ms }
        let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }
}
