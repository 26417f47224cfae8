import RaftProtoC

// Each message of kv.proto mapped to and from its protoc-c struct.

extension GetRequest: ProtobufCBacked {
    static func cInit(_ message: UnsafeMutablePointer<Raftcache__GetRequest>) { raftcache__get_request__init(message) }

    init(c: Raftcache__GetRequest) throws {
        self.init(key: decodeBytes(c.key), consistency: try decodeEnum(c.consistency.rawValue))
    }

    func cMessage(in arena: CArena) throws -> Raftcache__GetRequest {
        var c = Self.emptyCMessage()
        c.key = arena.binary(key)
        c.consistency = Raftcache__Consistency(rawValue: consistency.rawValue)
        return c
    }
}

extension GetResponse: ProtobufCBacked {
    static func cInit(_ message: UnsafeMutablePointer<Raftcache__GetResponse>) { raftcache__get_response__init(message) }

    init(c: Raftcache__GetResponse) throws {
        self.init(
            value: decodeBytes(c.value), appliedIndex: c.applied_index,
            leaderContactAgeMs: c.leader_contact_age_ms, createIndex: try decodeNumber(c.create_index, field: "GetResponse.create_index"),
            modIndex: try decodeNumber(c.mod_index, field: "GetResponse.mod_index"),
            ttlMs: try decodeNumber(c.ttl_ms, field: "GetResponse.ttl_ms"))
    }

    func cMessage(in arena: CArena) throws -> Raftcache__GetResponse {
        var c = Self.emptyCMessage()
        c.value = arena.binary(value)
        c.applied_index = appliedIndex
        c.leader_contact_age_ms = leaderContactAgeMs
        c.create_index = createIndex
        c.mod_index = modIndex
        c.ttl_ms = ttlMs
        return c
    }
}

extension SetRequest: ProtobufCBacked {
    static func cInit(_ message: UnsafeMutablePointer<Raftcache__SetRequest>) { raftcache__set_request__init(message) }

    init(c: Raftcache__SetRequest) throws {
        self.init(
            key: decodeBytes(c.key), value: decodeBytes(c.value),
            condition: try WriteCondition(ifModIndex: c.if_mod_index, ifAbsent: c.if_absent != 0, message: "SetRequest"),
            ttlMs: try decodeNumber(c.ttl_ms, field: "SetRequest.ttl_ms"))
    }

    func cMessage(in arena: CArena) throws -> Raftcache__SetRequest {
        var c = Self.emptyCMessage()
        c.key = arena.binary(key)
        c.value = arena.binary(value)
        c.if_mod_index = condition.ifModIndex
        c.if_absent = condition.ifAbsent ? 1 : 0
        c.ttl_ms = ttlMs
        return c
    }
}

extension SetResponse: ProtobufCBacked {
    static func cInit(_ message: UnsafeMutablePointer<Raftcache__SetResponse>) { raftcache__set_response__init(message) }

    init(c: Raftcache__SetResponse) throws {
        self.init(index: c.index)
    }

    func cMessage(in arena: CArena) throws -> Raftcache__SetResponse {
        var c = Self.emptyCMessage()
        c.index = index
        return c
    }
}

extension DeleteRequest: ProtobufCBacked {
    static func cInit(_ message: UnsafeMutablePointer<Raftcache__DeleteRequest>) {
        raftcache__delete_request__init(message)
    }

    init(c: Raftcache__DeleteRequest) throws {
        self.init(
            key: decodeBytes(c.key),
            condition: try WriteCondition(ifModIndex: c.if_mod_index, ifAbsent: false, message: "DeleteRequest"))
    }

    func cMessage(in arena: CArena) throws -> Raftcache__DeleteRequest {
        var c = Self.emptyCMessage()
        c.key = arena.binary(key)
        c.if_mod_index = condition.ifModIndex
        return c
    }
}

extension DeleteResponse: ProtobufCBacked {
    static func cInit(_ message: UnsafeMutablePointer<Raftcache__DeleteResponse>) {
        raftcache__delete_response__init(message)
    }

