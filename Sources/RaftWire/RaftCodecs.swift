import RaftProtoC

// Each message of raft.proto mapped to and from its protoc-c struct.

extension Entry: ProtobufCBacked {
    static func cInit(_ message: UnsafeMutablePointer<Raftcache__Entry>) { raftcache__entry__init(message) }

    init(c: Raftcache__Entry) throws {
        self.init(
            term: try decodeNumber(c.term, field: "Entry.term"), index: try decodeNumber(c.index, field: "Entry.index"),
            type: try decodeEnum(c.type.rawValue), data: decodeBytes(c.data))
    }

    func cMessage(in arena: CArena) throws -> Raftcache__Entry {
        var c = cMessageLeavingDataOut()
        c.data = arena.binary(data)
        return c
    }

    /// The C struct without `data`, which the caller sets (copied or lent).
    func cMessageLeavingDataOut() -> Raftcache__Entry {
        var c = Self.emptyCMessage()
        c.term = term
        c.index = index
        c.type = Raftcache__EntryType(rawValue: type.rawValue)
        return c
    }
}

extension Server: ProtobufCBacked {
    static func cInit(_ message: UnsafeMutablePointer<Raftcache__Server>) { raftcache__server__init(message) }

    init(c: Raftcache__Server) throws {
        self.init(
            id: try decodeString(c.id, field: "Server.id"),
            address: try decodeString(c.address, field: "Server.address"),
            suffrage: try decodeEnum(c.suffrage.rawValue))
    }

    func cMessage(in arena: CArena) throws -> Raftcache__Server {
        var c = Self.emptyCMessage()
        c.id = try arena.cString(id, field: "Server.id")
        c.address = try arena.cString(address, field: "Server.address")
        c.suffrage = Raftcache__Suffrage(rawValue: suffrage.rawValue)
        return c
    }
}

extension Configuration: ProtobufCBacked {
    static func cInit(_ message: UnsafeMutablePointer<Raftcache__Configuration>) {
        raftcache__configuration__init(message)
    }

    init(c: Raftcache__Configuration) throws {
        self.init(servers: try decodeRepeated(c.n_servers, c.servers))
    }

    func cMessage(in arena: CArena) throws -> Raftcache__Configuration {
        var c = Self.emptyCMessage()
        (c.n_servers, c.servers) = try arena.repeated(servers)
        return c
    }
}

extension RequestVoteRequest: ProtobufCBacked {
    static func cInit(_ message: UnsafeMutablePointer<Raftcache__RequestVoteRequest>) {
        raftcache__request_vote_request__init(message)
    }

    init(c: Raftcache__RequestVoteRequest) throws {
        self.init(
            term: try decodeNumber(c.term, field: "RequestVoteRequest.term"),
            candidateID: try decodeString(c.candidate_id, field: "RequestVoteRequest.candidate_id"),
            lastLogIndex: try decodeNumber(c.last_log_index, field: "RequestVoteRequest.last_log_index"),
            lastLogTerm: try decodeNumber(c.last_log_term, field: "RequestVoteRequest.last_log_term"),
            preVote: c.pre_vote != 0,
            leadershipTransfer: c.leadership_transfer != 0,
            targetID: try decodeString(c.target_id, field: "RequestVoteRequest.target_id"))
    }

    func cMessage(in arena: CArena) throws -> Raftcache__RequestVoteRequest {
        var c = Self.emptyCMessage()
        c.term = term
        c.candidate_id = try arena.cString(candidateID, field: "RequestVoteRequest.candidate_id")
        c.last_log_index = lastLogIndex
        c.last_log_term = lastLogTerm
        c.pre_vote = preVote.cBoolean
        c.leadership_transfer = leadershipTransfer.cBoolean
        c.target_id = try arena.cString(targetID, field: "RequestVoteRequest.target_id")
        return c
    }
}

extension RequestVoteResponse: ProtobufCBacked {
    static func cInit(_ message: UnsafeMutablePointer<Raftcache__RequestVoteResponse>) {
        raftcache__request_vote_response__init(message)
    }

    init(c: Raftcache__RequestVoteResponse) throws {
        self.init(
            term: try decodeNumber(c.term, field: "RequestVoteResponse.term"), voteGranted: c.vote_granted != 0,
            preVote: c.pre_vote != 0)
    }

    func cMessage(in arena: CArena) throws -> Raftcache__RequestVoteResponse {
        var c = Self.emptyCMessage()
        c.term = term
        c.vote_granted = voteGranted.cBoolean
        c.pre_vote = preVote.cBoolean
        return c
    }
}

