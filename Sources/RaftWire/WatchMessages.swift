// The watch messages of Protos/kv.proto. Field meanings are documented there.

public struct WatchRequest: Sendable, Equatable {
    public var key: [UInt8]
    public var prefix: [UInt8]
    public var since: UInt64
    public var keysOnly: Bool

    public init(key: [UInt8] = [], prefix: [UInt8] = [], since: UInt64 = 0, keysOnly: Bool = false) {
        self.key = key
        self.prefix = prefix
        self.since = since
        self.keysOnly = keysOnly
    }
}

public enum WatchEventKind: UInt32, Sendable, CaseIterable {
    case set = 0
    case delete = 1
    case expire = 2
    case evict = 3
}

extension WatchEventKind: NamedWireEnum {
    public var name: String {
        switch self {
        case .set: "set"
        case .delete: "delete"
        case .expire: "expire"
        case .evict: "evict"
        }
    }
}

public struct WatchEvent: Sendable, Equatable {
    public var kind: WatchEventKind
    public var key: [UInt8]
    public var value: [UInt8]
    public var modIndex: UInt64

    public init(kind: WatchEventKind = .set, key: [UInt8] = [], value: [UInt8] = [], modIndex: UInt64 = 0) {
        self.kind = kind
        self.key = key
        self.value = value
        self.modIndex = modIndex
    }
}

public struct WatchResponse: Sendable, Equatable {
    public var index: UInt64
    /// Empty: a progress note.
    public var events: [WatchEvent]

    public init(index: UInt64 = 0, events: [WatchEvent] = []) {
        self.index = index
        self.events = events
    }
}
