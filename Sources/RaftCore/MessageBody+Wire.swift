import RaftWire

/// Raft's messages as calls of the binary protocol: a request is a call of its method, its
/// response the answer's payload. The one table between the core's messages and the wire
/// (Method holds the other half: each method's request and response types).
extension MessageBody {
    /// The method of the call this message is, or answers.
    public var method: Method {
        switch self {
        case .requestVote, .requestVoteResponse: .requestVote
        case .appendEntries, .appendEntriesResponse: .appendEntries
        case .installSnapshot, .installSnapshotResponse: .installSnapshot
        case .timeoutNow, .timeoutNowResponse: .timeoutNow
        case .readIndex, .readIndexResponse: .readIndex
        }
    }

    public var isResponse: Bool {
        switch self {
        case .requestVoteResponse, .appendEntriesResponse, .installSnapshotResponse, .timeoutNowResponse, .readIndexResponse:
            true
        case .requestVote, .appendEntries, .installSnapshot, .timeoutNow, .readIndex:
            false
        }
    }

    /// The payload of the call (a request) or of its answer (a response).
    public func payload() throws -> [UInt8] {
        switch self {
        case .requestVote(let m): try m.wireBytes()
        case .requestVoteResponse(let m): try m.wireBytes()
        case .appendEntries(let m): try m.wireBytes()
        case .appendEntriesResponse(let m): try m.wireBytes()
        case .installSnapshot(let m): try m.wireBytes()
        case .installSnapshotResponse(let m): try m.wireBytes()
        case .timeoutNow(let m): try m.wireBytes()
        case .timeoutNowResponse(let m): try m.wireBytes()
        case .readIndex(let m): try m.wireBytes()
        case .readIndexResponse(let m): try m.wireBytes()
        }
    }

    /// A request decoded from an inbound call, with the sender it names; nil when `method`
    /// is not one of Raft's messages.
    public static func request(method: Method, payload: [UInt8]) throws -> (from: NodeID, body: MessageBody)? {
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

    /// The response to `method` decoded from an answer's payload; nil when `method` is not
    /// one of Raft's messages.
    public static func response(to method: Method, payload: [UInt8]) throws -> MessageBody? {
        switch method {
        case .requestVote: .requestVoteResponse(try RequestVoteResponse(wireBytes: payload))
        case .appendEntries: .appendEntriesResponse(try AppendEntriesResponse(wireBytes: payload))
        case .installSnapshot: .installSnapshotResponse(try InstallSnapshotResponse(wireBytes: payload))
        case .timeoutNow: .timeoutNowResponse(try TimeoutNowResponse(wireBytes: payload))
        case .readIndex: .readIndexResponse(try ReadIndexResponse(wireBytes: payload))
        default: nil
        }
    }

    /// The message as the receiver decodes it from the wire; nil if the codecs refuse it.
    public var afterWire: MessageBody? {
        guard let payload = try? payload() else { return nil }
        if isResponse { return (try? Self.response(to: method, payload: payload)) ?? nil }
        return (try? Self.request(method: method, payload: payload))??.body
    }
}
