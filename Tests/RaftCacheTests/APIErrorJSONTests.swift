import Foundation
import NIOCore
import RaftWire
import Testing

@testable import HTTPFrontend

/// Error answers are written by hand (JSONObjectWriter), not by JSONSerialization: what a JSON
/// parser reads back must be what was meant, escapes included, with the members sorted.
@Suite struct APIErrorJSONTests {
    private func body(_ error: APIError) throws -> (text: String, object: [String: Any]) {
        let bytes = Array(error.answer.body.readableBytesView)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
        return (String(decoding: bytes, as: UTF8.self), object)
    }

    @Test func everyMemberReadsBackAndKeysAreSorted() throws {
        var error = APIError(RPCError(.failedPrecondition, "version moved", detail: ErrorDetail(currentVersion: KeyVersion(createIndex: 3, modIndex: 9))))
        error.limit = "max-writes-in-flight"
        error.oldestIndex = 18_446_744_073_709_551_615
        error.retryAfterMs = 250
        error.session = "expired"
        let (text, object) = try body(error)
        #expect(object["message"] as? String == "version moved")
        #expect(object["status"] as? String == "Precondition Failed")
        #expect((object["create_index"] as? NSNumber)?.uint64Value == 3)
        #expect((object["mod_index"] as? NSNumber)?.uint64Value == 9)
        #expect((object["oldest_index"] as? NSNumber)?.uint64Value == UInt64.max)
        #expect((object["retry_after_ms"] as? NSNumber)?.intValue == 250)
        #expect(object["limit"] as? String == "max-writes-in-flight" && object["session"] as? String == "expired")
        let names = ["create_index", "limit", "message", "mod_index", "oldest_index", "retry_after_ms", "session", "status"]
        let positions = names.map { text.range(of: "\"\($0)\":")!.lowerBound }
        #expect(positions == positions.sorted(), "\(text)")
    }

    @Test func messagesAreEscaped() throws {
        let message = "a \"quoted\" key\\path\n\twith\r\u{01}\u{1F} and é 🙂 / end"
        let (text, object) = try body(APIError(.badRequest, message))
        #expect(object["message"] as? String == message)
        #expect(text.contains("\\u0001") && text.contains("\\u001f") && text.contains("\\\"quoted\\\""), "\(text)")
        #expect(object.count == 2)
    }

    @Test func aRefusalCarriesItsRetryAdvice() throws {
        let refusal = APIError(RPCError(
            .unavailable, "overloaded (--max-bytes-in-flight)", detail: ErrorDetail(retryAfterMs: 1_200, limit: "max-bytes-in-flight")))
        let answer = refusal.answer
        #expect(answer.status == .serviceUnavailable)
        #expect(answer.headers["Retry-After"] == ["2"])
        let (_, object) = try body(refusal)
        #expect((object["retry_after_ms"] as? NSNumber)?.intValue == 1_200 && object["limit"] as? String == "max-bytes-in-flight")
    }
}