    init(c: Raftcache__DeleteResponse) throws {
        self.init(index: c.index)
    }

    func cMessage(in arena: CArena) throws -> Raftcache__DeleteResponse {
        var c = Self.emptyCMessage()
        c.index = index
        return c
    }
}

extension StatusRequest: ProtobufCBacked {
    static func cInit(_ message: UnsafeMutablePointer<Raftcache__StatusRequest>) {
        raftcache__status_request__init(message)
    }

    init(c: Raftcache__StatusRequest) throws {
        self.init()
    }

    func cMessage(in arena: CArena) throws -> Raftcache__StatusRequest {
        Self.emptyCMessage()
    }
}

extension SnapshotRequest: ProtobufCBacked {
    static func cInit(_ message: UnsafeMutablePointer<Raftcache__SnapshotRequest>) {
        raftcache__snapshot_request__init(message)
    }

    init(c: Raftcache__SnapshotRequest) throws {
        self.init()
    }

    func cMessage(in arena: CArena) throws -> Raftcache__SnapshotRequest {
        Self.emptyCMessage()
    }
}

extension OpenSessionRequest: ProtobufCBacked {
    static func cInit(_ message: UnsafeMutablePointer<Raftcache__OpenSessionRequest>) {
        raftcache__open_session_request__init(message)
    }

    init(c: Raftcache__OpenSessionRequest) throws {
        self.init()
    }

    func cMessage(in arena: CArena) throws -> Raftcache__OpenSessionRequest {
        Self.emptyCMessage()
    }
}

extension OpenSessionResponse: ProtobufCBacked {
    static func cInit(_ message: UnsafeMutablePointer<Raftcache__OpenSessionResponse>) {
        raftcache__open_session_response__init(message)
    }

    init(c: Raftcache__OpenSessionResponse) throws {
        self.init(
            sessionID: try decodeNumber(c.session_id, field: "OpenSessionResponse.session_id"),
            timeoutMs: try decodeNumber(c.timeout_ms, field: "OpenSessionResponse.timeout_ms"))
    }

    func cMessage(in arena: CArena) throws -> Raftcache__OpenSessionResponse {
        var c = Self.emptyCMessage()
        c.session_id = sessionID
        c.timeout_ms = timeoutMs
        return c
    }
}

extension BackupRequest: ProtobufCBacked {
    static func cInit(_ message: UnsafeMutablePointer<Raftcache__BackupRequest>) {
        raftcache__backup_request__init(message)
    }

    init(c: Raftcache__BackupRequest) throws {
        self.init()
    }

    func cMessage(in arena: CArena) throws -> Raftcache__BackupRequest {
        Self.emptyCMessage()
    }
}

extension BackupChunk: ProtobufCBacked {
    static func cInit(_ message: UnsafeMutablePointer<Raftcache__BackupChunk>) {
        raftcache__backup_chunk__init(message)
    }

    init(c: Raftcache__BackupChunk) throws {
        self.init(data: decodeBytes(c.data))
    }

    func cMessage(in arena: CArena) throws -> Raftcache__BackupChunk {
        var c = Self.emptyCMessage()
        c.data = arena.binary(data)
        return c
    }
}

extension StatusResponse: ProtobufCBacked {
    static func cInit(_ message: UnsafeMutablePointer<Raftcache__StatusResponse>) {
        raftcache__status_response__init(message)
    }

