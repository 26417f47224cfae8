import Foundation
import NIOCore
import NIOHTTP1
import RaftCore
import RaftNode
import RaftTransport
import RaftWire

/// The public HTTP API, compatible with the original program's (see README): keys, the
/// node (join/leave), status, health. Writes and membership go to the node's own services -
/// the same path as a binary client's - so followers forward them to the leader; reads are
/// served here after their barrier (a ReadIndex round for linearizable reads). Errors are
/// JSON {"message", "status"}. Answers are futures: nothing here blocks a loop.
public struct HTTPFrontend: Sendable {
    public struct Options: Sendable {
        /// The largest value a request may carry (413 past it).
        public var maxValueSize: Int

        public init(maxValueSize: Int = 1 << 20) {
            self.maxValueSize = maxValueSize
        }
    }

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

    let node: RaftNode
    let service: RaftNodeService
    let access: AccessPolicy
    let options: Options

    public init(node: RaftNode, access: AccessPolicy = AccessPolicy(tls: false, tokens: nil), options: Options = Options()) {
        self.node = node
        self.access = access
        service = RaftNodeService(node: node, access: access)
        self.options = options
    }

    /// The largest body a connection reads: a value, or a join request.
    var bodyLimit: Int { max(options.maxValueSize, Self.adminBodyLimit) }
    private static let adminBodyLimit = 64 * 1024

    /// An answer known at once (a stale read, health, a refusal), or one that waits for the
    /// cluster. Answers at once cost no future.
    public enum Reply {
        case now(HTTPAnswer)
        /// Never fails: every error is a JSON answer.
        case later(EventLoopFuture<HTTPAnswer>)
    }

    public func respond(to request: Request, on loop: any EventLoop) -> Reply {
        let uri = request.head.uri[...]
        // Scanned as bytes: a search by Character would decode grapheme clusters.
        let question = uri.utf8.firstIndex(of: UInt8(ascii: "?"))
        let path = question.map { uri[..<$0] } ?? uri
        let query = question.map { uri[uri.utf8.index(after: $0)...] } ?? ""
        var credentials = Credentials(caller: nil, token: request.bearerToken ?? "")
        if let needed = Self.role(request.head.method, path: path) {
            switch access.authorize(needed, certificate: request.certificate, token: request.bearerToken) {
            case .success(let caller): credentials.caller = caller
            case .failure(let denied): return .now(APIError(RaftNodeService.rpcError(denied)).answer)
            }
        }
        do {
            switch try route(request, path: path, query: Query(query), credentials: credentials, on: loop) {
            case .now(let answer): return .now(answer)
            case .later(let answer): return .later(answer.recover(Self.answer(for:)))
            }
        } catch {
            return .now(Self.answer(for: error))
        }
    }

    /// Who a request is, for the node's services it calls: authorized here already, with the
    /// token a follower forwards to the leader with it.
    struct Credentials {
        var caller: Caller?
        var token: String
    }

    /// The role a route needs; nil for the probes anyone may ask (health, readiness).
    static func role(_ method: HTTPMethod, path: Substring) -> AccessRole? {
        if path.utf8.starts(with: keyPrefix.utf8) { return method == .GET ? .read : .write }
        switch path {
        case "/health", "/ready": return nil
        case "/api/v1/status": return .read
        default: return path.hasPrefix("/api/v1/") ? .admin : .read
        }
    }

    private func route(
        _ request: Request, path: Substring, query: Query, credentials: Credentials, on loop: any EventLoop
    ) throws -> Reply {
        let method = request.head.method
        // Key routes are matched on the raw path, so a percent-encoded "/" (%2F) stays
        // inside its key or value.
        if path.utf8.starts(with: Self.keyPrefix.utf8) {
            return try keyRoute(request, path: path, query: query, credentials: credentials, on: loop)
        }
        switch (method, path) {
        case (.GET, "/health"):
            // Touches nothing of the node: the HTTP stack's own ceiling (make bench measures it).
            return .now(.healthy)
        case (.GET, "/ready"):
            return .later(loop.makeFutureWithTask { try await ready() })
        case (.GET, "/api/v1/status"):
            return .later(loop.makeFutureWithTask { try await status() })
        case (.POST, "/api/v1/snapshot"):
            return .later(loop.makeFutureWithTask { .json(.ok, json(try await node.snapshotNow())) })
        case (.POST, "/api/v1/node"):
            return try join(request.body, credentials: credentials, on: loop)
        case (.POST, "/api/v1/leader/transfer"):
            let request = TransferLeadershipRequest(targetID: query["id"] ?? "")
            return .later(call(.transferLeadership, request, credentials: credentials, on: loop).map { (_: TransferLeadershipResponse) in
                .json(.ok, ["status": "transferring"])
            })
        case (.DELETE, _) where path.hasPrefix("/api/v1/node/"):
            let raw = path.dropFirst("/api/v1/node/".count)
            guard !raw.isEmpty, !raw.contains("/") else { throw APIError(.notFound, "Not Found") }
            guard let id = Self.percentDecode(raw).flatMap({ String(validating: $0, as: UTF8.self) }) else {
                throw APIError(.badRequest, "id is not valid percent-encoded UTF-8")
            }
            return .later(call(.removeServer, RemoveServerRequest(id: id), credentials: credentials, on: loop).map { (response: MembershipResponse) in
                .json(.ok, ["index": response.index])
            })
        default:
            throw APIError(.notFound, "Not Found")
        }
    }

