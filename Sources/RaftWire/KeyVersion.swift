/// When a key was created and last changed: the indexes of the log entries that did it. The
/// same on every replica, since they apply the same entries.
public struct KeyVersion: Sendable, Hashable {
    /// The entry that set the key when it did not exist (a delete ends its life).
    public var createIndex: UInt64
    /// The entry that last set it.
    public var modIndex: UInt64

    public init(createIndex: UInt64, modIndex: UInt64) {
        self.createIndex = createIndex
        self.modIndex = modIndex
    }
}

/// A write's condition, checked when its entry is applied, the same way on every replica:
/// compare-and-set on the key's mod index, or create only.
public enum WriteCondition: Sendable, Equatable {
    case none
    /// The key exists and was last set by the entry at this index.
    case modIndex(UInt64)
    /// The key does not exist.
    case absent

    /// Whether a key whose version is `current` (nil: it does not exist) meets it.
    public func holds(for current: KeyVersion?) -> Bool {
        switch self {
        case .none: true
        case .modIndex(let index): current?.modIndex == index
        case .absent: current == nil
        }
    }

    /// From the wire's two fields (`if_mod_index`, `if_absent`): at most one may be set.
    init(ifModIndex: UInt64, ifAbsent: Bool, message: String) throws {
        switch (ifModIndex, ifAbsent) {
        case (0, false): self = .none
        case (0, true): self = .absent
        case (let index, false): self = .modIndex(try decodeNumber(index, field: "\(message).if_mod_index"))
        case (_, true): throw WireError.malformed(message: "\(message): if_mod_index and if_absent may not both be set")
        }
    }

    /// The wire's `if_mod_index`: 0 when there is no such condition.
    public var ifModIndex: UInt64 {
        if case .modIndex(let index) = self { index } else { 0 }
    }

    /// The wire's `if_absent`.
    public var ifAbsent: Bool { self == .absent }
}
