import RaftProtoC

// The transaction and batch messages of kv.proto mapped to and from their protoc-c structs.

extension Compare: ProtobufCBacked {
    static func cInit(_ message: UnsafeMutablePointer<Raftcache__Compare>) { raftcache__compare__init(message) }

    init(c: Raftcache__Compare) throws {
        self.init(
            key: decodeBytes(c.key), target: try decodeEnum(c.target.rawValue), result: try decodeEnum(c.result.rawValue),
            value: decodeBytes(c.value), modIndex: try decodeNumber(c.mod_index, field: "Compare.mod_index"))
    }

    func cMessage(in arena: CArena) throws -> Raftcache__Compare {
        var c = Self.emptyCMessage()
        c.key = arena.binary(key)
        c.target = Raftcache__CompareTarget(rawValue: target.rawValue)
        c.result = Raftcache__CompareResult(rawValue: result.rawValue)
        c.value = arena.binary(value)
        c.mod_index = modIndex
        return c
    }
}

extension KeyOp: ProtobufCBacked {
    static func cInit(_ message: UnsafeMutablePointer<Raftcache__KeyOp>) { raftcache__key_op__init(message) }

    init(c: Raftcache__KeyOp) throws {
        self.init(
            type: try decodeEnum(c.type.rawValue), key: decodeBytes(c.key), value: decodeBytes(c.value),
            ttlMs: try decodeNumber(c.ttl_ms, field: "KeyOp.ttl_ms"))
    }

    func cMessage(in arena: CArena) throws -> Raftcache__KeyOp {
        var c = Self.emptyCMessage()
        c.type = Raftcache__KeyOpType(rawValue: type.rawValue)
        c.key = arena.binary(key)
        c.value = arena.binary(value)
        c.ttl_ms = ttlMs
        return c
    }
}

extension KeyOpResult: ProtobufCBacked {
    static func cInit(_ message: UnsafeMutablePointer<Raftcache__KeyOpResult>) { raftcache__key_op_result__init(message) }

    init(c: Raftcache__KeyOpResult) throws {
        self.init(
            found: c.found != 0, value: decodeBytes(c.value),
            createIndex: try decodeNumber(c.create_index, field: "KeyOpResult.create_index"),
            modIndex: try decodeNumber(c.mod_index, field: "KeyOpResult.mod_index"),
            ttlMs: try decodeNumber(c.ttl_ms, field: "KeyOpResult.ttl_ms"))
    }

    func cMessage(in arena: CArena) throws -> Raftcache__KeyOpResult {
        var c = Self.emptyCMessage()
        c.found = found.cBoolean
        c.value = arena.binary(value)
        c.create_index = createIndex
        c.mod_index = modIndex
        c.ttl_ms = ttlMs
        return c
    }
}

extension TxnRequest: ProtobufCBacked {
    static func cInit(_ message: UnsafeMutablePointer<Raftcache__TxnRequest>) { raftcache__txn_request__init(message) }

    init(c: Raftcache__TxnRequest) throws {
        self.init(
            compares: try decodeRepeated(c.n_compares, c.compares), success: try decodeRepeated(c.n_success, c.success),
            failure: try decodeRepeated(c.n_failure, c.failure))
    }

    func cMessage(in arena: CArena) throws -> Raftcache__TxnRequest {
        var c = Self.emptyCMessage()
        (c.n_compares, c.compares) = try arena.repeated(compares)
        (c.n_success, c.success) = try arena.repeated(success)
        (c.n_failure, c.failure) = try arena.repeated(failure)
        return c
    }
}

extension TxnResponse: ProtobufCBacked {
    static func cInit(_ message: UnsafeMutablePointer<Raftcache__TxnResponse>) { raftcache__txn_response__init(message) }

    init(c: Raftcache__TxnResponse) throws {
        self.init(succeeded: c.succeeded != 0, results: try decodeRepeated(c.n_results, c.results), index: c.index)
    }

    func cMessage(in arena: CArena) throws -> Raftcache__TxnResponse {
        var c = Self.emptyCMessage()
        c.succeeded = succeeded.cBoolean
        (c.n_results, c.results) = try arena.repeated(results)
        c.index = index
        return c
    }
}

extension BatchRequest: ProtobufCBacked {
    static func cInit(_ message: UnsafeMutablePointer<Raftcache__BatchRequest>) { raftcache__batch_request__init(message) }

    init(c: Raftcache__BatchRequest) throws {
        self.init(ops: try decodeRepeated(c.n_ops, c.ops), consistency: try decodeEnum(c.consistency.rawValue))
    }

    func cMessage(in arena: CArena) throws -> Raftcache__BatchRequest {
        var c = Self.emptyCMessage()
        (c.n_ops, c.ops) = try arena.repeated(ops)
        c.consistency = Raftcache__Consistency(rawValue: consistency.rawValue)
        return c
    }
}

extension BatchResponse: ProtobufCBacked {
    static func cInit(_ message: UnsafeMutablePointer<Raftcache__BatchResponse>) { raftcache__batch_response__init(message) }

    init(c: Raftcache__BatchResponse) throws {
        self.init(results: try decodeRepeated(c.n_results, c.results), index: c.index)
    }

    func cMessage(in arena: CArena) throws -> Raftcache__BatchResponse {
        var c = Self.emptyCMessage()
        (c.n_results, c.results) = try arena.repeated(results)
        c.index = index
        return c
    }
}

extension SetTTLRequest: ProtobufCBacked {
    static func cInit(_ message: UnsafeMutablePointer<Raftcache__SetTTLRequest>) { raftcache__set_ttlrequest__init(message) }

    init(c: Raftcache__SetTTLRequest) throws {
        self.init(key: decodeBytes(c.key), ttlMs: try decodeNumber(c.ttl_ms, field: "SetTTLRequest.ttl_ms"))
    }

    func cMessage(in arena: CArena) throws -> Raftcache__SetTTLRequest {
        var c = Self.emptyCMessage()
        c.key = arena.binary(key)
        c.ttl_ms = ttlMs
        return c
    }
}

extension SetTTLResponse: ProtobufCBacked {
    static func cInit(_ message: UnsafeMutablePointer<Raftcache__SetTTLResponse>) { raftcache__set_ttlresponse__init(message) }

    init(c: Raftcache__SetTTLResponse) throws {
        self.init(index: c.index)
    }

    func cMessage(in arena: CArena) throws -> Raftcache__SetTTLResponse {
        var c = Self.emptyCMessage()
        c.index = index
        return c
    }
}
