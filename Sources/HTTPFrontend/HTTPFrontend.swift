import Connections
import Foundation
import NIOCore
import NIOHTTP1
import NodeMetrics
import RaftNode
import RaftWire

/// The public HTTP API, compatible with the original program's (see README): keys, the
/// node (join/leave), status, health. A codec over `NodeAPI`, as the binary service is: it
/// reads a route's arguments, asks the API (which authorizes, validates and forwards to the
/// leader) and writes the answer. Errors are JSON {"message", "status"}, their HTTP status
/// read from the API's status code (APIError). Answers are futures: nothing here blocks a loop.
public struct HTTPFrontend: Sendable {
    /// A request as read from the connection: its head and its whole body, and who the
    /// connection's certificate names (TLS), if anyone.
    public struct Request: Sendable {
        public var head: HTTPRequestHead
        public var body: ByteBuffer
        public var certificate: Caller?

        /// The token of an `Authorization: Bearer ...` header.
        var bearerToken: String? {
            guard let value = head.headers.first(name: "Authorization"), value.count > 7,
                value.prefix(7).lowercased() == "bearer "
            else { return nil }
            return String(value.dropFirst(7)).trimmingCharacters(in: .whitespaces)
        }
    }

    let api: NodeAPI
    /// Bytes of a watch's messages that may wait to be sent before the watcher is ended.
    let watchBufferLimit: Int
    /// What /metrics exports (nil: the route answers 404).
    let exporter: MetricsExporter?
    /// The node's listeners, whose open connections /metrics reports.
    public let listeners = ListenerCounts()
    /// /api/v1/cluster event streams open now.
    let clusterStreams = OpenStreams(limit: 64)

    public init(api: NodeAPI, watchBufferLimit: Int = 1 << 20, metrics: MetricsExporter? = nil) {
        self.api = api
        self.watchBufferLimit = watchBufferLimit
        exporter = metrics
    }

    /// The largest body a connection reads: a value, or the JSON of a transaction or batch
    /// around values up to that size, or a join request.
    var bodyLimit: Int { api.maxValueSize + Self.adminBodyLimit }
    private static let adminBodyLimit = 64 * 1024

    /// An answer known at once (a stale read, health, a refusal), or one that waits for the
    /// cluster. Answers at once cost no future.
    public enum Reply {
        case now(HTTPAnswer)
        /// Never fails: every error is a JSON answer.
        case later(EventLoopFuture<HTTPAnswer>)
        /// A stream of changes for the connection to carry (`NodeAPI.watch`).
        case watch(WatchRequest, HTTPWatchSink.Format, NodeAPI.Requester)
        /// A body sent in parts (a backup, an event stream); a failure before it starts is
        /// a JSON answer.
        case stream(EventLoopFuture<HTTPStream>)
    }

    public func respond(to request: Request) -> Reply {
        let uri = request.head.uri[...]
        // Scanned as bytes: a search by Character would decode grapheme clusters.
        let question = uri.utf8.firstIndex(of: UInt8(ascii: "?"))
        let path = question.map { uri[..<$0] } ?? uri
        let query = question.map { uri[uri.utf8.index(after: $0)...] } ?? ""
        do {
            let requester = NodeAPI.Requester(
                certificate: request.certificate, token: request.bearerToken ?? "", session: try Self.session(request.head.headers))
            switch try route(request, path: path, query: Query(query), requester: requester) {
            case .now(let answer): return .now(answer)
            case .later(let answer): return .later(answer)  // A failure is answered as `answer(for:)` says.
            case .watch(let request, let format, let requester): return .watch(request, format, requester)
            case .stream(let stream): return .stream(stream)
            }
        } catch {
            return .now(Self.answer(for: error))
        }
    }

