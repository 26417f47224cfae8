import RaftWire
import Synchronization

/// The replicated state machine: an in-memory map of keys to values, changed only by
/// applying committed log entries in order. Reads may come from any thread.
public final class CacheStore: Sendable {
    struct State {
        var values = ShardedMap()
        var appliedIndex: UInt64 = 0
    }

    let state = Mutex(State())

    public init() {}

    /// What applying one entry did.
    public enum Outcome: Equatable, Sendable {
        case set
        /// `existed`: the key was there before.
        case deleted(existed: Bool)
        /// A no-op or configuration entry: nothing in the map changes.
        case none
        /// The command's bytes do not decode; every replica skips it the same way.
        case malformed
        /// The command's condition did not hold: nothing changed. The key's version then
        /// (nil: it did not exist).
        case conditionFailed(current: KeyVersion?)
        /// An increment set the value to this number.
        case incremented(to: Int64)
        /// An increment changed nothing: the value is not a decimal 64-bit integer, or the sum
        /// would leave that range.
        case notIncremented(reason: String)
    }

    /// Applies the next committed entry. Entries must come in index order, each once.
    @discardableResult
    public func apply(_ entry: Entry) -> Outcome {
        let command: Command? = entry.type == .command ? try? Command(wireBytes: entry.data) : nil
        return state.withLock { state in
            precondition(entry.index == state.appliedIndex + 1, "applying \(entry.index) after \(state.appliedIndex)")
            state.appliedIndex = entry.index
            guard entry.type == .command else { return .none }
            guard let command else { return .malformed }
            if command.condition != .none {
                let current = state.values[command.key]?.version
                guard command.condition.holds(for: current) else { return .conditionFailed(current: current) }
            }
            switch command.op {
            case .set:
                state.values.updateValue(command.value, forKey: command.key, index: entry.index)
                return .set
            case .delete:
                return .deleted(existed: state.values.removeValue(forKey: command.key))
            case .incr:
                let current = state.values[command.key].map { value in value.withUnsafeBytes { Self.decimal($0) } } ?? 0
                guard let current else { return .notIncremented(reason: "the value is not a decimal 64-bit integer") }
                let (sum, overflow) = current.addingReportingOverflow(command.by)
                guard !overflow else { return .notIncremented(reason: "\(current) + \(command.by) is outside the 64-bit range") }
                state.values.updateValue(Array(String(sum).utf8), forKey: command.key, index: entry.index)
                return .incremented(to: sum)
            }
        }
    }

    /// `bytes` as a decimal 64-bit integer: an optional "-", then 1 to 19 digits; nil otherwise.
    static func decimal(_ bytes: UnsafeRawBufferPointer) -> Int64? {
        let digits = bytes.first == UInt8(ascii: "-") ? bytes.dropFirst() : bytes[...]
        guard (1...19).contains(digits.count), digits.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else {
            return nil
        }
        return Int64(String(decoding: bytes, as: UTF8.self))
    }

    /// The value of `key`, and the index the map had applied when it was read.
    public func get(_ key: [UInt8]) -> (value: StoredValue?, appliedIndex: UInt64) {
        state.withLock { ($0.values[key], $0.appliedIndex) }
    }

    public var appliedIndex: UInt64 { state.withLock { $0.appliedIndex } }
    public var count: Int { state.withLock { $0.values.count } }
    /// Bytes of keys and values held.
    public var byteCount: Int { state.withLock { $0.values.bytes } }

    /// What the map holds, at which index: replicas at the same index have the same digest.
    public var summary: (appliedIndex: UInt64, count: Int, bytes: Int, digest: UInt64) {
        state.withLock { ($0.appliedIndex, $0.values.count, $0.values.bytes, $0.values.digest) }
    }

    /// The encoding of a set command, as it goes into the log.
    public static func setCommand(key: [UInt8], value: [UInt8]) throws -> [UInt8] {
        try Command(op: .set, key: key, value: value).wireBytes()
    }

    public static func deleteCommand(key: [UInt8]) throws -> [UInt8] {
        try Command(op: .delete, key: key).wireBytes()
    }
}
