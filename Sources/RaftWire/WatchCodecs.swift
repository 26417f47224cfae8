import RaftProtoC

// The watch messages of kv.proto mapped to and from their protoc-c structs.

extension WatchRequest: ProtobufCBacked {
    static func cInit(_ message: UnsafeMutablePointer<Raftcache__WatchRequest>) { raftcache__watch_request__init(message) }

    init(c: Raftcache__WatchRequest) throws {
        self.init(
            key: decodeBytes(c.key), prefix: decodeBytes(c.prefix), since: try decodeNumber(c.since, field: "WatchRequest.since"),
            keysOnly: c.keys_only != 0)
    }

    func cMessage(in arena: CArena) throws -> Raftcache__WatchRequest {
        var c = Self.emptyCMessage()
        c.key = arena.binary(key)
        c.prefix = arena.binary(prefix)
        c.since = since
        c.keys_only = keysOnly.cBoolean
        return c
    }
}

extension WatchEvent: ProtobufCBacked {
    static func cInit(_ message: UnsafeMutablePointer<Raftcache__WatchEvent>) { raftcache__watch_event__init(message) }

    init(c: Raftcache__WatchEvent) throws {
        self.init(
            kind: try decodeEnum(c.kind.rawValue), key: decodeBytes(c.key), value: decodeBytes(c.value),
            modIndex: try decodeNumber(c.mod_index, field: "WatchEvent.mod_index"))
    }

    func cMessage(in arena: CArena) throws -> Raftcache__WatchEvent {
        var c = Self.emptyCMessage()
        c.kind = Raftcache__WatchEventKind(rawValue: kind.rawValue)
        c.key = arena.binary(key)
        c.value = arena.binary(value)
        c.mod_index = modIndex
        return c
    }
}

extension WatchResponse: ProtobufCBacked {
    static func cInit(_ message: UnsafeMutablePointer<Raftcache__WatchResponse>) { raftcache__watch_response__init(message) }

    init(c: Raftcache__WatchResponse) throws {
        self.init(index: try decodeNumber(c.index, field: "WatchResponse.index"), events: try decodeRepeated(c.n_events, c.events))
    }

    func cMessage(in arena: CArena) throws -> Raftcache__WatchResponse {
        var c = Self.emptyCMessage()
        c.index = index
        (c.n_events, c.events) = try arena.repeated(events)
        return c
    }
}