    private func route(
        _ request: Request, path: Substring, query: Query, requester: NodeAPI.Requester
    ) throws -> Reply {
        let method = request.head.method
        // Key routes are matched on the raw path, so a percent-encoded "/" (%2F) stays
        // inside its key or value.
        if path.utf8.starts(with: Self.keyPrefix.utf8) {
            return try keyRoute(request, path: path, query: query, requester: requester)
        }
        switch (method, path) {
        case (.GET, "/health"):
            // Touches nothing of the node: the HTTP stack's own ceiling (make bench measures it).
            return .now(.healthy)
        case (.GET, "/ready"):
            return .later(api.isReady().flatMapThrowing { ready in
                guard ready else {
                    throw APIError(.serviceUnavailable, "not ready: no leader known yet, or still catching up", retryAfter: 1)
                }
                return .json(.ok, ["status": "ready"])
            })
        case (.GET, "/metrics"):
            return try metrics(requester: requester)
        case (.GET, "/ui"), (.GET, "/ui/"):
            return .now(ClusterPage.answer)
        case (.GET, "/api/v1/cluster"):
            return cluster(request, requester: requester)
        case (.GET, "/api/v1/backup"):
            return backup(requester: requester)
        case (.GET, "/api/v1/status"):
            return .later(api.status(by: requester).map { .json(.ok, StatusJSON.object($0)) })
        case (.GET, "/api/v1/watch"):
            return try watch(request, query: query, requester: requester)
        case (.POST, "/api/v1/txn"):
            let txn = try TxnJSON.request(request.body)
            return .later(api.txn(txn, by: requester).map { TxnJSON.answer($0, to: txn) })
        case (.POST, "/api/v1/batch"):
            let batch = try TxnJSON.batch(request.body)
            return .later(api.batch(batch, by: requester).map { TxnJSON.answer($0, to: batch) })
        case (.POST, "/api/v1/session"):
            return .later(api.openSession(by: requester).map { .json(.ok, ["session_id": $0.sessionID, "timeout_ms": $0.timeoutMs]) })
        case (.POST, "/api/v1/snapshot"):
            return .later(api.snapshot(by: requester).map { .json(.ok, StatusJSON.object($0)) })
        case (.POST, "/api/v1/node"):
            return try join(request.body, requester: requester)
        case (.POST, "/api/v1/leader/transfer"):
            let target = query["id"].flatMap { $0.isEmpty ? nil : $0 }
            return .later(api.transferLeadership(to: target, by: requester).map { .json(.ok, ["status": "transferring"]) })
        case (.DELETE, _) where path.hasPrefix("/api/v1/node/"):
            let raw = path.dropFirst("/api/v1/node/".count)
            guard !raw.isEmpty, !raw.contains("/") else { throw APIError(.notFound, "Not Found") }
            guard let id = Self.percentDecode(raw).flatMap({ String(validating: $0, as: UTF8.self) }) else {
                throw APIError(.badRequest, "id is not valid percent-encoded UTF-8")
            }
            return .later(api.removeServer(id: id, by: requester).map { .json(.ok, ["index": $0.index]) })
        default:
            throw APIError(.notFound, "Not Found")
        }
    }

    // MARK: Keys

    static let keyPrefix = "/api/v1/key/"

    private func keyRoute(
        _ request: Request, path: Substring, query: Query, requester: NodeAPI.Requester
    ) throws -> Reply {
        let parts = try Self.keyParts(path)
        var wrongShape: APIError { APIError(.notFound, "no route for \(path)") }
        switch request.head.method {
        case .GET:
            guard parts.count == 1 else { throw wrongShape }
            return try get(key: try Self.key(parts), query: query, requester: requester)
        case .DELETE:
            guard parts.count == 1 else { throw wrongShape }
            let condition = try Self.condition(request.head.headers)
            return .later(api.delete(key: try Self.key(parts), condition: condition, by: requester).map { _ in
                HTTPAnswer(status: .ok, headers: [:], body: ByteBuffer())
            })
        case .PUT:
            guard parts.count == 1 else { throw wrongShape }
            return try set(key: try Self.key(parts), value: Array(request.body.readableBytesView), request, query, requester)
        case .PATCH:
            guard parts.count == 1 else { throw wrongShape }
            guard let ttl = try Self.ttlMs(query) else { throw APIError(.badRequest, "PATCH changes a key's time to live: give ?ttl=30s (or ?ttl=0 to keep the key for good)") }
            return .later(api.setTTL(key: try Self.key(parts), ttlMs: ttl, by: requester).map(HTTPAnswer.index))
        case .POST:
            // The route the original program registers (key/value), and the one its README
            // documents (key/value/value); key/incr increments.
            switch parts.count {
            case 2 where parts[1] == Array("incr".utf8): return try incr(key: try Self.key(parts), query: query, requester)
            case 2: return try set(key: try Self.key(parts), value: parts[1], request, query, requester)
            case 3 where parts[1] == Array("value".utf8): return try set(key: try Self.key(parts), value: parts[2], request, query, requester)
            default: throw APIError(.notFound, "use POST /api/v1/key/{key}/{value} or /api/v1/key/{key}/value/{value}")
            }
        default:
            throw wrongShape
        }
    }