    // MARK: Keys

    private static let keyPrefix = "/api/v1/key/"

    private func keyRoute(
        _ request: Request, path: Substring, query: Query, credentials: Credentials, on loop: any EventLoop
    ) throws -> Reply {
        let parts = try Self.keyParts(path)
        let wrongShape = APIError(.notFound, "no route for \(path)")
        switch request.head.method {
        case .GET:
            guard parts.count == 1 else { throw wrongShape }
            return try get(key: try Self.key(parts), query: query, on: loop)
        case .DELETE:
            guard parts.count == 1 else { throw wrongShape }
            return .later(call(.delete, DeleteRequest(key: try Self.key(parts)), credentials: credentials, on: loop).map { (_: DeleteResponse) in
                HTTPAnswer(status: .ok, headers: [:], body: ByteBuffer())
            })
        case .PUT:
            guard parts.count == 1 else { throw wrongShape }
            return try set(key: try Self.key(parts), value: Array(request.body.readableBytesView), credentials: credentials, on: loop)
        case .POST:
            // The route the original program registers (key/value), and the one its README
            // documents (key/value/value).
            switch parts.count {
            case 2: return try set(key: try Self.key(parts), value: parts[1], credentials: credentials, on: loop)
            case 3 where parts[1] == Array("value".utf8): return try set(key: try Self.key(parts), value: parts[2], credentials: credentials, on: loop)
            default: throw APIError(.notFound, "use POST /api/v1/key/{key}/{value} or /api/v1/key/{key}/value/{value}")
            }
        default:
            throw wrongShape
        }
    }

    private func get(key: [UInt8], query: Query, on loop: any EventLoop) throws -> Reply {
        let consistency: Consistency
        switch query["consistency"] ?? "linearizable" {
        case "linearizable": consistency = .linearizable
        case "lease": consistency = .lease
        case "stale": consistency = .stale
        case let level: throw APIError(.badRequest, "consistency must be linearizable, lease or stale, not '\(level)'")
        }
        if consistency == .stale { return .now(Self.answer(node.staleRead(key), stale: true)) }
        return .later(node.read(key, consistency: consistency).map { Self.answer($0, stale: false) })
    }

    /// The value and a newline, with the index the answering node had applied when it read;
    /// for stale reads, how long since it last heard from a leader (what the value may miss).
    private static func answer(_ read: RaftNode.ReadResult, stale: Bool) -> HTTPAnswer {
        guard let value = read.value else { return APIError(.notFound, "key not found").answer }
        var headers = HTTPHeaders()
        headers.reserveCapacity(5)  // With Content-Length and Connection, added on the way out.
        headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
        headers.add(name: "X-Raft-Applied-Index", value: String(read.appliedIndex))
        if stale { headers.add(name: "X-Raft-Leader-Contact-Age-Ms", value: String(read.leaderContactAgeMs)) }
        var body = ByteBuffer()
        body.reserveCapacity(value.count + 1)
        value.withUnsafeBytes { _ = body.writeBytes($0) }
        body.writeInteger(UInt8(ascii: "\n"))
        return HTTPAnswer(status: .ok, headers: headers, body: body)
    }

    private func set(key: [UInt8], value: [UInt8], credentials: Credentials, on loop: any EventLoop) throws -> Reply {
        guard value.count <= options.maxValueSize else {
            throw APIError(.payloadTooLarge, "value of \(value.count) bytes is over the limit of \(options.maxValueSize) bytes")
        }
        return .later(call(.set, SetRequest(key: key, value: value), credentials: credentials, on: loop).map { (response: SetResponse) in .index(response.index) })
    }

    // MARK: Membership and status

    private struct JoinRequest: Decodable {
        var addr: String
        var node_id: String
        var voter: Bool?
    }

