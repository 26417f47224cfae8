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
        default: throw RaftNodeError.unexpected("\(method.rawValue) is not a Raft message")
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

public enum RaftNodeError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No leader is known (an election is under way, or this node is cut off).
    case noLeader
    /// This node is not the leader; the leader it knows of, if any.
    case notLeader(id: NodeID?, address: String?)
    case timeout
    case shuttingDown
    /// The write was overtaken by a leader change and did not commit.
    case lost
    /// Not possible now; trying again shortly may work (a leadership transfer under way).
    case unavailable(String)
    /// The request itself is wrong.
    case invalid(String)
    /// Refused in the cluster's current state (another membership change pending).
    case rejected(String)
    case unexpected(String)
    /// The node stopped itself (storage failure); it serves nothing more.
    case failed(String)

    public var description: String {
        switch self {
        case .noLeader: "no leader is known; try again shortly"
        case .notLeader(let id, let address): "not the leader (the leader is \(id ?? "unknown") at \(address ?? "unknown"))"
        case .timeout: "timed out waiting for the cluster"
        case .shuttingDown: "the node is shutting down"
        case .lost: "the write was lost in a leader change; it was not applied"
        case .unavailable(let reason), .invalid(let reason), .rejected(let reason), .unexpected(let reason): reason
        case .failed(let reason): "the node has stopped: \(reason)"
        }
    }
}