    private func get(key: [UInt8], query: Query, requester: NodeAPI.Requester) throws -> Reply {
        let consistency = try Self.consistency(query["consistency"])
        if consistency == .stale {
            switch api.staleRead(key: key, by: requester) {
            case .now(let read): return .now(Self.answer(staleRead: read))
            case .later(let read): return .later(read.map(Self.answer(staleRead:)))
            }
        }
        return .later(api.read(key: key, consistency: consistency, by: requester).map { Self.answer($0, stale: false) })
    }

    /// A read's `consistency` by name (default linearizable).
    static func consistency(_ name: String?) throws -> Consistency {
        let name = name ?? Consistency.linearizable.name
        guard let level = Consistency(name: name) else {
            throw APIError(.badRequest, "consistency must be \(Consistency.nameList), not '\(name)'")
        }
        return level
    }

    private static func answer(staleRead read: Result<NodeAPI.Read, RPCError>) -> HTTPAnswer {
        switch read {
        case .success(let read): answer(read, stale: true)
        case .failure(let error): APIError(error).answer
        }
    }

    /// The value and a newline, with the key's version and the index the answering node had
    /// applied when it read; for stale reads, how long since it last heard from a leader (what
    /// the value may miss).
    private static func answer(_ read: NodeAPI.Read, stale: Bool) -> HTTPAnswer {
        let value = read.value
        var headers = HTTPHeaders()
        headers.reserveCapacity(8)  // With Content-Length and Connection, added on the way out.
        headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
        headers.add(name: "X-Raft-Applied-Index", value: String(read.appliedIndex))
        headers.add(name: "X-Raft-Create-Index", value: String(value.version.createIndex))
        headers.add(name: "X-Raft-Mod-Index", value: String(value.version.modIndex))
        if read.ttlMs > 0 { headers.add(name: "X-Raft-TTL-Ms", value: String(read.ttlMs)) }
        if stale { headers.add(name: "X-Raft-Leader-Contact-Age-Ms", value: String(read.leaderContactAgeMs)) }
        var body = ByteBuffer()
        body.reserveCapacity(value.count + 1)
        value.withUnsafeBytes { _ = body.writeBytes($0) }
        body.writeInteger(UInt8(ascii: "\n"))
        return HTTPAnswer(status: .ok, headers: headers, body: body)
    }

    private func set(key: [UInt8], value: [UInt8], _ request: Request, _ query: Query, _ requester: NodeAPI.Requester) throws -> Reply {
        let condition = try Self.condition(request.head.headers), ttl = try Self.ttlMs(query) ?? 0
        return .later(api.set(key: key, value: value, condition: condition, ttlMs: ttl, by: requester).map(HTTPAnswer.index))
    }

    /// `?ttl=`: a Go duration ("30s", "1m30s", "1.5h") or whole milliseconds ("1500"); 0 for
    /// none. Nil when absent.
    static func ttlMs(_ query: Query) throws -> UInt64? {
        try query["ttl"].map(ttlMs)
    }

    static func ttlMs(_ text: String) throws -> UInt64 {
        if let milliseconds = UInt64(text) { return milliseconds }
        guard let duration = GoDuration.parse(text), duration.nanoseconds >= 0 else {
            throw APIError(.badRequest, "ttl must be a duration like 30s or 1m30s, or milliseconds, not '\(text)'")
        }
        // Rounded up: a positive duration never becomes 0, which would mean no expiry.
        let (whole, part) = duration.nanoseconds.quotientAndRemainder(dividingBy: 1_000_000)
        return UInt64(whole) + (part > 0 ? 1 : 0)
    }

