import Foundation
import Hummingbird
import NIOCore
import RaftTransport
import RaftWire

/// An error answered as JSON {"message": ..., "status": "<reason phrase>"}, as the
/// original program did, with Retry-After where trying again later helps.
struct APIError: Error {
    var status: HTTPResponse.Status
    var message: String
    var retryAfter: Int?

    init(_ status: HTTPResponse.Status, _ message: String, retryAfter: Int? = nil) {
        self.status = status
        self.message = message
        self.retryAfter = retryAfter
    }

    /// A failed call of the node's services, in HTTP terms.
    init(_ error: RPCError) {
        let retry = error.detail.map { max(1, Int(($0.retryAfterMs + 999) / 1_000)) } ?? 1
        switch error.status {
        case .invalidArgument: self.init(.badRequest, error.message)
        case .notFound: self.init(.notFound, error.message)
        case .resourceExhausted: self.init(.contentTooLarge, error.message)
        case .deadlineExceeded: self.init(.gatewayTimeout, error.message)
        case .unavailable, .aborted: self.init(.serviceUnavailable, error.message, retryAfter: retry)
        case .failedPrecondition, .alreadyExists: self.init(.conflict, error.message)
        case .unimplemented: self.init(.notImplemented, error.message)
        default: self.init(.internalServerError, error.message)
        }
    }

    var response: Response {
        var headers = HTTPFields()
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        return JSONResponse.make(status: status, ["message": message, "status": status.reasonPhrase], headers: headers)
    }
}

/// Turns every error - ours, Hummingbird's (unknown route, body too large) or any other -
/// into the JSON error body.
struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            return error.response
        } catch let error as HTTPError {
            return APIError(error.status, error.body ?? error.status.reasonPhrase).response
        } catch is NIOTooManyBytesError {
            return APIError(.contentTooLarge, "the request body is over the limit").response
        } catch let error as WireError {
            return APIError(.badRequest, "\(error)").response
        } catch {
            return APIError(.internalServerError, "\(error)").response
        }
    }
}

enum JSONResponse {
    static func ok(_ body: [String: Any]) -> Response {
        make(status: .ok, body)
    }

    /// {"index":N}, the answer to every write: written directly, as it is on the hot path.
    static func index(_ index: UInt64) -> Response {
        fixed(ByteBuffer(string: "{\"index\":\(index)}"))
    }

    /// {"status":"ok"}, the same bytes every time.
    static var healthy: Response { fixed(healthyBody) }
    private static let healthyBody = ByteBuffer(string: "{\"status\":\"ok\"}")

    private static func fixed(_ body: ByteBuffer) -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: body))
    }

    static func make(status: HTTPResponse.Status, _ body: [String: Any], headers: HTTPFields = HTTPFields()) -> Response {
        var headers = headers
        headers[.contentType] = "application/json"
        let data = (try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])) ?? Data("{}".utf8)
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
