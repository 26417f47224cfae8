import Foundation
import NIOCore
import RaftNode
import RaftWire

/// The JSON of `POST /api/v1/txn` and `POST /api/v1/batch` (README, "Transactions and
/// batches"): keys and values are UTF-8 strings; a value that is not UTF-8 is answered as
/// `value_base64`.
enum TxnJSON {
    private struct CompareJSON: Decodable {
        var key: String
        var target: String
        var result: String?
        var value: String?
        var mod_index: UInt64?
    }

    private struct OpJSON: Decodable {
        var op: String
        var key: String
        var value: String?
        var ttl: String?
    }

    private struct TxnRequestJSON: Decodable {
        var compare: [CompareJSON]?
        var success: [OpJSON]?
        var failure: [OpJSON]?
    }

    private struct BatchRequestJSON: Decodable {
        var ops: [OpJSON]
        var consistency: String?
    }

    static func request(_ body: ByteBuffer) throws -> TxnRequest {
        let json: TxnRequestJSON = try decode(body, shape: #"{"compare": [...], "success": [...], "failure": [...]}"#)
        return TxnRequest(
            compares: try (json.compare ?? []).map(compare), success: try (json.success ?? []).map(op),
            failure: try (json.failure ?? []).map(op))
    }

    static func batch(_ body: ByteBuffer) throws -> BatchRequest {
        let json: BatchRequestJSON = try decode(body, shape: #"{"ops": [{"op": "get", "key": "k"}, ...], "consistency": "lease"}"#)
        return BatchRequest(ops: try json.ops.map(op), consistency: try HTTPFrontend.consistency(json.consistency))
    }

    static func answer(_ response: TxnResponse, to request: TxnRequest) -> HTTPAnswer {
        let ops = response.succeeded ? request.success : request.failure
        return .json(.ok, ["succeeded": response.succeeded, "index": response.index, "results": zip(ops, response.results).map(json)])
    }

    static func answer(_ response: BatchResponse, to request: BatchRequest) -> HTTPAnswer {
        .json(.ok, ["index": response.index, "results": zip(request.ops, response.results).map(json)])
    }

    /// A set: its version and time to live; a delete: whether the key was there; a get: also
    /// the value.
    private static func json(_ op: KeyOp, _ result: KeyOpResult) -> [String: Any] {
        var object: [String: Any] = ["found": result.found]
        if result.found, op.type != .delete {
            object["create_index"] = result.createIndex
            object["mod_index"] = result.modIndex
        }
        if result.ttlMs > 0 { object["ttl_ms"] = result.ttlMs }
        if result.found, op.type == .get { put(result.value, as: "value", in: &object) }
        return object
    }

    /// `bytes` under `name` as text when they are UTF-8, else as `name`_base64.
    static func put(_ bytes: [UInt8], as name: String, in object: inout [String: Any]) {
        if let text = String(validating: bytes, as: UTF8.self) {
            object[name] = text
        } else {
            object[name + "_base64"] = Data(bytes).base64EncodedString()
        }
    }

    private static func decode<T: Decodable>(_ body: ByteBuffer, shape: String) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(body.readableBytesView))
        } catch {
            throw APIError(.badRequest, "the body must be JSON \(shape): \(describe(error))")
        }
    }

    private static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, let context):
            "missing \"\(key.stringValue)\"" + path(context)
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            "wrong type" + path(context)
        default:
            "not valid JSON"
        }
    }

    private static func path(_ context: DecodingError.Context) -> String {
        let path = context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
        return path.isEmpty ? "" : " at \(path)"
    }

    private static func compare(_ json: CompareJSON) throws -> Compare {
        guard let target = CompareTarget(name: json.target) else {
            throw APIError(.badRequest, "a compare's target is \(CompareTarget.nameList), not '\(json.target)'")
        }
        let resultName = json.result == "==" ? "=" : json.result ?? "="
        guard let result = CompareResult(name: resultName) else {
            throw APIError(.badRequest, "a compare's result is \(CompareResult.nameList), not '\(resultName)'")
        }
        if target == .value, json.value == nil { throw APIError(.badRequest, "a compare on value needs \"value\"") }
        if target == .modIndex, json.mod_index == nil { throw APIError(.badRequest, "a compare on mod_index needs \"mod_index\"") }
        if let index = json.mod_index, index >= wireNumberLimit { throw APIError(.badRequest, "mod_index \(index) is out of range") }
        return Compare(
            key: Array(json.key.utf8), target: target, result: result, value: Array((json.value ?? "").utf8), modIndex: json.mod_index ?? 0)
    }

    private static func op(_ json: OpJSON) throws -> KeyOp {
        guard let type = KeyOpType(name: json.op) else {
            throw APIError(.badRequest, "an operation is \(KeyOpType.nameList), not '\(json.op)'")
        }
        if type == .set, json.value == nil { throw APIError(.badRequest, "a set needs \"value\"") }
        var ttl: UInt64 = 0
        if let text = json.ttl {
            guard type == .set else { throw APIError(.badRequest, "only a set takes a ttl") }
            ttl = try HTTPFrontend.ttlMs(text)
        }
        return KeyOp(type: type, key: Array(json.key.utf8), value: Array((json.value ?? "").utf8), ttlMs: ttl)
    }
}