extension AppendEntriesRequest: ProtobufCBacked {
    static func cInit(_ message: UnsafeMutablePointer<Raftcache__AppendEntriesRequest>) {
        raftcache__append_entries_request__init(message)
    }

    init(c: Raftcache__AppendEntriesRequest) throws {
        self.init(
            term: try decodeNumber(c.term, field: "AppendEntriesRequest.term"),
            leaderID: try decodeString(c.leader_id, field: "AppendEntriesRequest.leader_id"),
            prevLogIndex: try decodeNumber(c.prev_log_index, field: "AppendEntriesRequest.prev_log_index"),
            prevLogTerm: try decodeNumber(c.prev_log_term, field: "AppendEntriesRequest.prev_log_term"),
            entries: try decodeRepeated(c.n_entries, c.entries),
            leaderCommit: try decodeNumber(c.leader_commit, field: "AppendEntriesRequest.leader_commit"),
            seq: c.seq,
            targetID: try decodeString(c.target_id, field: "AppendEntriesRequest.target_id"))
    }

    func cMessage(in arena: CArena) throws -> Raftcache__AppendEntriesRequest {
        let c = try cMessageLeavingEntryDataOut(in: arena)
        for (i, entry) in entries.enumerated() { c.entries[i]!.pointee.data = arena.binary(entry.data) }
        return c
    }

    /// Large entries' data lent rather than copied: they are most of what a leader sends.
    func withCMessage<R>(in arena: CArena, _ body: (inout Raftcache__AppendEntriesRequest) throws -> R) throws -> R {
        var c = try cMessageLeavingEntryDataOut(in: arena)
        let slots = c.entries
        return try withCBinaries(count: entries.count, { entries[$0].data }, in: arena, set: { slots![$0]!.pointee.data = $1 }) {
            try body(&c)
        }
    }

    private func cMessageLeavingEntryDataOut(in arena: CArena) throws -> Raftcache__AppendEntriesRequest {
        var c = Self.emptyCMessage()
        c.term = term
        c.leader_id = try arena.cString(leaderID, field: "AppendEntriesRequest.leader_id")
        c.prev_log_index = prevLogIndex
        c.prev_log_term = prevLogTerm
        (c.n_entries, c.entries) = arena.repeated(entries) { $0.cMessageLeavingDataOut() }
        c.leader_commit = leaderCommit
        c.seq = seq
        c.target_id = try arena.cString(targetID, field: "AppendEntriesRequest.target_id")
        return c
    }
}

extension AppendEntriesResponse: ProtobufCBacked {
    static func cInit(_ message: UnsafeMutablePointer<Raftcache__AppendEntriesResponse>) {
        raftcache__append_entries_response__init(message)
    }

    init(c: Raftcache__AppendEntriesResponse) throws {
        self.init(
            term: try decodeNumber(c.term, field: "AppendEntriesResponse.term"),
            success: c.success != 0,
            matchIndex: try decodeNumber(c.match_index, field: "AppendEntriesResponse.match_index"),
            rejectIndex: try decodeNumber(c.reject_index, field: "AppendEntriesResponse.reject_index"),
            conflictTerm: try decodeNumber(c.conflict_term, field: "AppendEntriesResponse.conflict_term"),
            conflictIndex: try decodeNumber(c.conflict_index, field: "AppendEntriesResponse.conflict_index"),
            lastLogIndex: try decodeNumber(c.last_log_index, field: "AppendEntriesResponse.last_log_index"),
            seq: c.seq)
    }

    func cMessage(in arena: CArena) throws -> Raftcache__AppendEntriesResponse {
        var c = Self.emptyCMessage()
        c.term = term
        c.success = success.cBoolean
        c.match_index = matchIndex
        c.reject_index = rejectIndex
        c.conflict_term = conflictTerm
        c.conflict_index = conflictIndex
        c.last_log_index = lastLogIndex
        c.seq = seq
        return c
    }
}

extension SnapshotMetadata: ProtobufCBacked {
    static func cInit(_ message: UnsafeMutablePointer<Raftcache__SnapshotMetadata>) {
        raftcache__snapshot_metadata__init(message)
    }

    init(c: Raftcache__SnapshotMetadata) throws {
        self.init(
            lastIncludedIndex: try decodeNumber(c.last_included_index, field: "SnapshotMetadata.last_included_index"),
            lastIncludedTerm: try decodeNumber(c.last_included_term, field: "SnapshotMetadata.last_included_term"),
            configuration: try decodeMessage(c.configuration),
            size: try decodeNumber(c.size, field: "SnapshotMetadata.size"))
    }

