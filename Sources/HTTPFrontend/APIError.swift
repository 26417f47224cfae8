import Connections
import Foundation
import NIOCore
import NIOHTTP1
import RaftWire

/// An answer: status, headers and body (the connection adds Content-Length).
public struct HTTPAnswer: Sendable {
    public var status: HTTPResponseStatus
    public var headers: HTTPHeaders
    public var body: ByteBuffer

    /// A JSON answer from a dictionary (keys sorted, so answers are stable).
    static func json(_ status: HTTPResponseStatus = .ok, _ object: [String: Any], headers: HTTPHeaders = [:]) -> HTTPAnswer {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return json(status, ByteBuffer(bytes: data), headers: headers)
    }

    static func json(_ status: HTTPResponseStatus = .ok, _ body: ByteBuffer, headers: HTTPHeaders = [:]) -> HTTPAnswer {
        var headers = headers
        headers.reserveCapacity(headers.count + 3)  // With Content-Length and Connection, added on the way out.
        headers.add(name: "Content-Type", value: "application/json")
        return HTTPAnswer(status: status, headers: headers, body: body)
    }

    /// {"index":N}, the answer to every write: written directly, as it is on the hot path.
    static func index(_ index: UInt64) -> HTTPAnswer {
        json(.ok, ByteBuffer(string: "{\"index\":\(index)}"))
    }

    /// The head (with Content-Length, and Connection: close unless `keepAlive`) and the body
    /// (none when empty) of this answer, to be followed by the end.
    func parts(version: HTTPVersion, keepAlive: Bool) -> [HTTPServerResponsePart] {
        var headers = headers
        headers.add(name: "Content-Length", value: String(body.readableBytes))
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        let head = HTTPServerResponsePart.head(HTTPResponseHead(version: version, status: status, headers: headers))
        return body.readableBytes > 0 ? [head, .body(.byteBuffer(body))] : [head]
    }

    /// {"status":"ok"}, the same bytes every time.
    static let healthy = json(.ok, ByteBuffer(string: "{\"status\":\"ok\"}"))
}

/// An error answered as JSON {"message": ..., "status": "<reason phrase>"}, as the
/// original program did, with Retry-After where trying again later helps.
struct APIError: Error {
    var status: HTTPResponseStatus
    var message: String
    var retryAfter: Int?
    /// The node's advice in milliseconds, finer than Retry-After's whole seconds (in the body).
    var retryAfterMs: UInt32?
    /// A write's condition failed: the key's version then, in the body (0/0: no such key).
    var currentVersion: KeyVersion?
    /// The flag of the limit that refused the request, in the body.
    var limit: String?
    /// A watch asked for changes no longer held: the oldest index it may resume from.
    var oldestIndex: UInt64?
    /// A session's write was refused: why ("expired", "acknowledged", "full").
    var session: String?

    init(_ status: HTTPResponseStatus, _ message: String, retryAfter: Int? = nil, limit: String? = nil) {
        self.status = status
        self.message = message
        self.retryAfter = retryAfter
        self.limit = limit
    }

    /// A failed call of the node's services, in HTTP terms.
    init(_ error: RPCError) {
        let retry = error.detail.map { max(1, Int(($0.retryAfterMs + 999) / 1_000)) } ?? 1
        switch error.status {
        case .invalidArgument: self.init(.badRequest, error.message)
        case .notFound: self.init(.notFound, error.message)
        case .resourceExhausted where error.detail?.limit == "max-memory": self.init(.insufficientStorage, error.message)
        case .resourceExhausted where error.detail?.limit == "client-sessions":
            self.init(.serviceUnavailable, error.message, retryAfter: retry)
        case .resourceExhausted: self.init(.payloadTooLarge, error.message)
        case .deadlineExceeded: self.init(.gatewayTimeout, error.message)
        case .unavailable, .aborted: self.init(.serviceUnavailable, error.message, retryAfter: retry)
        case .failedPrecondition where error.detail?.currentVersion != nil:
            self.init(.preconditionFailed, error.message)
            currentVersion = error.detail?.currentVersion
        case .failedPrecondition, .alreadyExists: self.init(.conflict, error.message)
        case .unimplemented: self.init(.notImplemented, error.message)
        case .outOfRange: self.init(.gone, error.message)
        case .unauthenticated: self.init(.unauthorized, error.message)
        case .permissionDenied: self.init(.forbidden, error.message)
        default: self.init(.internalServerError, error.message)
        }
        if let limit = error.detail?.limit, !limit.isEmpty { self.limit = limit }
        if let oldest = error.detail?.oldestIndex, error.status == .outOfRange { oldestIndex = oldest }
        if let session = error.detail?.session, !session.isEmpty { self.session = session }
        if retryAfter != nil, let ms = error.detail?.retryAfterMs, ms > 0 { retryAfterMs = ms }
    }

    var answer: HTTPAnswer {
        var headers = HTTPHeaders()
        if let retryAfter { headers.add(name: "Retry-After", value: String(retryAfter)) }
        // RFC 6750: a 401 says which scheme would do.
        if status == .unauthorized { headers.add(name: "WWW-Authenticate", value: "Bearer") }
        // Members in sorted order, as the other JSON answers are.
        var body = JSONObjectWriter(capacity: 128 + message.utf8.count)
        if let currentVersion { body.add("create_index", currentVersion.createIndex) }
        if let limit { body.add("limit", limit) }
        body.add("message", message)
        if let currentVersion { body.add("mod_index", currentVersion.modIndex) }
        if let oldestIndex { body.add("oldest_index", oldestIndex) }
        if let retryAfterMs { body.add("retry_after_ms", retryAfterMs) }
        if let session { body.add("session", session) }
        body.add("status", status.reasonPhrase)
        return .json(status, body.finish(), headers: headers)
    }
}
