import RaftWire

/// A server's id in the cluster configuration.
public typealias NodeID = String

/// What Raft must persist before it answers anyone: the current term, the vote cast in
/// it ("" for none) and the commit index.
public struct HardState: Sendable, Equatable {
    public var term: UInt64
    public var vote: NodeID
    public var commit: UInt64

    public init(term: UInt64 = 0, vote: NodeID = "", commit: UInt64 = 0) {
        self.term = term
        self.vote = vote
        self.commit = commit
    }
}

/// Everything a node persisted: where a restarted core starts from.
public struct PersistentState: Sendable, Equatable {
    public var hardState: HardState
    /// The newest snapshot (index 0: none).
    public var snapshot: SnapshotMetadata
    /// The log after the snapshot, in index order.
    public var entries: [Entry]

    public init(hardState: HardState = HardState(), snapshot: SnapshotMetadata = SnapshotMetadata(), entries: [Entry] = []) {
        self.hardState = hardState
        self.snapshot = snapshot
        self.entries = entries
    }
}

/// The Raft messages nodes exchange; the requests and responses of raft.proto.
public enum MessageBody: Sendable, Equatable {
    case requestVote(RequestVoteRequest)
    case requestVoteResponse(RequestVoteResponse)
    case appendEntries(AppendEntriesRequest)
    case appendEntriesResponse(AppendEntriesResponse)
    /// Sent by the core with `done` set and no data: the driver streams the snapshot named
    /// by the metadata in chunks and hands the receiving core one message with `done` set.
    case installSnapshot(InstallSnapshotRequest)
    case installSnapshotResponse(InstallSnapshotResponse)
    case timeoutNow(TimeoutNowRequest)
    case timeoutNowResponse(TimeoutNowResponse)
    case readIndex(ReadIndexRequest)
    case readIndexResponse(ReadIndexResponse)
}

public struct Message: Sendable, Equatable {
    public var from: NodeID
    public var to: NodeID
    /// Not on the wire: a core copies it from a request into the response it causes, so a
    /// driver can pair them (the call id of an inbound call, say).
    public var context: UInt64
    public var body: MessageBody

    public init(from: NodeID, to: NodeID, context: UInt64 = 0, body: MessageBody) {
        self.from = from
        self.to = to
        self.context = context
        self.body = body
    }

    /// The sender's term (0 for ReadIndex requests, which carry none).
    var term: UInt64 {
        switch body {
        case .requestVote(let m): m.term
        case .requestVoteResponse(let m): m.term
        case .appendEntries(let m): m.term
        case .appendEntriesResponse(let m): m.term
        case .installSnapshot(let m): m.term
        case .installSnapshotResponse(let m): m.term
        case .timeoutNow(let m): m.term
        case .timeoutNowResponse(let m): m.term
        case .readIndex: 0
        case .readIndexResponse(let m): m.term
        }
    }

    /// A leader's replication, which a server that knows no cluster yet learns its term from.
    var isFromLeader: Bool {
        switch body {
        case .appendEntries, .installSnapshot: true
        default: false
        }
    }

    /// A leader's request that claims nothing about the sender's disk: it may be sent while
    /// earlier writes are still being synced (the leader counts only entries it knows are
    /// durable toward a commit). Everything else waits for every write before it.
    public var mayPrecedePersistence: Bool {
        switch body {
        case .appendEntries, .installSnapshot, .timeoutNow: true
        default: false
        }
    }
}

/// A linearizable read the driver asked for with `readIndex(context:)`: once the state
/// machine has applied `index`, reading it is linearizable. `index` 0: the read failed
/// (no leader, or leadership lost); ask again.
public struct ReadState: Sendable, Equatable {
    public var context: UInt64
    public var index: UInt64

    public init(context: UInt64, index: UInt64) {
        self.context = context
        self.index = index
    }

    public var succeeded: Bool { index > 0 }
}

/// A single-server membership change.
public enum MembershipChange: Sendable, Equatable {
    /// Adds a server as staging: a learner the leader promotes to voter once it has caught up.
    /// The same id at another address replaces the old entry (again as staging).
    case addVoter(id: NodeID, address: String)
    /// Adds a non-voting learner that stays one.
    case addLearner(id: NodeID, address: String)
    case promote(id: NodeID)
    case remove(id: NodeID)
}