    func cMessage(in arena: CArena) throws -> Raftcache__SnapshotMetadata {
        var c = Self.emptyCMessage()
        c.last_included_index = lastIncludedIndex
        c.last_included_term = lastIncludedTerm
        c.configuration = try arena.message(configuration)
        c.size = size
        return c
    }
}

extension InstallSnapshotRequest: ProtobufCBacked {
    static func cInit(_ message: UnsafeMutablePointer<Raftcache__InstallSnapshotRequest>) {
        raftcache__install_snapshot_request__init(message)
    }

    init(c: Raftcache__InstallSnapshotRequest) throws {
        self.init(
            term: try decodeNumber(c.term, field: "InstallSnapshotRequest.term"),
            leaderID: try decodeString(c.leader_id, field: "InstallSnapshotRequest.leader_id"),
            metadata: try decodeMessage(c.metadata),
            offset: try decodeNumber(c.offset, field: "InstallSnapshotRequest.offset"),
            data: decodeBytes(c.data),
            done: c.done != 0,
            seq: c.seq,
            targetID: try decodeString(c.target_id, field: "InstallSnapshotRequest.target_id"))
    }

    func cMessage(in arena: CArena) throws -> Raftcache__InstallSnapshotRequest {
        var c = Self.emptyCMessage()
        c.term = term
        c.leader_id = try arena.cString(leaderID, field: "InstallSnapshotRequest.leader_id")
        c.metadata = try arena.message(metadata)
        c.offset = offset
        c.data = arena.binary(data)
        c.done = done.cBoolean
        c.seq = seq
        c.target_id = try arena.cString(targetID, field: "InstallSnapshotRequest.target_id")
        return c
    }
}

extension InstallSnapshotResponse: ProtobufCBacked {
    static func cInit(_ message: UnsafeMutablePointer<Raftcache__InstallSnapshotResponse>) {
        raftcache__install_snapshot_response__init(message)
    }

    init(c: Raftcache__InstallSnapshotResponse) throws {
        self.init(
            term: try decodeNumber(c.term, field: "InstallSnapshotResponse.term"),
            nextOffset: try decodeNumber(c.next_offset, field: "InstallSnapshotResponse.next_offset"),
            installed: c.installed != 0,
            seq: c.seq)
    }

    func cMessage(in arena: CArena) throws -> Raftcache__InstallSnapshotResponse {
        var c = Self.emptyCMessage()
        c.term = term
        c.next_offset = nextOffset
        c.installed = installed.cBoolean
        c.seq = seq
        return c
    }
}

extension TimeoutNowRequest: ProtobufCBacked {
    static func cInit(_ message: UnsafeMutablePointer<Raftcache__TimeoutNowRequest>) {
        raftcache__timeout_now_request__init(message)
    }

    init(c: Raftcache__TimeoutNowRequest) throws {
        self.init(
            term: try decodeNumber(c.term, field: "TimeoutNowRequest.term"),
            leaderID: try decodeString(c.leader_id, field: "TimeoutNowRequest.leader_id"),
            targetID: try decodeString(c.target_id, field: "TimeoutNowRequest.target_id"))
    }

    func cMessage(in arena: CArena) throws -> Raftcache__TimeoutNowRequest {
        var c = Self.emptyCMessage()
        c.term = term
        c.leader_id = try arena.cString(leaderID, field: "TimeoutNowRequest.leader_id")
        c.target_id = try arena.cString(targetID, field: "TimeoutNowRequest.target_id")
        return c
    }
}

extension TimeoutNowResponse: ProtobufCBacked {
    static func cInit(_ message: UnsafeMutablePointer<Raftcache__TimeoutNowResponse>) {
        raftcache__timeout_now_response__init(message)
    }

    init(c: Raftcache__TimeoutNowResponse) throws {
        self.init(term: try decodeNumber(c.term, field: "TimeoutNowResponse.term"))
    }

    func cMessage(in arena: CArena) throws -> Raftcache__TimeoutNowResponse {
        var c = Self.emptyCMessage()
        c.term = term
        return c
    }
}

extension ReadIndexRequest: ProtobufCBacked {
    static func cInit(_ message: UnsafeMutablePointer<Raftcache__ReadIndexRequest>) {
        raftcache__read_index_request__init(message)
    }

