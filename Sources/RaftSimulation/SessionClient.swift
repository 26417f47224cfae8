import CacheStore
import RaftCore
import RaftWire

/// A client of the simulated cluster that increments one counter through a client session,
/// as a real client retries: it proposes an increment (tagged with its sequence number) to
/// whoever leads, and proposes it again, with the same number, every `retryEvery` until an
/// entry of it is applied somewhere; only then does it go on to the next. Leader changes,
/// crashes and partitions make the same increment reach the log several times. Every replica
/// must apply each sequence once: the first entry of sequence s sets the counter to s (the
/// client goes on only after s applied), every later one is answered as the first was or
/// refused as already acknowledged, never applied again.
struct SessionClient {
    static let key = Array("session-counter".utf8)
    static let retryEvery: UInt64 = 300

    /// The session the client uses: the first one an entry opened.
    private(set) var session: UInt64?
    private var opening = false
    /// The increment being sent, and when it was last proposed (simulated milliseconds).
    private(set) var sequence: UInt64 = 1
    private var proposedAt: UInt64?
    private(set) var proposals = 0
    private(set) var repeatsAnswered = 0

    /// The next command to propose at `now`, if one is due.
    mutating func due(now: UInt64) -> [UInt8]? {
        guard let session else {
            guard !opening || (proposedAt.map { now >= $0 + Self.retryEvery } ?? true) else { return nil }
            opening = true
            proposedAt = now
            return try? Command(op: .openSession, nowMs: now).wireBytes()
        }
        if let proposedAt, now < proposedAt + Self.retryEvery { return nil }
        proposedAt = now
        proposals += 1
        let tag = SessionTag(id: session, sequence: sequence, ackedBelow: sequence)
        return try? Command(op: .incr, key: Self.key, by: 1, nowMs: now, session: tag).wireBytes()
    }

    /// Checks what a replica's applying of `entry` did; the violation, if any.
    mutating func observe(_ entry: Entry, outcome: CacheStore.Outcome) -> String? {
        guard entry.type == .command, let command = try? Command(wireBytes: entry.data) else { return nil }
        if command.op == .openSession, session == nil, case .sessionOpened(let id) = outcome {
            session = id
            proposedAt = nil
            return nil
        }
        guard let tag = command.session, tag.id == session, command.key == Self.key else { return nil }
        switch outcome {
        case .incremented(let value):
            guard value == Int64(tag.sequence) else {
                return "session increment \(tag.sequence) applied at \(entry.index) left the counter at \(value): applied twice or lost"
            }
        case .repeated(_, .incremented(let value)):
            guard value == Int64(tag.sequence) else { return "a repeat of increment \(tag.sequence) answered \(value)" }
            repeatsAnswered += 1
        case .sessionRefused(.alreadyAcknowledged):
            guard tag.sequence < sequence else { return "increment \(tag.sequence) refused as acknowledged before the client went past it" }
        default:
            return "session increment \(tag.sequence) at \(entry.index) came out \(outcome)"
        }
        if tag.sequence == sequence {
            sequence += 1
            proposedAt = nil
        }
        return nil
    }
}
