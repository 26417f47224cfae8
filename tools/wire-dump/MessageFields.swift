import RaftWire

/// The fields of each message of Protos/*.proto, in field-number order, with short names.
enum MessageFields {
    /// Decodes `payload` as `method`'s request or response and lists its fields.
    static func decode(method: Method, kind: FrameKind, payload: [UInt8]) throws -> [Field] {
        switch kind {
        case .request: try request(method, payload)
        case .response: try response(method, payload)
        }
    }

    private static func request(_ method: Method, _ payload: [UInt8]) throws -> [Field] {
        switch method {
        case .requestVote: fields(try RequestVoteRequest(wireBytes: payload))
        case .appendEntries: fields(try AppendEntriesRequest(wireBytes: payload))
        case .installSnapshot: fields(try InstallSnapshotRequest(wireBytes: payload))
        case .timeoutNow:
            try TimeoutNowRequest(wireBytes: payload).map {
                [Field("term", .number($0.term), always: true), Field("leader", .text($0.leaderID)), Field("target", .text($0.targetID))]
            }
        case .readIndex: try ReadIndexRequest(wireBytes: payload).map { [Field("requester", .text($0.requesterID))] }
        case .addVoter:
            try AddVoterRequest(wireBytes: payload).map {
                [Field("id", .text($0.id)), Field("address", .text($0.address)), Field("learner", .bool($0.learner))]
            }
        case .removeServer: try RemoveServerRequest(wireBytes: payload).map { [Field("id", .text($0.id))] }
        case .transferLeadership:
            try TransferLeadershipRequest(wireBytes: payload).map { [Field("target", .text($0.targetID))] }
        case .get:
            try GetRequest(wireBytes: payload).map {
                [Field("key", .bytes($0.key), always: true), Field("consistency", .text(name(of: $0.consistency)))]
            }
        case .set:
            try SetRequest(wireBytes: payload).map {
                [Field("key", .bytes($0.key), always: true), Field("value", .bytes($0.value))]
            }
        case .delete: try DeleteRequest(wireBytes: payload).map { [Field("key", .bytes($0.key), always: true)] }
        case .status: try StatusRequest(wireBytes: payload).map { _ in [] }
        }
    }

    private static func response(_ method: Method, _ payload: [UInt8]) throws -> [Field] {
        switch method {
        case .requestVote:
            try RequestVoteResponse(wireBytes: payload).map {
                [Field("term", .number($0.term), always: true), Field("granted", .bool($0.voteGranted), always: true),
                 Field("pre_vote", .bool($0.preVote))]
            }
        case .appendEntries: fields(try AppendEntriesResponse(wireBytes: payload))
        case .installSnapshot:
            try InstallSnapshotResponse(wireBytes: payload).map {
                [Field("term", .number($0.term), always: true), Field("next_offset", .number($0.nextOffset)),
                 Field("installed", .bool($0.installed)), Field("seq", .number($0.seq))]
            }
        case .timeoutNow: try TimeoutNowResponse(wireBytes: payload).map { [Field("term", .number($0.term), always: true)] }
        case .readIndex:
            try ReadIndexResponse(wireBytes: payload).map {
                [Field("term", .number($0.term), always: true), Field("read_index", .number($0.readIndex), always: true)]
            }
        case .addVoter, .removeServer:
            try MembershipResponse(wireBytes: payload).map {
                [Field("index", .number($0.index), always: true), Field("configuration", configuration($0.configuration))]
            }
        case .transferLeadership:
            try TransferLeadershipResponse(wireBytes: payload).map {
                [Field("leader", .text($0.leaderID)), Field("term", .number($0.term), always: true)]
            }
        case .get:
            try GetResponse(wireBytes: payload).map {
                [Field("value", .bytes($0.value), always: true), Field("applied_index", .number($0.appliedIndex)),
                 Field("leader_contact_age_ms", .number($0.leaderContactAgeMs))]
            }
        case .set: try SetResponse(wireBytes: payload).map { [Field("index", .number($0.index), always: true)] }
        case .delete: try DeleteResponse(wireBytes: payload).map { [Field("index", .number($0.index), always: true)] }
        case .status: fields(try StatusResponse(wireBytes: payload))
        }
    }

    static func fields(_ errorDetail: ErrorDetail) -> [Field] {
        [Field("leader", .text(errorDetail.leaderID)), Field("leader_address", .text(errorDetail.leaderAddress)),
         Field("retry_after_ms", .number(UInt64(errorDetail.retryAfterMs)))]
    }