    init(c: Raftcache__ReadIndexRequest) throws {
        self.init(requesterID: try decodeString(c.requester_id, field: "ReadIndexRequest.requester_id"))
    }

    func cMessage(in arena: CArena) throws -> Raftcache__ReadIndexRequest {
        var c = Self.emptyCMessage()
        c.requester_id = try arena.cString(requesterID, field: "ReadIndexRequest.requester_id")
        return c
    }
}

extension ReadIndexResponse: ProtobufCBacked {
    static func cInit(_ message: UnsafeMutablePointer<Raftcache__ReadIndexResponse>) {
        raftcache__read_index_response__init(message)
    }

    init(c: Raftcache__ReadIndexResponse) throws {
        self.init(
            term: try decodeNumber(c.term, field: "ReadIndexResponse.term"),
            readIndex: try decodeNumber(c.read_index, field: "ReadIndexResponse.read_index"))
    }

    func cMessage(in arena: CArena) throws -> Raftcache__ReadIndexResponse {
        var c = Self.emptyCMessage()
        c.term = term
        c.read_index = readIndex
        return c
    }
}

extension AddVoterRequest: ProtobufCBacked {
    static func cInit(_ message: UnsafeMutablePointer<Raftcache__AddVoterRequest>) {
        raftcache__add_voter_request__init(message)
    }

    init(c: Raftcache__AddVoterRequest) throws {
        self.init(
            id: try decodeString(c.id, field: "AddVoterRequest.id"),
            address: try decodeString(c.address, field: "AddVoterRequest.address"),
            learner: c.learner != 0)
    }

    func cMessage(in arena: CArena) throws -> Raftcache__AddVoterRequest {
        var c = Self.emptyCMessage()
        c.id = try arena.cString(id, field: "AddVoterRequest.id")
        c.address = try arena.cString(address, field: "AddVoterRequest.address")
        c.learner = learner.cBoolean
        return c
    }
}

extension RemoveServerRequest: ProtobufCBacked {
    static func cInit(_ message: UnsafeMutablePointer<Raftcache__RemoveServerRequest>) {
        raftcache__remove_server_request__init(message)
    }

    init(c: Raftcache__RemoveServerRequest) throws {
        self.init(id: try decodeString(c.id, field: "RemoveServerRequest.id"))
    }

    func cMessage(in arena: CArena) throws -> Raftcache__RemoveServerRequest {
        var c = Self.emptyCMessage()
        c.id = try arena.cString(id, field: "RemoveServerRequest.id")
        return c
    }
}

extension MembershipResponse: ProtobufCBacked {
    static func cInit(_ message: UnsafeMutablePointer<Raftcache__MembershipResponse>) {
        raftcache__membership_response__init(message)
    }

    init(c: Raftcache__MembershipResponse) throws {
        self.init(
            index: try decodeNumber(c.index, field: "MembershipResponse.index"), configuration: try decodeMessage(c.configuration))
    }

    func cMessage(in arena: CArena) throws -> Raftcache__MembershipResponse {
        var c = Self.emptyCMessage()
        c.index = index
        c.configuration = try arena.message(configuration)
        return c
    }
}

extension TransferLeadershipRequest: ProtobufCBacked {
    static func cInit(_ message: UnsafeMutablePointer<Raftcache__TransferLeadershipRequest>) {
        raftcache__transfer_leadership_request__init(message)
    }

    init(c: Raftcache__TransferLeadershipRequest) throws {
        self.init(targetID: try decodeString(c.target_id, field: "TransferLeadershipRequest.target_id"))
    }

    func cMessage(in arena: CArena) throws -> Raftcache__TransferLeadershipRequest {
        var c = Self.emptyCMessage()
        c.target_id = try arena.cString(targetID, field: "TransferLeadershipRequest.target_id")
        return c
    }
}

extension TransferLeadershipResponse: ProtobufCBacked {
    static func cInit(_ message: UnsafeMutablePointer<Raftcache__TransferLeadershipResponse>) {
        raftcache__transfer_leadership_response__init(message)
    }

    init(c: Raftcache__TransferLeadershipResponse) throws {
        self.init(
            leaderID: try decodeString(c.leader_id, field: "TransferLeadershipResponse.leader_id"),
            term: try decodeNumber(c.term, field: "TransferLeadershipResponse.term"))
    }

    func cMessage(in arena: CArena) throws -> Raftcache__TransferLeadershipResponse {
        var c = Self.emptyCMessage()
        c.leader_id = try arena.cString(leaderID, field: "TransferLeadershipResponse.leader_id")
        c.term = term
        return c
    }
}
