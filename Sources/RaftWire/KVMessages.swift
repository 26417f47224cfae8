// The messages of Protos/kv.proto. Field meanings are documented there.

public enum Consistency: UInt32, Sendable, CaseIterable {
    case linearizable = 0
    case lease = 1
    case stale = 2
}

public struct GetRequest: Sendable, Equatable {
    public var key: [UInt8]
    public var consistency: Consistency

    public init(key: [UInt8] = [], consistency: Consistency = .linearizable) {
        self.key = key
        self.consistency = consistency
    }
}

public struct GetResponse: Sendable, Equatable {
    public var value: [UInt8]
    public var appliedIndex: UInt64
    public var leaderContactAgeMs: UInt64

    public init(value: [UInt8] = [], appliedIndex: UInt64 = 0, leaderContactAgeMs: UInt64 = 0) {
        self.value = value
        self.appliedIndex = appliedIndex
        self.leaderContactAgeMs = leaderContactAgeMs
    }
}

public struct SetRequest: Sendable, Equatable {
    public var key: [UInt8]
    public var value: [UInt8]

    public init(key: [UInt8] = [], value: [UInt8] = []) {
        self.key = key
        self.value = value
    }
}

public struct SetResponse: Sendable, Equatable {
    public var index: UInt64

    public init(index: UInt64 = 0) {
        self.index = index
    }
}

public struct DeleteRequest: Sendable, Equatable {
    public var key: [UInt8]

    public init(key: [UInt8] = []) {
        self.key = key
    }
}

public struct DeleteResponse: Sendable, Equatable {
    public var index: UInt64

    public init(index: UInt64 = 0) {
        self.index = index
    }
}

public struct StatusRequest: Sendable, Equatable {
    public init() {}
}

public enum Role: UInt32, Sendable, CaseIterable {
    case follower = 0
    case preCandidate = 1
    case candidate = 2
    case leader = 3
    case learner = 4
}

public struct StatusResponse: Sendable, Equatable {
    public var nodeID: String
    public var role: Role
    public var term: UInt64
    public var leaderID: String
    public var leaderAddress: String
    public var members: [Server]
    public var commitIndex: UInt64
    public var appliedIndex: UInt64
    public var lastLogIndex: UInt64
    public var snapshotIndex: UInt64

    public init(
        nodeID: String = "", role: Role = .follower, term: UInt64 = 0, leaderID: String = "",
        leaderAddress: String = "", members: [Server] = [], commitIndex: UInt64 = 0,
        appliedIndex: UInt64 = 0, lastLogIndex: UInt64 = 0, snapshotIndex: UInt64 = 0
    ) {
        self.nodeID = nodeID
        self.role = role
        self.term = term
        self.leaderID = leaderID
        self.leaderAddress = leaderAddress
        self.members = members
        self.commitIndex = commitIndex
        self.appliedIndex = appliedIndex
        self.lastLogIndex = lastLogIndex
        self.snapshotIndex = snapshotIndex
    }
}

public enum CommandOp: UInt32, Sendable, CaseIterable {
    case set = 0
    case delete = 1
}

/// A state-machine command: the data of a `.command` log entry.
public struct Command: Sendable, Equatable {
    public var op: CommandOp
    public var key: [UInt8]
    public var value: [UInt8]

    public init(op: CommandOp = .set, key: [UInt8] = [], value: [UInt8] = []) {
        self.op = op
        self.key = key
        self.value = value
    }
}