    private func join(_ body: ByteBuffer, credentials: Credentials, on loop: any EventLoop) throws -> Reply {
        let join: JoinRequest
        do {
            join = try JSONDecoder().decode(JoinRequest.self, from: Data(body.readableBytesView))
        } catch {
            throw APIError(.badRequest, "the body must be JSON {\"addr\": \"host:port\", \"node_id\": \"id\"}")
        }
        if let problem = RaftNode.membershipProblem(id: join.node_id, address: join.addr) {
            throw APIError(.badRequest, "node_id and addr: \(problem)")
        }
        let request = AddVoterRequest(id: join.node_id, address: join.addr, learner: join.voter == false)
        return .later(call(.addVoter, request, credentials: credentials, on: loop).map { (response: MembershipResponse) in .json(.ok, ["index": response.index]) })
    }

    private func status() async throws -> HTTPAnswer {
        let status = try await node.status()
        let role = switch status.role {
        case .leader: "leader"
        case .candidate: "candidate"
        case .preCandidate: "pre-candidate"
        case .follower: "follower"
        case .learner: "learner"
        }
        let members: [[String: String]] = status.members.map { member in
            let suffrage = switch member.suffrage {
            case .voter: "voter"
            case .learner: "learner"
            case .staging: "staging"
            }
            return ["id": member.id, "address": member.address, "suffrage": suffrage]
        }
        let followers: [[String: Any]] = status.followers.map { follower in
            ["id": follower.id, "match_index": follower.matchIndex, "next_index": follower.nextIndex,
             "lag": follower.lag, "state": follower.state]
        }
        let body: [String: Any] = [
            "node_id": status.nodeID, "role": role, "term": status.term, "leader_id": status.leaderID,
            "leader_address": status.leaderAddress, "commit_index": status.commitIndex,
            "applied_index": status.appliedIndex, "last_log_index": status.lastLogIndex,
            "snapshot_index": status.snapshotIndex, "members": members, "snapshot": json(status.snapshot),
            "followers": followers, "keys": status.keys, "bytes": status.bytes,
            // As a string: JSON numbers lose precision past 2^53.
            "digest": String(status.digest, radix: 16), "leader_contact_age_ms": status.leaderContactAgeMs,
        ]
        return .json(.ok, body)
    }

    private func json(_ snapshot: SnapshotStatus) -> [String: Any] {
        var body: [String: Any] = [
            "index": snapshot.index, "term": snapshot.term, "size_bytes": snapshot.sizeBytes, "age_ms": snapshot.ageMs,
        ]
        if snapshot.receivingIndex > 0 {
            body["receiving"] = ["index": snapshot.receivingIndex, "received_bytes": snapshot.receivedBytes]
        }
        return body
    }

    private func ready() async throws -> HTTPAnswer {
        let status = try await node.status()
        guard !status.leaderID.isEmpty, status.appliedIndex >= status.commitIndex else {
            throw APIError(.serviceUnavailable, "not ready: no leader known yet, or still catching up", retryAfter: 1)
        }
        return .json(.ok, ["status": "ready"])
    }

    // MARK: Helpers

    /// Runs a call through the node's services; its failure becomes an APIError.
    private func call<Response: WireMessage>(
        _ method: Method, _ request: some WireMessage, credentials: Credentials, on loop: any EventLoop
    ) -> EventLoopFuture<Response> {
        let payload: [UInt8]
        do {
            payload = try request.wireBytes()
        } catch {
            return loop.makeFailedFuture(error)
        }
        let call = InboundCall(
            method: method.rawValue, payload: payload, timeoutMs: 0, caller: credentials.caller, token: credentials.token)
        return service.respond(to: call, on: loop)
            .flatMapThrowing { result in
                switch result {
                case .success(let payload): return try Response(wireBytes: payload)
                case .failure(let error): throw APIError(error)
                }
            }
    }

    /// Every failure as its JSON answer.
    private static func answer(for error: any Error) -> HTTPAnswer {
        switch error {
        case let error as APIError: error.answer
        case let error as RaftNodeError: APIError(RaftNodeService.rpcError(error)).answer
        case let error as RPCError: APIError(error).answer
        case let error as WireError: APIError(.badRequest, "\(error)").answer
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

    subscript(name: String) -> String? {
        var rest = text
        while !rest.isEmpty {
            let end = rest.utf8.firstIndex(of: UInt8(ascii: "&")) ?? rest.endIndex
            let pair = rest[..<end]
            rest = end == rest.endIndex ? "" : rest[rest.utf8.index(after: end)...]
            let equals = pair.utf8.firstIndex(of: UInt8(ascii: "=")) ?? pair.endIndex
            guard pair[..<equals].utf8.elementsEqual(name.utf8) else { continue }
            let raw = equals == pair.endIndex ? "" : pair[pair.utf8.index(after: equals)...]
            return HTTPFrontend.percentDecode(raw).map { String(decoding: $0, as: UTF8.self) } ?? String(raw)
        }
        return nil
    }
}