    init(c: Raftcache__StatusResponse) throws {
        self.init(
            nodeID: try decodeString(c.node_id, field: "StatusResponse.node_id"),
            role: try decodeEnum(c.role.rawValue),
            term: c.term,
            leaderID: try decodeString(c.leader_id, field: "StatusResponse.leader_id"),
            leaderAddress: try decodeString(c.leader_address, field: "StatusResponse.leader_address"),
            members: try decodeRepeated(c.n_members, c.members),
            commitIndex: c.commit_index,
            appliedIndex: c.applied_index,
            lastLogIndex: c.last_log_index,
            snapshotIndex: c.snapshot_index,
            snapshot: try decodeMessage(c.snapshot),
            followers: try decodeRepeated(c.n_followers, c.followers),
            keys: c.keys,
            bytes: c.bytes,
            digest: c.digest,
            leaderContactAgeMs: c.leader_contact_age_ms,
            memoryUsedBytes: c.memory_used_bytes,
            maxMemoryBytes: c.max_memory_bytes,
            evictionPolicy: try decodeString(c.eviction_policy, field: "StatusResponse.eviction_policy"),
            expiredKeys: c.expired_keys,
            evictedKeys: c.evicted_keys,
            expiringKeys: c.expiring_keys, clientSessions: c.client_sessions)
    }

    func cMessage(in arena: CArena) throws -> Raftcache__StatusResponse {
        var c = Self.emptyCMessage()
        c.node_id = try arena.cString(nodeID, field: "StatusResponse.node_id")
        c.role = Raftcache__Role(rawValue: role.rawValue)
        c.term = term
        c.leader_id = try arena.cString(leaderID, field: "StatusResponse.leader_id")
        c.leader_address = try arena.cString(leaderAddress, field: "StatusResponse.leader_address")
        (c.n_members, c.members) = try arena.repeated(members)
        c.commit_index = commitIndex
        c.applied_index = appliedIndex
        c.last_log_index = lastLogIndex
        c.snapshot_index = snapshotIndex
        c.snapshot = try arena.message(snapshot)
        (c.n_followers, c.followers) = try arena.repeated(followers)
        c.keys = keys
        c.bytes = bytes
        c.digest = digest
        c.leader_contact_age_ms = leaderContactAgeMs
        c.memory_used_bytes = memoryUsedBytes
        c.max_memory_bytes = maxMemoryBytes
        c.eviction_policy = try arena.cString(evictionPolicy, field: "StatusResponse.eviction_policy")
        c.expired_keys = expiredKeys
        c.evicted_keys = evictedKeys
        c.expiring_keys = expiringKeys
        c.client_sessions = clientSessions
        return c
    }
}

extension SnapshotStatus: ProtobufCBacked {
    static func cInit(_ message: UnsafeMutablePointer<Raftcache__SnapshotStatus>) {
        raftcache__snapshot_status__init(message)
    }

    init(c: Raftcache__SnapshotStatus) throws {
        self.init(
            index: c.index, term: c.term, sizeBytes: c.size_bytes, ageMs: c.age_ms,
            receivingIndex: c.receiving_index, receivedBytes: c.received_bytes)
    }

    func cMessage(in arena: CArena) throws -> Raftcache__SnapshotStatus {
        var c = Self.emptyCMessage()
        c.index = index
        c.term = term
        c.size_bytes = sizeBytes
        c.age_ms = ageMs
        c.receiving_index = receivingIndex
        c.received_bytes = receivedBytes
        return c
    }
}

extension FollowerStatus: ProtobufCBacked {
    static func cInit(_ message: UnsafeMutablePointer<Raftcache__FollowerStatus>) {
        raftcache__follower_status__init(message)
    }

    init(c: Raftcache__FollowerStatus) throws {
        self.init(
            id: try decodeString(c.id, field: "FollowerStatus.id"), matchIndex: c.match_index,
            nextIndex: c.next_index, lag: c.lag, state: try decodeString(c.state, field: "FollowerStatus.state"))
    }

    func cMessage(in arena: CArena) throws -> Raftcache__FollowerStatus {
        var c = Self.emptyCMessage()
        c.id = try arena.cString(id, field: "FollowerStatus.id")
        c.match_index = matchIndex
        c.next_index = nextIndex
        c.lag = lag
        c.state = try arena.cString(state, field: "FollowerStatus.state")
        return c
    }
}

extension Command: ProtobufCBacked {
    static func cInit(_ message: UnsafeMutablePointer<Raftcache__Command>) { raftcache__command__init(message) }

