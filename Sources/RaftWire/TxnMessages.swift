// The transaction and batch messages of Protos/kv.proto. Field meanings are documented there.

public enum CompareTarget: UInt32, Sendable, CaseIterable {
    case exists = 0
    case value = 1
    case modIndex = 2
}

public enum CompareResult: UInt32, Sendable, CaseIterable {
    case equal = 0
    case notEqual = 1
    case less = 2
    case greater = 3

    /// Whether `ordering` (the key's side against the given side) is this result.
    public func holds(_ ordering: Ordering) -> Bool {
        switch self {
        case .equal: ordering == .same
        case .notEqual: ordering != .same
        case .less: ordering == .less
        case .greater: ordering == .greater
        }
    }

    public enum Ordering: Sendable { case less, same, greater }
}

/// One condition of a transaction on one key.
public struct Compare: Sendable, Equatable {
    public var key: [UInt8]
    public var target: CompareTarget
    public var result: CompareResult
    public var value: [UInt8]
    public var modIndex: UInt64

    public init(key: [UInt8] = [], target: CompareTarget = .exists, result: CompareResult = .equal, value: [UInt8] = [], modIndex: UInt64 = 0) {
        self.key = key
        self.target = target
        self.result = result
        self.value = value
        self.modIndex = modIndex
    }
}

public enum KeyOpType: UInt32, Sendable, CaseIterable {
    case get = 0
    case set = 1
    case delete = 2
}

/// One operation of a transaction or a batch.
public struct KeyOp: Sendable, Equatable {
    public var type: KeyOpType
    public var key: [UInt8]
    public var value: [UInt8]
    public var ttlMs: UInt64

    public init(type: KeyOpType = .get, key: [UInt8] = [], value: [UInt8] = [], ttlMs: UInt64 = 0) {
        self.type = type
        self.key = key
        self.value = value
        self.ttlMs = ttlMs
    }
}

/// What one operation found (GET) or did (SET, DELETE).
public struct KeyOpResult: Sendable, Equatable {
    public var found: Bool
    public var value: [UInt8]
    public var createIndex: UInt64
    public var modIndex: UInt64
    public var ttlMs: UInt64

    public init(found: Bool = false, value: [UInt8] = [], createIndex: UInt64 = 0, modIndex: UInt64 = 0, ttlMs: UInt64 = 0) {
        self.found = found
        self.value = value
        self.createIndex = createIndex
        self.modIndex = modIndex
        self.ttlMs = ttlMs
    }
}

public struct TxnRequest: Sendable, Equatable {
    public var compares: [Compare]
    public var success: [KeyOp]
    public var failure: [KeyOp]

    public init(compares: [Compare] = [], success: [KeyOp] = [], failure: [KeyOp] = []) {
        self.compares = compares
        self.success = success
        self.failure = failure
    }
}

public struct TxnResponse: Sendable, Equatable {
    public var succeeded: Bool
    public var results: [KeyOpResult]
    public var index: UInt64

    public init(succeeded: Bool = false, results: [KeyOpResult] = [], index: UInt64 = 0) {
        self.succeeded = succeeded
        self.results = results
        self.index = index
    }
}

public struct BatchRequest: Sendable, Equatable {
    public var ops: [KeyOp]
    public var consistency: Consistency

    public init(ops: [KeyOp] = [], consistency: Consistency = .linearizable) {
        self.ops = ops
        self.consistency = consistency
    }
}

public struct BatchResponse: Sendable, Equatable {
    public var results: [KeyOpResult]
    public var index: UInt64

    public init(results: [KeyOpResult] = [], index: UInt64 = 0) {
        self.results = results
        self.index = index
    }
}

public struct SetTTLRequest: Sendable, Equatable {
    public var key: [UInt8]
    /// 0: the key no longer expires.
    public var ttlMs: UInt64

    public init(key: [UInt8] = [], ttlMs: UInt64 = 0) {
        self.key = key
        self.ttlMs = ttlMs
    }
}

public struct SetTTLResponse: Sendable, Equatable {
    public var index: UInt64

    public init(index: UInt64 = 0) {
        self.index = index
    }
}
