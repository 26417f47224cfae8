import RaftCore
import RaftWire

/// Raft messages as calls of the binary protocol: a request's method and payload, and the
/// response message its answer decodes to.
extension MessageBody {
    /// The method and payload of a request; nil for a response (it travels as an answer).
    func asCall() throws -> (method: Method, payload: [UInt8])? {
        switch self {
        case .requestVote(let m): (.requestVote, try m.wireBytes())
        case .appendEntries(let m): (.appendEntries, try m.wireBytes())
        case .installSnapshot(let m): (.installSnapshot, try m.wireBytes())
        case .timeoutNow(let m): (.timeoutNow, try m.wireBytes())
        case .readIndex(let m): (.readIndex, try m.wireBytes())
        default: nil
        }
    }

    /// The payload of a response.
    func responsePayload() throws -> [UInt8]? {
        switch self {
        case .requestVoteResponse(let m): try m.wireBytes()
        case .appendEntriesResponse(let m): try m.wireBytes()
        case .installSnapshotResponse(let m): try m.wireBytes()
        case .timeoutNowResponse(let m): try m.wireBytes()
        case .readIndexResponse(let m): try m.wireBytes()
        default: nil
        }
    }

    var isResponse: Bool {
        switch self {
        case .requestVoteResponse, .appendEntriesResponse, .installSnapshotResponse, .timeoutNowResponse, .readIndexResponse:
            true
        case .requestVote, .appendEntries, .installSnapshot, .timeoutNow, .readIndex:
            false
        }
    }

    /// The response to `method` decoded from an answer's payload.
    static func response(to method: Method, payload: [UInt8]) throws -> MessageBody {
        switch method {
        case .requestVote: .requestVoteResponse(try RequestVoteResponse(wireBytes: payload))
        case .appendEntries: .appendEntriesResponse(try AppendEntriesResponse(wireBytes: payload))
        case .installSnapshot: .installSnapshotResponse(try InstallSnapshotResponse(wireBytes: payload))
        case .timeoutNow: .timeoutNowResponse(try TimeoutNowResponse(wireBytes: payload))
        case .readIndex: .readIndexResponse(try ReadIndexResponse(wireBytes: payload))
        default: throw RPCError.unexpected("\(method.rawValue) is not a Raft message")
        }
    }

    /// A request decoded from an inbound call, with the sender it names.
    static func request(method: Method, payload: [UInt8]) throws -> (from: NodeID, body: MessageBody)? {
        switch method {
        case .requestVote:
            let m = try RequestVoteRequest(wireBytes: payload)
            return (m.candidateID, .requestVote(m))
        case .appendEntries:
            let m = try AppendEntriesRequest(wireBytes: payload)
            return (m.leaderID, .appendEntries(m))
        case .installSnapshot:
            let m = try InstallSnapshotRequest(wireBytes: payload)
            return (m.leaderID, .installSnapshot(m))
        case .timeoutNow:
            let m = try TimeoutNowRequest(wireBytes: payload)
            return (m.leaderID, .timeoutNow(m))
        case .readIndex:
            let m = try ReadIndexRequest(wireBytes: payload)
            return (m.requesterID, .readIndex(m))
        default:
            return nil
        }
    }
}
