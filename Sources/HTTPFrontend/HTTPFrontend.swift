import Foundation
import Logging
import Hummingbird
import NIOCore
import RaftCore
import RaftNode
import RaftTransport
import RaftWire

/// The public HTTP API, compatible with the original program's (see README): keys, the
/// node (join/leave), status, health. Every request goes to the node's own services - the
/// same path as a binary client's - so followers forward writes to the leader and serve
/// linearizable reads after a ReadIndex round. Errors are JSON {"message", "status"}.
public struct HTTPFrontend: Sendable {
    public struct Options: Sendable {
        /// The largest value a request may carry (413 past it).
        public var maxValueSize: Int

        public init(maxValueSize: Int = 1 << 20) {
            self.maxValueSize = maxValueSize
        }
    }

    let node: RaftNode
    let service: RaftNodeService
    let options: Options

    public init(node: RaftNode, options: Options = Options()) {
        self.node = node
        service = RaftNodeService(node: node)
        self.options = options
    }

    public func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: JSONErrorMiddleware())
        // Key routes are matched here, on the raw path, so a percent-encoded "/" (%2F)
        // stays inside its key or value.
        router.get("/api/v1/key/**") { request, _ in
            let key = try keyRoute(request, segments: 1)[0]
            return try await get(request, key: key)
        }
        router.delete("/api/v1/key/**") { request, _ in try await delete(key: try keyRoute(request, segments: 1)[0]) }
        router.put("/api/v1/key/**") { request, _ in
            let key = try keyRoute(request, segments: 1)[0]
            // Refused from the header, before any of the body is read.
            if let length = request.headers[.contentLength].flatMap(Int.init), length > options.maxValueSize {
                throw APIError(.contentTooLarge, "value of \(length) bytes is over the limit of \(options.maxValueSize) bytes")
            }
            let body = try await request.body.collect(upTo: options.maxValueSize)
            return try await set(key: key, value: Array(buffer: body))
        }
        // The route the original program registers (key/value), and the one its README
        // documents (key/value/value).
        router.post("/api/v1/key/**") { request, _ in
            let parts = try keyRoute(request, segments: nil)
            switch parts.count {
            case 2: return try await set(key: parts[0], value: Array(parts[1]))
            case 3 where parts[1] == Array("value".utf8): return try await set(key: parts[0], value: Array(parts[2]))
            default: throw APIError(.notFound, "use POST /api/v1/key/{key}/{value} or /api/v1/key/{key}/value/{value}")
            }
        }
        router.post("/api/v1/node") { request, context in try await join(request, context) }
        router.delete("/api/v1/node/:id") { _, context in try await leave(context) }
        router.post("/api/v1/leader/transfer") { request, context in try await transfer(request) }
        router.get("/api/v1/status") { _, _ in try await status() }
        router.post("/api/v1/snapshot") { _, _ in try await snapshot() }
        // Touches nothing of the node: the HTTP stack's own ceiling (make bench measures it).
        router.get("/health") { _, _ in JSONResponse.healthy }
        router.get("/ready") { _, _ in try await ready() }
        return router
    }

    // MARK: Keys

    private func get(_ request: Request, key: [UInt8]) async throws -> Response {
        let level = request.uri.queryParameters.get("consistency") ?? "linearizable"
        let consistency: Consistency
        switch level {
        case "linearizable": consistency = .linearizable
        case "lease": consistency = .lease
        case "stale": consistency = .stale
        default: throw APIError(.badRequest, "consistency must be linearizable, lease or stale, not '\(level)'")
        }
        let read: RaftNode.ReadResult
        if consistency == .stale {
            read = node.staleRead(key)
        } else {
            do {
                read = try await node.read(key, consistency: consistency).get()
            } catch let error as RaftNodeError {
                throw APIError(RaftNodeService.rpcError(error))
            }
        }
        guard let value = read.value else { throw APIError(.notFound, "key not found") }
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; charset=utf-8"
        // The index the answering node had applied when it read; for stale reads, how long
        // since it last heard from a leader (what the value may be missing).
        headers[.init("X-Raft-Applied-Index")!] = String(read.appliedIndex)
        if consistency == .stale { headers[.init("X-Raft-Leader-Contact-Age-Ms")!] = String(read.leaderContactAgeMs) }
        var body = ByteBuffer()
        body.reserveCapacity(value.count + 1)
        body.writeBytes(value)
        body.writeInteger(UInt8(ascii: "\n"))
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: body))
    }

    private func set(key: [UInt8], value: [UInt8]) async throws -> Response {
        guard value.count <= options.maxValueSize else {
            throw APIError(.contentTooLarge, "value of \(value.count) bytes is over the limit of \(options.maxValueSize) bytes")
        }
        let response: SetResponse = try await call(.set, SetRequest(key: key, value: value))
        return JSONResponse.index(response.index)
    }

    private func delete(key: [UInt8]) async throws -> Response {
        let _: DeleteResponse = try await call(.delete, DeleteRequest(key: key))
        return Response(status: .ok)
    }

    // MARK: Membership and status

    private struct JoinRequest: Decodable {
        var addr: String
        var node_id: String
        var voter: Bool?
    }

    private func join(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let body = try await request.body.collect(upTo: 64 * 1024)
        let join: JoinRequest
        do {
            join = try JSONDecoder().decode(JoinRequest.self, from: Data(buffer: body))
        } catch {
            throw APIError(.badRequest, "the body must be JSON {\"addr\": \"host:port\", \"node_id\": \"id\"}")
        }
        guard !join.node_id.isEmpty, RaftNode.split(join.addr) != nil else {
            throw APIError(.badRequest, "node_id must not be empty and addr must be host:port")
        }
        let response: MembershipResponse = try await call(
            .addVoter, AddVoterRequest(id: join.node_id, address: join.addr, learner: join.voter == false))
        return JSONResponse.ok(["index": response.index])
    }

    private func leave(_ context: BasicRequestContext) async throws -> Response {
        let id = try parameter("id", context)
        let response: MembershipResponse = try await call(.removeServer, RemoveServerRequest(id: id))
        return JSONResponse.ok(["index": response.index])
    }

    private func transfer(_ request: Request) async throws -> Response {
        let target = request.uri.queryParameters.get("id") ?? ""
        let _: TransferLeadershipResponse = try await call(.transferLeadership, TransferLeadershipRequest(targetID: target))
        return JSONResponse.ok(["status": "transferring"])
    }

    private func status() async throws -> Response {
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
        return JSONResponse.ok(body)
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

    /// Takes a snapshot of this node's map now, and answers once it is on disk.
    private func snapshot() async throws -> Response {
        do {
            return JSONResponse.ok(json(try await node.snapshotNow()))
        } catch let error as RaftNodeError {
            throw APIError(RaftNodeService.rpcError(error))
        }
    }

    private func ready() async throws -> Response {
        let status = try await node.status()
        guard !status.leaderID.isEmpty, status.appliedIndex >= status.commitIndex else {
            throw APIError(.serviceUnavailable, "not ready: no leader known yet, or still catching up", retryAfter: 1)
        }
        return JSONResponse.ok(["status": "ready"])
    }

    // MARK: Helpers

    /// Runs a call through the node's services and maps its failure to HTTP.
    private func call<Response: WireMessage>(_ method: Method, _ request: some WireMessage) async throws -> Response {
        let result = await service.handle(InboundCall(method: method.rawValue, payload: try request.wireBytes(), timeoutMs: 0))
        switch result {
        case .success(let payload):
            return try Response(wireBytes: payload)
        case .failure(let error):
            throw APIError(error)
        }
    }

    private func parameter(_ name: String, _ context: BasicRequestContext) throws -> String {
        let raw = try context.parameters.require(name)
        guard let decoded = percentDecode(raw[...]), let text = String(validating: decoded, as: UTF8.self) else {
            throw APIError(.badRequest, "\(name) is not valid percent-encoded UTF-8")
        }
        return text
    }

    /// The percent-decoded segments after /api/v1/key/ of the raw path (`segments` of them,
    /// when given). Keys and values are bytes: any percent-encoding is allowed.
    private func keyRoute(_ request: Request, segments: Int?) throws -> [[UInt8]] {
        let path = request.uri.path
        let prefix = "/api/v1/key/"
        guard path.hasPrefix(prefix) else { throw APIError(.notFound, "Not Found") }
        var parts: [[UInt8]] = []
        for raw in path.dropFirst(prefix.count).split(separator: "/", omittingEmptySubsequences: false) {
            guard let decoded = percentDecode(raw) else { throw APIError(.badRequest, "'\(raw)' is not valid percent-encoding") }
            parts.append(decoded)
        }
        if let segments, parts.count != segments { throw APIError(.notFound, "no route for \(path)") }
        guard let key = parts.first, !key.isEmpty else { throw APIError(.badRequest, "the key must not be empty") }
        return parts
    }

    private func percentDecode(_ text: Substring) -> [UInt8]? {
        var bytes: [UInt8] = []
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

    private func hexValue(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

extension HTTPFrontend {
    /// The HTTP server for this frontend on host:port; `run()` serves until its task is cancelled.
    public func application(host: String, port: Int, logger: Logger) -> some ApplicationProtocol {
        Application(
            router: router(),
            configuration: .init(address: .hostname(host, port: port), serverName: "raft-cache"),
            logger: logger)
    }
}
