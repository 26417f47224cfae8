// The messages of Protos/raft.proto. Field meanings are documented there.

public enum EntryType: UInt32, Sendable, CaseIterable {
    case command = 0
    case configuration = 1
    case noop = 2
}

public struct Entry: Sendable, Equatable {
    public var term: UInt64
    public var index: UInt64
    public var type: EntryType
    public var data: [UInt8]

    public init(term: UInt64 = 0, index: UInt64 = 0, type: EntryType = .command, data: [UInt8] = []) {
        self.term = term
        self.index = index
        self.type = type
        self.data = data
    }
}

public enum Suffrage: UInt32, Sendable, CaseIterable {
    case voter = 0
    case learner = 1
    /// A learner to be promoted to voter once caught up.
    case staging = 2
}

public struct Server: Sendable, Equatable, Hashable {
    public var id: String
    public var address: String
    public var suffrage: Suffrage

    public init(id: String = "", address: String = "", suffrage: Suffrage = .voter) {
        self.id = id
        self.address = address
        self.suffrage = suffrage
    }
}

public struct Configuration: Sendable, Equatable {
    public var servers: [Server]

    public init(servers: [Server] = []) {
        self.servers = servers
    }
}

public struct RequestVoteRequest: Sendable, Equatable {
    public var term: UInt64
    public var candidateID: String
    public var lastLogIndex: UInt64
    public var lastLogTerm: UInt64
    public var preVote: Bool
    public var leadershipTransfer: Bool
    public var targetID: String

    public init(
        term: UInt64 = 0, candidateID: String = "", lastLogIndex: UInt64 = 0, lastLogTerm: UInt64 = 0,
        preVote: Bool = false, leadershipTransfer: Bool = false, targetID: String = ""
    ) {
        self.term = term
        self.candidateID = candidateID
        self.lastLogIndex = lastLogIndex
        self.lastLogTerm = lastLogTerm
        self.preVote = preVote
        self.leadershipTransfer = leadershipTransfer
        self.targetID = targetID
    }
}

public struct RequestVoteResponse: Sendable, Equatable {
    public var term: UInt64
    public var voteGranted: Bool
    public var preVote: Bool

    public init(term: UInt64 = 0, voteGranted: Bool = false, preVote: Bool = false) {
        self.term = term
        self.voteGranted = voteGranted
        self.preVote = preVote
    }
}

public struct AppendEntriesRequest: Sendable, Equatable {
    public var term: UInt64
    public var leaderID: String
    public var prevLogIndex: UInt64
    public var prevLogTerm: UInt64
    public var entries: [Entry]
    public var leaderCommit: UInt64
    public var seq: UInt64
    public var targetID: String

    public init(
        term: UInt64 = 0, leaderID: String = "", prevLogIndex: UInt64 = 0, prevLogTerm: UInt64 = 0,
        entries: [Entry] = [], leaderCommit: UInt64 = 0, seq: UInt64 = 0, targetID: String = ""
    ) {
        self.term = term
        self.leaderID = leaderID
        self.prevLogIndex = prevLogIndex
        self.prevLogTerm = prevLogTerm
        self.entries = entries
        self.leaderCommit = leaderCommit
        self.seq = seq
        self.targetID = targetID
    }
}

public struct AppendEntriesResponse: Sendable, Equatable {
    public var term: UInt64
    public var success: Bool
    public var matchIndex: UInt64
    public var rejectIndex: UInt64
    public var conflictTerm: UInt64
    public var conflictIndex: UInt64
    public var lastLogIndex: UInt64
    public var seq: UInt64

    public init(
        term: UInt64 = 0, success: Bool = false, matchIndex: UInt64 = 0, rejectIndex: UInt64 = 0,
        conflictTerm: UInt64 = 0, conflictIndex: UInt64 = 0, lastLogIndex: UInt64 = 0, seq: UInt64 = 0
    ) {
        self.term = term
        self.success = success
        self.matchIndex = matchIndex
        self.rejectIndex = rejectIndex
        self.conflictTerm = conflictTerm
        self.conflictIndex = conflictIndex
        self.lastLogIndex = lastLogIndex
        self.seq = seq
    }
}

