import RaftWire

/// The fields of each message of Protos/*.proto, in field-number order, with short names.
/// Which message a frame carries is RaftWire's one table (`Method.requestType` and
/// `responseType`); how each message lists its fields is its `ListedFields` conformance below.
enum MessageFields {
    /// Decodes `payload` as `method`'s request or response and lists its fields.
    static func decode(method: Method, kind: FrameKind, payload: [UInt8]) throws -> [Field] {
        let type = kind == .request ? method.requestType : method.responseType
        return try listed(type, payload)
    }

    private static func listed<Message: WireMessage>(_ type: Message.Type, _ payload: [UInt8]) throws -> [Field] {
        (try Message(wireBytes: payload) as? any ListedFields)?.fields ?? []
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


/// A message that can list its fields for the dump.
protocol ListedFields {
    var fields: [Field] { get }
}

extension ErrorDetail: ListedFields {
    var fields: [Field] {
        [Field("leader", .text(leaderID)), Field("leader_address", .text(leaderAddress)),
         Field("retry_after_ms", .number(UInt64(retryAfterMs)))]
            + (currentVersion.map { [Field("current_version", .text("\($0.createIndex)/\($0.modIndex)"), always: true)] } ?? [])
            + [Field("limit", .text(limit)), Field("oldest_index", .number(oldestIndex)), Field("session", .text(session))]
    }
}

extension OpenSessionRequest: ListedFields {
    var fields: [Field] { [] }
}

extension OpenSessionResponse: ListedFields {
    var fields: [Field] { [Field("session_id", .number(sessionID), always: true), Field("timeout_ms", .number(timeoutMs))] }
}

extension RequestVoteRequest: ListedFields {
    var fields: [Field] {
        [Field("term", .number(term), always: true), Field("candidate", .text(candidateID)),
         Field("last_log", .text("\(lastLogIndex)/t\(lastLogTerm)"), always: true),
         Field("pre_vote", .bool(preVote)), Field("transfer", .bool(leadershipTransfer)),
         Field("target", .text(targetID))]
    }
}

extension RequestVoteResponse: ListedFields {
    var fields: [Field] {
        [Field("term", .number(term), always: true), Field("granted", .bool(voteGranted), always: true),
         Field("pre_vote", .bool(preVote))]
    }
}

extension AppendEntriesRequest: ListedFields {
    var fields: [Field] {
        [Field("term", .number(term), always: true), Field("leader", .text(leaderID)),
         Field("prev", .text("\(prevLogIndex)/t\(prevLogTerm)"), always: true),
         Field("entries", EntrySummary.value(entries), always: true),
         Field("commit", .number(leaderCommit), always: true), Field("seq", .number(seq)),
         Field("target", .text(targetID))]
    }
}

extension AppendEntriesResponse: ListedFields {
    var fields: [Field] {
        [Field("term", .number(term), always: true), Field("success", .bool(success), always: true),
         Field("match", .number(matchIndex)), Field("reject", .number(rejectIndex)),
         Field("conflict_term", .number(conflictTerm)), Field("conflict_index", .number(conflictIndex)),
         Field("last_log", .number(lastLogIndex)), Field("seq", .number(seq))]
    }
}

extension InstallSnapshotRequest: ListedFields {
    var fields: [Field] {
        [
            Field("term", .number(term), always: true), Field("leader", .text(leaderID)),
            Field("snapshot", .object([
                Field("index", .number(metadata.lastIncludedIndex), always: true),
                Field("term", .number(metadata.lastIncludedTerm), always: true),
                Field("size", .number(metadata.size)),
                Field("configuration", MessageFields.configuration(metadata.configuration)),
            ])),
            Field("offset", .number(offset), always: true),
            Field("data", .summary(text: "\(data.count)B", json: .number(UInt64(data.count))), always: true),
            Field("done", .bool(done)), Field("seq", .number(seq)), Field("target", .text(targetID)),
        ]
    }
}

extension InstallSnapshotResponse: ListedFields {
    var fields: [Field] {
        [Field("term", .number(term), always: true), Field("next_offset", .number(nextOffset)),
         Field("installed", .bool(installed)), Field("seq", .number(seq))]
    }
}

extension TimeoutNowRequest: ListedFields {
    var fields: [Field] {
        [Field("term", .number(term), always: true), Field("leader", .text(leaderID)), Field("target", .text(targetID))]
    }
}

extension TimeoutNowResponse: ListedFields {
    var fields: [Field] { [Field("term", .number(term), always: true)] }
}

extension ReadIndexRequest: ListedFields {
    var fields: [Field] { [Field("requester", .text(requesterID))] }
}

extension ReadIndexResponse: ListedFields {
    var fields: [Field] {
        [Field("term", .number(term), always: true), Field("read_index", .number(readIndex), always: true)]
    }
}

extension AddVoterRequest: ListedFields {
    var fields: [Field] { [Field("id", .text(id)), Field("address", .text(address)), Field("learner", .bool(learner))] }
}

extension RemoveServerRequest: ListedFields {
    var fields: [Field] { [Field("id", .text(id))] }
}

extension MembershipResponse: ListedFields {
    var fields: [Field] {
        [Field("index", .number(index), always: true), Field("configuration", MessageFields.configuration(configuration))]
    }
}

extension TransferLeadershipRequest: ListedFields {
    var fields: [Field] { [Field("target", .text(targetID))] }
}

extension TransferLeadershipResponse: ListedFields {
    var fields: [Field] { [Field("leader", .text(leaderID)), Field("term", .number(term), always: true)] }
}

extension GetRequest: ListedFields {
    var fields: [Field] {
        [Field("key", .bytes(key), always: true), Field("consistency", .text(consistency.name))]
    }
}

extension GetResponse: ListedFields {
    var fields: [Field] {
        [Field("value", .bytes(value), always: true), Field("applied_index", .number(appliedIndex)),
         Field("leader_contact_age_ms", .number(leaderContactAgeMs)), Field("create_index", .number(createIndex)),
         Field("mod_index", .number(modIndex)), Field("ttl_ms", .number(ttlMs))]
    }
}

extension SetRequest: ListedFields {
    var fields: [Field] {
        [Field("key", .bytes(key), always: true), Field("value", .bytes(value)),
         Field("if_mod_index", .number(condition.ifModIndex)), Field("if_absent", .bool(condition.ifAbsent)),
         Field("ttl_ms", .number(ttlMs))]
    }
}

extension SetTTLRequest: ListedFields {
    var fields: [Field] { [Field("key", .bytes(key), always: true), Field("ttl_ms", .number(ttlMs), always: true)] }
}

extension SetTTLResponse: ListedFields {
    var fields: [Field] { [Field("index", .number(index), always: true)] }
}

extension TxnRequest: ListedFields {
    var fields: [Field] {
        [Field("compares", .list(compares.map(MessageFields.compare))), Field("success", .list(success.map(MessageFields.op))),
         Field("failure", .list(failure.map(MessageFields.op)))]
    }
}

extension TxnResponse: ListedFields {
    var fields: [Field] {
        [Field("succeeded", .bool(succeeded), always: true), Field("results", .list(results.map(MessageFields.result))),
         Field("index", .number(index), always: true)]
    }
}

extension BatchRequest: ListedFields {
    var fields: [Field] {
        [Field("ops", .list(ops.map(MessageFields.op)), always: true), Field("consistency", .text(consistency.name))]
    }
}

extension BatchResponse: ListedFields {
    var fields: [Field] {
        [Field("results", .list(results.map(MessageFields.result)), always: true), Field("index", .number(index), always: true)]
    }
}

extension MessageFields {
    static func compare(_ compare: Compare) -> FieldValue {
        let target = compare.target.name, result = compare.result.name
        let operand: String = switch compare.target {
        case .exists: ""
        case .value: " " + TextRendering.bytes(compare.value)
        case .modIndex: " \(compare.modIndex)"
        }
        return .summary(
            text: "\(TextRendering.bytes(compare.key)).\(target) \(result)\(operand)",
            json: .object([Field("key", .bytes(compare.key)), Field("target", .text(target)), Field("result", .text(result)),
                           Field("value", .bytes(compare.value)), Field("mod_index", .number(compare.modIndex))]))
    }

    static func op(_ op: KeyOp) -> FieldValue {
        let type = op.type.name
        let ttl = op.ttlMs > 0 ? " ttl \(op.ttlMs)ms" : ""
        let value = op.type == .set ? "=" + TextRendering.bytes(op.value) : ""
        return .summary(
            text: "\(type) \(TextRendering.bytes(op.key))\(value)\(ttl)",
            json: .object([Field("type", .text(type)), Field("key", .bytes(op.key)), Field("value", .bytes(op.value)),
                           Field("ttl_ms", .number(op.ttlMs))]))
    }

    static func result(_ result: KeyOpResult) -> FieldValue {
        .object([Field("found", .bool(result.found), always: true), Field("value", .bytes(result.value)),
                 Field("create_index", .number(result.createIndex)), Field("mod_index", .number(result.modIndex)),
                 Field("ttl_ms", .number(result.ttlMs))])
    }
}

extension SetResponse: ListedFields {
    var fields: [Field] { [Field("index", .number(index), always: true)] }
}

extension DeleteRequest: ListedFields {
    var fields: [Field] { [Field("key", .bytes(key), always: true), Field("if_mod_index", .number(condition.ifModIndex))] }
}

extension DeleteResponse: ListedFields {
    var fields: [Field] { [Field("index", .number(index), always: true)] }
}

extension IncrRequest: ListedFields {
    var fields: [Field] { [Field("key", .bytes(key), always: true), Field("by", .text(String(by)), always: true)] }
}

extension IncrResponse: ListedFields {
    var fields: [Field] { [Field("value", .text(String(value)), always: true), Field("index", .number(index), always: true)] }
}

extension StatusRequest: ListedFields {
    var fields: [Field] { [] }
}

extension StatusResponse: ListedFields {
    var fields: [Field] {
        [
            Field("node", .text(nodeID)), Field("role", .text(MessageFields.name(of: role)), always: true),
            Field("term", .number(term), always: true), Field("leader", .text(leaderID)),
            Field("leader_address", .text(leaderAddress)),
            Field("members", .list(members.map(MessageFields.server))),
            Field("commit", .number(commitIndex)), Field("applied", .number(appliedIndex)),
            Field("last_log", .number(lastLogIndex)), Field("snapshot_index", .number(snapshotIndex)),
            Field("followers", .list(followers.map {
                .object([Field("id", .text($0.id)), Field("match", .number($0.matchIndex)), Field("lag", .number($0.lag)),
                         Field("state", .text($0.state))])
            })),
            Field("keys", .number(keys)), Field("bytes", .number(bytes)),
            Field("memory_used", .number(memoryUsedBytes)), Field("max_memory", .number(maxMemoryBytes)),
            Field("eviction_policy", .text(evictionPolicy)), Field("expiring", .number(expiringKeys)),
            Field("expired", .number(expiredKeys)), Field("evicted", .number(evictedKeys)),
            Field("client_sessions", .number(clientSessions)),
        ]
    }
}

extension SnapshotRequest: ListedFields {
    var fields: [Field] { [] }
}

extension SnapshotStatus: ListedFields {
    var fields: [Field] {
        [Field("index", .number(index), always: true), Field("term", .number(term)), Field("size", .number(sizeBytes)),
         Field("age_ms", .number(ageMs)), Field("receiving", .number(receivingIndex)), Field("received", .number(receivedBytes))]
    }
}

extension BackupRequest: ListedFields {
    var fields: [Field] { [] }
}

extension BackupChunk: ListedFields {
    /// Its length, not its bytes: a part is up to 256 KiB of a snapshot file.
    var fields: [Field] { [Field("data_bytes", .number(UInt64(data.count)), always: true)] }
}

extension WatchRequest: ListedFields {
    var fields: [Field] {
        [Field("key", .bytes(key)), Field("prefix", .bytes(prefix)), Field("since", .number(since)),
         Field("keys_only", .bool(keysOnly))]
    }
}

extension WatchResponse: ListedFields {
    var fields: [Field] {
        [Field("index", .number(index), always: true), Field("events", .list(events.map(MessageFields.event)))]
    }
}

extension MessageFields {
    static func event(_ event: WatchEvent) -> FieldValue {
        let value = event.kind == .set ? "=" + TextRendering.bytes(event.value) : ""
        return .summary(
            text: "\(event.kind.name) \(TextRendering.bytes(event.key))\(value)@\(event.modIndex)",
            json: .object([Field("kind", .text(event.kind.name)), Field("key", .bytes(event.key)), Field("value", .bytes(event.value)),
                           Field("mod_index", .number(event.modIndex))]))
    }
}
