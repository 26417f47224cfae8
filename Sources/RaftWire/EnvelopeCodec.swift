import RaftProtoC

extension Envelope: ProtobufCBacked {
    static func cInit(_ message: UnsafeMutablePointer<Raftcache__Envelope>) { raftcache__envelope__init(message) }

    init(c: Raftcache__Envelope) throws {
        self.init(
            callID: c.call_id,
            kind: try decodeEnum(c.kind.rawValue),
            method: try decodeString(c.method, field: "Envelope.method"),
            timeoutMs: c.timeout_ms,
            status: StatusCode(rawValue: c.status.rawValue),
            message: try decodeString(c.message, field: "Envelope.message"),
            payload: decodeBytes(c.payload),
            hops: c.hops,
            authToken: try decodeString(c.auth_token, field: "Envelope.auth_token"),
            more: c.more != 0)
    }

    func cMessage(in arena: CArena) throws -> Raftcache__Envelope {
        var c = Self.emptyCMessage()
        c.call_id = callID
        c.kind = Raftcache__FrameKind(rawValue: kind.rawValue)
        c.method = try arena.cString(method, field: "Envelope.method")
        c.timeout_ms = timeoutMs
        c.status = Raftcache__StatusCode(rawValue: status.rawValue)
        c.message = try arena.cString(message, field: "Envelope.message")
        c.payload = arena.binary(payload)
        c.hops = hops
        c.auth_token = try arena.cString(authToken, field: "Envelope.auth_token")
        c.more = more.cBoolean
        return c
    }
}

extension ErrorDetail: ProtobufCBacked {
    static func cInit(_ message: UnsafeMutablePointer<Raftcache__ErrorDetail>) {
        raftcache__error_detail__init(message)
    }

    init(c: Raftcache__ErrorDetail) throws {
        self.init(
            leaderID: try decodeString(c.leader_id, field: "ErrorDetail.leader_id"),
            leaderAddress: try decodeString(c.leader_address, field: "ErrorDetail.leader_address"),
            retryAfterMs: c.retry_after_ms,
            currentVersion: try c.current_version.map { try KeyVersion(c: $0.pointee) },
            limit: try decodeString(c.limit, field: "ErrorDetail.limit"),
            oldestIndex: try decodeNumber(c.oldest_index, field: "ErrorDetail.oldest_index"))
    }

    func cMessage(in arena: CArena) throws -> Raftcache__ErrorDetail {
        var c = Self.emptyCMessage()
        c.leader_id = try arena.cString(leaderID, field: "ErrorDetail.leader_id")
        c.leader_address = try arena.cString(leaderAddress, field: "ErrorDetail.leader_address")
        c.retry_after_ms = retryAfterMs
        c.current_version = try currentVersion.map { try arena.message($0) }
        c.limit = try arena.cString(limit, field: "ErrorDetail.limit")
        c.oldest_index = oldestIndex
        return c
    }
}

extension KeyVersion: ProtobufCBacked {
    static func cInit(_ message: UnsafeMutablePointer<Raftcache__KeyVersion>) { raftcache__key_version__init(message) }

    init(c: Raftcache__KeyVersion) throws {
        self.init(
            createIndex: try decodeNumber(c.create_index, field: "KeyVersion.create_index"),
            modIndex: try decodeNumber(c.mod_index, field: "KeyVersion.mod_index"))
    }

    func cMessage(in arena: CArena) throws -> Raftcache__KeyVersion {
        var c = Self.emptyCMessage()
        c.create_index = createIndex
        c.mod_index = modIndex
        return c
    }
}