    /// `?key=K` or `?prefix=P` (neither: every key), `since=INDEX` (or a browser's
    /// Last-Event-ID), `values=false`; NDJSON when the client accepts it, else Server-Sent Events.
    private func watch(_ request: Request, query: Query, requester: NodeAPI.Requester) throws -> Reply {
        var watch = WatchRequest()
        if let key = query.bytes("key") {
            guard !key.isEmpty else { throw APIError(.badRequest, "key must not be empty (leave it out to watch every key)") }
            watch.key = key
        }
        if let prefix = query.bytes("prefix") { watch.prefix = prefix }
        guard watch.key.isEmpty || watch.prefix.isEmpty else { throw APIError(.badRequest, "watch a key or a prefix, not both") }
        if let text = query["since"] ?? request.head.headers.first(name: "Last-Event-ID") {
            guard let since = UInt64(text), since < wireNumberLimit else {
                throw APIError(.badRequest, "since must be a log index (the index of the last change seen), not '\(text)'")
            }
            watch.since = since
        }
        switch query["values"] {
        case nil, "true": break
        case "false": watch.keysOnly = true
        case let other?: throw APIError(.badRequest, "values must be true or false, not '\(other)'")
        }
        let ndjson = request.head.headers["Accept"].contains { $0.contains("application/x-ndjson") }
        return .watch(watch, ndjson ? .ndjson : .serverSentEvents, requester)
    }

    /// `?by=N` (default 1, may be negative): {"value": new value, "index": N}.
    private func incr(key: [UInt8], query: Query, _ requester: NodeAPI.Requester) throws -> Reply {
        let text = query["by"] ?? "1"
        guard let amount = Int64(text) else { throw APIError(.badRequest, "by must be a 64-bit integer, not '\(text)'") }
        return .later(api.incr(key: key, amount: amount, by: requester).map { .json(.ok, ["value": $0.value, "index": $0.index]) })
    }

    /// A write's condition from its headers: `If-Match: <mod index>` (compare-and-set; quoted
    /// like an entity tag or not) or `If-None-Match: *` (create only).
    /// A write's client session: `X-Raft-Session` (from POST /api/v1/session) and
    /// `X-Raft-Sequence` (from 1, one per write; a retry repeats it), and optionally
    /// `X-Raft-Acked-Below` (every answer below it was received).
    static func session(_ headers: HTTPHeaders) throws -> SessionTag? {
        // Most requests have none: no arrays made for them.
        guard headers.contains(name: "X-Raft-Session") || headers.contains(name: "X-Raft-Sequence") else { return nil }
        func number(_ name: String, from lowest: UInt64) throws -> UInt64? {
            let values = headers[name]
            guard let text = values.first else { return nil }
            guard values.count == 1, let number = UInt64(text.trimmingCharacters(in: .whitespaces)), number >= lowest, number < wireNumberLimit else {
                throw APIError(.badRequest, "\(name) must be one number from \(lowest) below 2^63, not '\(values.joined(separator: ","))'")
            }
            return number
        }
        guard let id = try number("X-Raft-Session", from: 1), let sequence = try number("X-Raft-Sequence", from: 1) else {
            throw APIError(.badRequest, "X-Raft-Session and X-Raft-Sequence go together (open a session with POST /api/v1/session)")
        }
        return SessionTag(id: id, sequence: sequence, ackedBelow: try number("X-Raft-Acked-Below", from: 0) ?? 0)
    }

