/// Every method of the binary protocol, named as in the `Envelope.method` field:
/// `/<package>.<Service>/<Method>` of Protos/raft.proto and Protos/kv.proto.
public enum Method: String, Sendable, CaseIterable {
    case requestVote = "/raftcache.Raft/RequestVote"
    case appendEntries = "/raftcache.Raft/AppendEntries"
    case installSnapshot = "/raftcache.Raft/InstallSnapshot"
    case timeoutNow = "/raftcache.Raft/TimeoutNow"
    case readIndex = "/raftcache.Raft/ReadIndex"
    case addVoter = "/raftcache.Raft/AddVoter"
    case removeServer = "/raftcache.Raft/RemoveServer"
    case transferLeadership = "/raftcache.Raft/TransferLeadership"
    case get = "/raftcache.KV/Get"
    case set = "/raftcache.KV/Set"
    case delete = "/raftcache.KV/Delete"
    case status = "/raftcache.KV/Status"
    case incr = "/raftcache.KV/Incr"
    case setTTL = "/raftcache.KV/SetTTL"
    case txn = "/raftcache.KV/Txn"
    case batch = "/raftcache.KV/Batch"
    /// Streaming: one request, then WatchResponses until the last (Envelope.more unset).
    case watch = "/raftcache.KV/Watch"
    case snapshot = "/raftcache.KV/Snapshot"
    /// Streaming: BackupChunks, the bytes of a snapshot file in order.
    case backup = "/raftcache.KV/Backup"
    case openSession = "/raftcache.KV/OpenSession"

    /// The message a request of this method carries.
    public var requestType: any WireMessage.Type {
        switch self {
        case .requestVote: RequestVoteRequest.self
        case .appendEntries: AppendEntriesRequest.self
        case .installSnapshot: InstallSnapshotRequest.self
        case .timeoutNow: TimeoutNowRequest.self
        case .readIndex: ReadIndexRequest.self
        case .addVoter: AddVoterRequest.self
        case .removeServer: RemoveServerRequest.self
        case .transferLeadership: TransferLeadershipRequest.self
        case .get: GetRequest.self
        case .set: SetRequest.self
        case .delete: DeleteRequest.self
        case .status: StatusRequest.self
        case .incr: IncrRequest.self
        case .setTTL: SetTTLRequest.self
        case .txn: TxnRequest.self
        case .batch: BatchRequest.self
        case .watch: WatchRequest.self
        case .snapshot: SnapshotRequest.self
        case .backup: BackupRequest.self
        case .openSession: OpenSessionRequest.self
        }
    }

    /// Whether a call of this method may change the map: it takes a write's share of a node's
    /// admission bounds (a batch of only reads, rare, is counted as one too).
    public var isClientWrite: Bool {
        switch self {
        case .set, .delete, .incr, .setTTL, .txn, .batch, .openSession: true
        default: false
        }
    }

    /// Whether this is one of Raft's own calls between members (never refused for load).
    public var isRaft: Bool {
        switch self {
        case .requestVote, .appendEntries, .installSnapshot, .timeoutNow, .readIndex: true
        default: false
        }
    }

    /// Whether a call of this method is answered by a stream of responses.
    public var streams: Bool { self == .watch || self == .backup }

    /// The message a successful response of this method carries.
    public var responseType: any WireMessage.Type {
        switch self {
        case .requestVote: RequestVoteResponse.self
        case .appendEntries: AppendEntriesResponse.self
        case .installSnapshot: InstallSnapshotResponse.self
        case .timeoutNow: TimeoutNowResponse.self
        case .readIndex: ReadIndexResponse.self
        case .addVoter, .removeServer: MembershipResponse.self
        case .transferLeadership: TransferLeadershipResponse.self
        case .get: GetResponse.self
        case .set: SetResponse.self
        case .delete: DeleteResponse.self
        case .status: StatusResponse.self
        case .incr: IncrResponse.self
        case .setTTL: SetTTLResponse.self
        case .txn: TxnResponse.self
        case .batch: BatchResponse.self
        case .watch: WatchResponse.self
        case .snapshot: SnapshotStatus.self
        case .backup: BackupChunk.self
        case .openSession: OpenSessionResponse.self
        }
    }
}