    private static func fields(_ request: RequestVoteRequest) -> [Field] {
        [Field("term", .number(request.term), always: true), Field("candidate", .text(request.candidateID)),
         Field("last_log", .text("\(request.lastLogIndex)/t\(request.lastLogTerm)"), always: true),
         Field("pre_vote", .bool(request.preVote)), Field("transfer", .bool(request.leadershipTransfer)),
         Field("target", .text(request.targetID))]
    }

    private static func fields(_ request: AppendEntriesRequest) -> [Field] {
        [Field("term", .number(request.term), always: true), Field("leader", .text(request.leaderID)),
         Field("prev", .text("\(request.prevLogIndex)/t\(request.prevLogTerm)"), always: true),
         Field("entries", EntrySummary.value(request.entries), always: true),
         Field("commit", .number(request.leaderCommit), always: true), Field("seq", .number(request.seq)),
         Field("target", .text(request.targetID))]
    }

    private static func fields(_ response: AppendEntriesResponse) -> [Field] {
        [Field("term", .number(response.term), always: true), Field("success", .bool(response.success), always: true),
         Field("match", .number(response.matchIndex)), Field("reject", .number(response.rejectIndex)),
         Field("conflict_term", .number(response.conflictTerm)), Field("conflict_index", .number(response.conflictIndex)),
         Field("last_log", .number(response.lastLogIndex)), Field("seq", .number(response.seq))]
    }

    private static func fields(_ request: InstallSnapshotRequest) -> [Field] {
        let metadata = request.metadata
        return [
            Field("term", .number(request.term), always: true), Field("leader", .text(request.leaderID)),
            Field("snapshot", .object([
                Field("index", .number(metadata.lastIncludedIndex), always: true),
                Field("term", .number(metadata.lastIncludedTerm), always: true),
                Field("size", .number(metadata.size)),
                Field("configuration", configuration(metadata.configuration)),
            ])),
            Field("offset", .number(request.offset), always: true),
            Field("data", .summary(text: "\(request.data.count)B", json: .number(UInt64(request.data.count))), always: true),
            Field("done", .bool(request.done)), Field("seq", .number(request.seq)), Field("target", .text(request.targetID)),
        ]
    }

    private static func fields(_ response: StatusResponse) -> [Field] {
        [
            Field("node", .text(response.nodeID)), Field("role", .text(name(of: response.role)), always: true),
            Field("term", .number(response.term), always: true), Field("leader", .text(response.leaderID)),
            Field("leader_address", .text(response.leaderAddress)),
            Field("members", .list(response.members.map(server))),
            Field("commit", .number(response.commitIndex)), Field("applied", .number(response.appliedIndex)),
            Field("last_log", .number(response.lastLogIndex)), Field("snapshot_index", .number(response.snapshotIndex)),
            Field("followers", .list(response.followers.map {
                .object([Field("id", .text($0.id)), Field("match", .number($0.matchIndex)), Field("lag", .number($0.lag)),
                         Field("state", .text($0.state))])
            })),
            Field("keys", .number(response.keys)), Field("bytes", .number(response.bytes)),
        ]
    }

    static func configuration(_ configuration: Configuration) -> FieldValue {
        .list(configuration.servers.map(server))
    }

    static func server(_ server: Server) -> FieldValue {
        let text = "\(server.id)@\(server.address)" + (server.suffrage == .voter ? "" : "(\(name(of: server.suffrage)))")
        return .summary(
            text: text,
            json: .object([Field("id", .text(server.id)), Field("address", .text(server.address)),
                           Field("suffrage", .text(name(of: server.suffrage)))]))
    }

    static func name(of suffrage: Suffrage) -> String {
        switch suffrage {
        case .voter: "voter"
        case .learner: "learner"
        case .staging: "staging"
        }
    }

    static func name(of consistency: Consistency) -> String {
        switch consistency {
        case .linearizable: "linearizable"
        case .lease: "lease"
        case .stale: "stale"
        }
    }

    static func name(of role: Role) -> String {
        switch role {
        case .follower: "follower"
        case .preCandidate: "pre-candidate"
        case .candidate: "candidate"
        case .leader: "leader"
        case .learner: "learner"
        }
    }
}

private extension WireMessage {
    /// Lets one-line cases decode and list fields in a single expression.
    func map(_ transform: (Self) -> [Field]) -> [Field] { transform(self) }
}