public enum RaftError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Only a leader can do this; `leader` is the one this node knows of, if any.
    case notLeader(leader: NodeID?)
    /// A leadership transfer is under way; proposals wait until it ends.
    case transferInProgress
    /// A membership change is pending until its entry commits.
    case membershipChangeInProgress
    case unknownServer(NodeID)
    /// The change would leave no voter, and no leader could ever be elected again.
    case noVotersLeft
    case invalidTransferTarget(NodeID)
    /// A join names the leader's own id at another address: replacing it would remove the
    /// very server handling the request.
    case replacesLeader(NodeID)

    public var description: String {
        switch self {
        case .notLeader(let leader): "not the leader" + (leader.map { " (the leader is \($0))" } ?? " (no leader known)")
        case .transferInProgress: "a leadership transfer is in progress"
        case .membershipChangeInProgress: "another membership change is in progress"
        case .unknownServer(let id): "no server \(id) in the configuration"
        case .noVotersLeft: "the change would leave no voter"
        case .invalidTransferTarget(let id): "cannot transfer leadership to \(id)"
        case .replacesLeader(let id):
            "\(id) is the leader's own id: a new server cannot take it over (transfer leadership away first, or use another id)"
        }
    }
}

public struct RaftOptions: Sendable {
    public var id: NodeID
    /// An election starts after a random number of ticks in [electionTicks, 2 * electionTicks)
    /// without hearing from a leader.
    public var electionTicks: Int
    public var heartbeatTicks: Int
    /// AppendEntries in flight to one follower before the leader waits for answers,
    public var maxInflightMessages: Int
    /// and entry bytes in flight to it (one message always goes): what a follower slower
    /// than the leader's clients costs the leader in memory, with maxMessageBytes.
    public var maxInflightBytes: Int
    /// The most entry bytes in one AppendEntries (at least one entry is always sent).
    public var maxMessageBytes: Int
    /// A leader that has not heard from a quorum for an election timeout steps down, and
    /// followers that hear from a leader ignore vote requests for that long.
    public var checkQuorum: Bool
    /// A candidate first asks whether it would win, so a node that cannot win never bumps terms.
    public var preVote: Bool
    /// How long after a quorum acknowledged a heartbeat the leader may serve reads alone
    /// (`leaseRead`), in the driver's clock (`RaftCore.now`); 0: never. It must be shorter
    /// than the time a follower refuses votes after hearing from the leader - (electionTicks
    /// - 1) ticks - by more than the clocks can drift apart meanwhile. Needs checkQuorum.
    public var leaseDuration: UInt64
    public var randomSeed: UInt64

    public init(
        id: NodeID, electionTicks: Int = 10, heartbeatTicks: Int = 1, maxInflightMessages: Int = 64,
        maxMessageBytes: Int = 1 << 20, maxInflightBytes: Int = 8 << 20, checkQuorum: Bool = true, preVote: Bool = true, leaseDuration: UInt64 = 0,
        randomSeed: UInt64 = 0
    ) {
        precondition(heartbeatTicks >= 1 && electionTicks > heartbeatTicks, "need electionTicks > heartbeatTicks >= 1")
        self.id = id
        self.electionTicks = electionTicks
        self.heartbeatTicks = heartbeatTicks
        self.maxInflightMessages = maxInflightMessages
        self.maxMessageBytes = maxMessageBytes
        self.maxInflightBytes = maxInflightBytes
        self.checkQuorum = checkQuorum
        self.preVote = preVote
        self.leaseDuration = checkQuorum ? leaseDuration : 0
        self.randomSeed = randomSeed
    }

    /// The lease for ticks of `tick` (in the driver's clock): a follower refuses votes for at
    /// least (electionTicks - 1) ticks after it hears from the leader, and the lease is 90% of
    /// that, so clocks that drift apart by less than 10% of an election timeout keep lease
    /// reads linearizable.
    public static func leaseDuration(electionTicks: Int, tick: UInt64) -> UInt64 {
        UInt64(max(0, electionTicks - 1)) * tick / 10 * 9
    }
}