    init(c: Raftcache__Command) throws {
        self.init(
            op: try decodeEnum(c.op.rawValue), key: decodeBytes(c.key), value: decodeBytes(c.value),
            condition: try WriteCondition(ifModIndex: c.if_mod_index, ifAbsent: c.if_absent != 0, message: "Command"), by: c.by,
            nowMs: try decodeNumber(c.now_ms, field: "Command.now_ms"), ttlMs: try decodeNumber(c.ttl_ms, field: "Command.ttl_ms"),
            keys: decodeRepeatedBytes(c.n_keys, c.keys),
            modIndexes: try decodeRepeatedNumbers(c.n_mod_indexes, c.mod_indexes, field: "Command.mod_indexes"),
            txn: try c.txn.map { try TxnRequest(c: $0.pointee) }, onlyExpiring: c.only_expiring != 0,
            session: c.session_id == 0 ? nil : SessionTag(
                id: try decodeNumber(c.session_id, field: "Command.session_id"),
                sequence: try decodeNumber(c.sequence, field: "Command.sequence"),
                ackedBelow: try decodeNumber(c.acked_below, field: "Command.acked_below")),
            sessionIDs: try decodeRepeatedNumbers(c.n_session_ids, c.session_ids, field: "Command.session_ids"))
    }

    func cMessage(in arena: CArena) throws -> Raftcache__Command {
        var c = try cMessageLeavingValueOut(in: arena)
        c.value = arena.binary(value)
        return c
    }

    /// A large value lent rather than copied: every write's proposal passes here.
    func withCMessage<R>(in arena: CArena, _ body: (inout Raftcache__Command) throws -> R) throws -> R {
        var c = try cMessageLeavingValueOut(in: arena)
        return try withCBinaries(count: 1, { _ in value }, in: arena, set: { c.value = $1 }) { try body(&c) }
    }

    private func cMessageLeavingValueOut(in arena: CArena) throws -> Raftcache__Command {
        var c = Self.emptyCMessage()
        c.op = Raftcache__CommandOp(rawValue: op.rawValue)
        c.key = arena.binary(key)
        c.if_mod_index = condition.ifModIndex
        c.if_absent = condition.ifAbsent ? 1 : 0
        c.by = by
        c.now_ms = nowMs
        c.ttl_ms = ttlMs
        (c.n_keys, c.keys) = arena.repeatedBinary(keys)
        (c.n_mod_indexes, c.mod_indexes) = arena.repeatedNumbers(modIndexes)
        c.txn = try txn.map { try arena.message($0) }
        c.only_expiring = onlyExpiring.cBoolean
        if let session {
            c.session_id = session.id
            c.sequence = session.sequence
            c.acked_below = session.ackedBelow
        }
        (c.n_session_ids, c.session_ids) = arena.repeatedNumbers(sessionIDs)
        return c
    }
}

extension IncrRequest: ProtobufCBacked {
    static func cInit(_ message: UnsafeMutablePointer<Raftcache__IncrRequest>) { raftcache__incr_request__init(message) }

    init(c: Raftcache__IncrRequest) throws {
        self.init(key: decodeBytes(c.key), by: c.by)
    }

    func cMessage(in arena: CArena) throws -> Raftcache__IncrRequest {
        var c = Self.emptyCMessage()
        c.key = arena.binary(key)
        c.by = by
        return c
    }
}

extension IncrResponse: ProtobufCBacked {
    static func cInit(_ message: UnsafeMutablePointer<Raftcache__IncrResponse>) { raftcache__incr_response__init(message) }

    init(c: Raftcache__IncrResponse) throws {
        self.init(value: c.value, index: try decodeNumber(c.index, field: "IncrResponse.index"))
    }

    func cMessage(in arena: CArena) throws -> Raftcache__IncrResponse {
        var c = Self.emptyCMessage()
        c.value = value
        c.index = index
        return c
    }
}