public struct SnapshotMetadata: Sendable, Equatable {
    public var lastIncludedIndex: UInt64
    public var lastIncludedTerm: UInt64
    public var configuration: Configuration
    public var size: UInt64

    public init(
        lastIncludedIndex: UInt64 = 0, lastIncludedTerm: UInt64 = 0,
        configuration: Configuration = Configuration(), size: UInt64 = 0
    ) {
        self.lastIncludedIndex = lastIncludedIndex
        self.lastIncludedTerm = lastIncludedTerm
        self.configuration = configuration
        self.size = size
    }
}

public struct InstallSnapshotRequest: Sendable, Equatable {
    public var term: UInt64
    public var leaderID: String
    public var metadata: SnapshotMetadata
    public var offset: UInt64
    public var data: [UInt8]
    public var done: Bool
    public var seq: UInt64
    public var targetID: String

    public init(
        term: UInt64 = 0, leaderID: String = "", metadata: SnapshotMetadata = SnapshotMetadata(),
        offset: UInt64 = 0, data: [UInt8] = [], done: Bool = false, seq: UInt64 = 0, targetID: String = ""
    ) {
        self.term = term
        self.leaderID = leaderID
        self.metadata = metadata
        self.offset = offset
        self.data = data
        self.done = done
        self.seq = seq
        self.targetID = targetID
    }
}

public struct InstallSnapshotResponse: Sendable, Equatable {
    public var term: UInt64
    public var nextOffset: UInt64
    public var installed: Bool
    public var seq: UInt64

    public init(term: UInt64 = 0, nextOffset: UInt64 = 0, installed: Bool = false, seq: UInt64 = 0) {
        self.term = term
        self.nextOffset = nextOffset
        self.installed = installed
        self.seq = seq
    }
}

public struct TimeoutNowRequest: Sendable, Equatable {
    public var term: UInt64
    public var leaderID: String
    public var targetID: String

    public init(term: UInt64 = 0, leaderID: String = "", targetID: String = "") {
        self.term = term
        self.leaderID = leaderID
        self.targetID = targetID
    }
}

public struct TimeoutNowResponse: Sendable, Equatable {
    public var term: UInt64

    public init(term: UInt64 = 0) {
        self.term = term
    }
}

public struct ReadIndexRequest: Sendable, Equatable {
    public var requesterID: String

    public init(requesterID: String = "") {
        self.requesterID = requesterID
    }
}

public struct ReadIndexResponse: Sendable, Equatable {
    public var term: UInt64
    public var readIndex: UInt64

    public init(term: UInt64 = 0, readIndex: UInt64 = 0) {
        self.term = term
        self.readIndex = readIndex
    }
}

public struct AddVoterRequest: Sendable, Equatable {
    public var id: String
    public var address: String
    public var learner: Bool

    public init(id: String = "", address: String = "", learner: Bool = false) {
        self.id = id
        self.address = address
        self.learner = learner
    }
}

public struct RemoveServerRequest: Sendable, Equatable {
    public var id: String

    public init(id: String = "") {
        self.id = id
    }
}

public struct MembershipResponse: Sendable, Equatable {
    public var index: UInt64
    public var configuration: Configuration

    public init(index: UInt64 = 0, configuration: Configuration = Configuration()) {
        self.index = index
        self.configuration = configuration
    }
}

public struct TransferLeadershipRequest: Sendable, Equatable {
    public var targetID: String

    public init(targetID: String = "") {
        self.targetID = targetID
    }
}

public struct TransferLeadershipResponse: Sendable, Equatable {
    public var leaderID: String
    public var term: UInt64

    public init(leaderID: String = "", term: UInt64 = 0) {
        self.leaderID = leaderID
        self.term = term
    }
}
