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
            more: c.more != 0,
            session: c.session_id == 0 ? nil : SessionTag(
                id: try decodeNumber(c.session_id, field: "Envelope.session_id"),
                sequence: try decodeNumber(c.sequence, field: "Envelope.sequence"),
                ackedBelow: try decodeNumber(c.acked_below, field: "Envelope.acked_below")))
    }

    func cMessage(in arena: CArena) throws -> Raftcache__Envelope {
        var c = try cMessageLeavingPayloadOut(in: arena)
        c.payload = arena.binary(payload)
        return c
    }

    /// Packs this envelope where the caller chooses (a frame's buffer), without a copy in
    /// between: `write` is told the packed size and given `pack`, which packs into memory of at
    /// least that size and returns the bytes written; `pack` is valid only during `write`.
    public func pack(_ write: (_ size: Int, _ pack: (UnsafeMutableRawBufferPointer) -> Int) throws -> Void) throws {
        try packWithProtobufC(write)
    }

    /// A large payload lent rather than copied: every call's and answer's bytes pass here.
    func withCMessage<R>(in arena: CArena, _ body: (inout Raftcache__Envelope) throws -> R) throws -> R {
        var c = try cMessageLeavingPayloadOut(in: arena)
        return try withCBinaries(count: 1, { _ in payload }, in: arena, set: { c.payload = $1 }) { try body(&c) }
    }

    private func cMessageLeavingPayloadOut(in arena: CArena) throws -> Raftcache__Envelope {
        var c = Self.emptyCMessage()
        c.call_id = callID
        c.kind = Raftcache__FrameKind(rawValue: kind.rawValue)
        c.method = try arena.cString(method, field: "Envelope.method")
        c.timeout_ms = timeoutMs
        c.status = Raftcache__StatusCode(rawValue: status.rawValue)
        c.message = try arena.cString(message, field: "Envelope.message")
        c.hops = hops
        c.auth_token = try arena.cString(authToken, field: "Envelope.auth_token")
        c.more = more.cBoolean
        if let session {
            c.session_id = session.id
            c.sequence = session.sequence
            c.acked_below = session.ackedBelow
        }
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
            oldestIndex: try decodeNumber(c.oldest_index, field: "ErrorDetail.oldest_index"),
            session: try decodeString(c.session, field: "ErrorDetail.session"))
    }

    func cMessage(in arena: CArena) throws -> Raftcache__ErrorDetail {
        var c = Self.emptyCMessage()
        c.leader_id = try arena.cString(leaderID, field: "ErrorDetail.leader_id")
        c.leader_address = try arena.cString(leaderAddress, field: "ErrorDetail.leader_address")
        c.retry_after_ms = retryAfterMs
        c.current_version = try currentVersion.map { try arena.message($0) }
        c.limit = try arena.cString(limit, field: "ErrorDetail.limit")
        c.oldest_index = oldestIndex
        c.session = try arena.cString(session, field: "ErrorDetail.session")
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