    static func condition(_ headers: HTTPHeaders) throws -> WriteCondition {
        // Most writes have neither header: no arrays made for them.
        guard headers.contains(name: "If-Match") || headers.contains(name: "If-None-Match") else { return .none }
        let match = headers["If-Match"], noneMatch = headers["If-None-Match"]
        switch (match.count, noneMatch.count) {
        case (0, 0):
            return .none
        case (1, 0):
            let text = match[0].trimmingCharacters(in: .whitespaces)
            let bare = text.count >= 2 && text.hasPrefix("\"") && text.hasSuffix("\"") ? String(text.dropFirst().dropLast()) : text
            guard let index = UInt64(bare), index > 0, index < wireNumberLimit else {
                throw APIError(.badRequest, "If-Match must be a key's mod index (a number from X-Raft-Mod-Index), not '\(text)'")
            }
            return .modIndex(index)
        case (0, 1):
            guard noneMatch[0].trimmingCharacters(in: .whitespaces) == "*" else {
                throw APIError(.badRequest, "If-None-Match takes only '*' (create the key only if it does not exist)")
            }
            return .absent
        default:
            throw APIError(.badRequest, "give one If-Match or one If-None-Match: *, not both or several")
        }
    }

    // MARK: Membership and status

    private struct JoinRequest: Decodable {
        var addr: String
        var node_id: String
        var voter: Bool?
    }

    private func join(_ body: ByteBuffer, requester: NodeAPI.Requester) throws -> Reply {
        let join: JoinRequest
        do {
            join = try JSONDecoder().decode(JoinRequest.self, from: Data(body.readableBytesView))
        } catch {
            throw APIError(.badRequest, "the body must be JSON {\"addr\": \"host:port\", \"node_id\": \"id\"}")
        }
        return .later(api.addServer(id: join.node_id, address: join.addr, learner: join.voter == false, by: requester).map {
            .json(.ok, ["index": $0.index])
        })
    }


    // MARK: Helpers

    /// Every failure as its JSON answer.
    static func answer(for error: any Error) -> HTTPAnswer {
        switch error {
        case let error as APIError: error.answer
        case let error as RPCError: APIError(error).answer
        default: APIError(.internalServerError, "\(error)").answer
        }
    }

    /// The percent-decoded segments after /api/v1/key/ of the raw path. Keys and values are
    /// bytes: any percent-encoding is allowed.
    private static func keyParts(_ path: Substring) throws -> [[UInt8]] {
        let rest = path[path.utf8.index(path.startIndex, offsetBy: keyPrefix.utf8.count)...]
        let decode = { (raw: Substring) throws -> [UInt8] in
            guard let decoded = percentDecode(raw) else { throw APIError(.badRequest, "'\(raw)' is not valid percent-encoding") }
            return decoded
        }
        // One segment (a key) is the usual case: no splitting for it.
        guard rest.utf8.contains(UInt8(ascii: "/")) else { return [try decode(rest)] }
        return try rest.split(separator: "/", omittingEmptySubsequences: false).map(decode)
    }

    private static func key(_ parts: [[UInt8]]) throws -> [UInt8] {
        guard let key = parts.first, !key.isEmpty else { throw APIError(.badRequest, "the key must not be empty") }
        return key
    }

    static func percentDecode(_ text: Substring) -> [UInt8]? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else { return nil }
            bytes.append(high << 4 | low)
        }
        return bytes
    }

    private static func hexValue(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// The query of a URI: `name=value` pairs split on "&", values percent-decoded.
struct Query {
    private let text: Substring

    init(_ text: Substring) {
        self.text = text
    }

    /// The percent-decoded bytes of `name`'s value, or nil if absent or not valid percent-encoding.
    func bytes(_ name: String) -> [UInt8]? {
        raw(name).flatMap { HTTPFrontend.percentDecode($0) }
    }

    subscript(name: String) -> String? {
        guard let raw = raw(name) else { return nil }
        return HTTPFrontend.percentDecode(raw).map { String(decoding: $0, as: UTF8.self) } ?? String(raw)
    }

    private func raw(_ name: String) -> Substring? {
        var rest = text
        while !rest.isEmpty {
            let end = rest.utf8.firstIndex(of: UInt8(ascii: "&")) ?? rest.endIndex
            let pair = rest[..<end]
            rest = end == rest.endIndex ? "" : rest[rest.utf8.index(after: end)...]
            let equals = pair.utf8.firstIndex(of: UInt8(ascii: "=")) ?? pair.endIndex
            guard pair[..<equals].utf8.elementsEqual(name.utf8) else { continue }
            return equals == pair.endIndex ? "" : pair[pair.utf8.index(after: equals)...]
        }
        return nil
    }
}
