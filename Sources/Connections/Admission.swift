import Glibc
import RaftWire
import Synchronization

/// How much client work a node holds at once before it refuses more (503 / UNAVAILABLE with
/// a retry time): writes received and not yet answered, by number and by bytes (HTTP bodies
/// from their head on, binary calls' payloads); entries in the log not yet applied; and
/// answers not yet taken by their readers. On the leader the first two are the proposals in
/// flight; a follower holds the writes it forwards, so it keeps to the same bounds.
public struct AdmissionLimits: Sendable, Equatable {
    public var maxWritesInFlight: Int
    public var maxBytesInFlight: Int
    public var maxApplyBacklog: Int
    public var maxAnswerBytes: Int

    public init(
        maxWritesInFlight: Int = Self.machine.maxWritesInFlight, maxBytesInFlight: Int = Self.machine.maxBytes,
        maxApplyBacklog: Int = 5_000, maxAnswerBytes: Int = Self.machine.maxBytes
    ) {
        self.maxWritesInFlight = maxWritesInFlight
        self.maxBytesInFlight = maxBytesInFlight
        self.maxApplyBacklog = maxApplyBacklog
        self.maxAnswerBytes = maxAnswerBytes
    }

    /// Defaults from this machine: 1/256 of its memory for the bytes of requests, and again for
    /// answers (8 to 64 MiB each: every byte a write holds costs a few more while it is copied,
    /// encoded and sent to followers), and 2,048 writes per core.
    public static let machine: (maxWritesInFlight: Int, maxBytes: Int) = {
        let pages = Int(max(0, sysconf(Int32(_SC_PHYS_PAGES)))), pageSize = Int(max(0, sysconf(Int32(_SC_PAGESIZE))))
        let memory = pages.multipliedReportingOverflow(by: pageSize)
        let bytes = memory.overflow || memory.partialValue == 0 ? 64 << 20 : min(max(memory.partialValue / 256, 8 << 20), 64 << 20)
        let cores = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        return (2_048 * cores, bytes)
    }()
}

/// The node's count of client work held (AdmissionLimits), shared by every connection of both
/// protocols: a request takes its share before its body is read or its call served and gives
/// it back once answered; an answer holds its bytes until its reader has taken them.
/// Atomics only on the way in; a refusal also takes one short lock (its count by limit).
public final class AdmissionGate: Sendable {
    public let limits: AdmissionLimits
    private let writes = Atomic<Int>(0)
    private let bytes = Atomic<Int>(0)
    private let answerBytes = Atomic<Int>(0)
    /// Entries in the log not yet applied, and command bytes of the entries not yet in a
    /// snapshot, as the node last saw (it publishes them each Ready).
    private let backlog = Atomic<Int>(0)
    private let logBytes = Atomic<Int>(0)
    /// The log may hold this many bytes not in a snapshot, 4 times --snapshot-mib: past it a
    /// snapshot cannot keep up (writes would grow the log, and the values the snapshot being
    /// written keeps, without end).
    public let maxLogBytes: Int

    /// How long a refused client is told to wait, at least and at most. Between them the
    /// advice follows the load (`adjustAdvice`): a crowd that keeps coming back is told to
    /// wait longer, so refusing it does not take the time the admitted writes need.
    public static let minRetryAfterMs = 100
    public static let maxRetryAfterMs = 5_000
    private let adviceMs = Atomic<Int>(AdmissionGate.minRetryAfterMs)
    /// Refusals since the node started, by the flag of the limit (for /metrics).
    private let refusalCounts = Mutex<[String: UInt64]>([:])
    private let refusals = Atomic<Int>(0)
    private let admittedWrites = Atomic<Int>(0)

    public init(limits: AdmissionLimits = AdmissionLimits(), maxLogBytes: Int = .max) {
        self.limits = limits
        self.maxLogBytes = maxLogBytes
    }

    /// What is held now.
    public var held: (writes: Int, bytes: Int, answerBytes: Int) {
        (writes.load(ordering: .relaxed), bytes.load(ordering: .relaxed), answerBytes.load(ordering: .relaxed))
    }

    /// Takes room for a request of `byteCount` bytes, or says which bound refuses it. A write
    /// also takes one of the writes; a read needs room for its answer. A request alone in an
    /// empty node is always admitted (a body too large is for --max-value-size to refuse).
    public func admit(bytes byteCount: Int, isWrite: Bool) -> RPCError? {
        if isWrite {
            let backlog = backlog.load(ordering: .relaxed)
            if backlog > limits.maxApplyBacklog {
                return overloaded("\(backlog) log entries are not yet applied, past the bound of \(limits.maxApplyBacklog)", flag: "max-apply-backlog")
            }
            let log = logBytes.load(ordering: .relaxed)
            if log > maxLogBytes {
                return overloaded(
                    "the log holds \(log) bytes of entries not yet in a snapshot, past 4 times the snapshot interval; a snapshot is being written",
                    flag: "snapshot-mib")
            }
            let count = writes.wrappingAdd(1, ordering: .relaxed).newValue
            if count > limits.maxWritesInFlight {
                writes.wrappingSubtract(1, ordering: .relaxed)
                return overloaded("\(count - 1) writes are in flight, the bound", flag: "max-writes-in-flight")
            }
        } else {
            let unread = answerBytes.load(ordering: .relaxed)
            if unread > limits.maxAnswerBytes {
                return overloaded(
                    "\(unread) bytes of answers wait for their readers, past the bound of \(limits.maxAnswerBytes)", flag: "max-answer-bytes")
            }
        }
        if let refusal = take(bytes: byteCount) {
            if isWrite { writes.wrappingSubtract(1, ordering: .relaxed) }
            return refusal
        }
        if isWrite { admittedWrites.wrappingAdd(1, ordering: .relaxed) }
        return nil
    }

    /// Takes `byteCount` more bytes for a request already admitted (a chunked body growing).
    public func take(bytes byteCount: Int) -> RPCError? {
        guard byteCount > 0, let held = Self.add(byteCount, to: bytes, within: limits.maxBytesInFlight) else { return nil }
        return overloaded(
            "\(held) bytes of requests are held, and \(byteCount) more would pass the bound of \(limits.maxBytesInFlight)",
            flag: "max-bytes-in-flight")
    }

    /// Adds `count` to `counter` unless the sum passes `limit` (an empty counter takes any
    /// count); when it refuses, what the counter holds.
    private static func add(_ count: Int, to counter: borrowing Atomic<Int>, within limit: Int) -> Int? {
        let total = counter.wrappingAdd(count, ordering: .relaxed).newValue
        guard total > limit, total != count else { return nil }
        counter.wrappingSubtract(count, ordering: .relaxed)
        return total - count
    }

    /// Gives back what an answered (or abandoned) request held.
    public func release(bytes byteCount: Int, isWrite: Bool) {
        if byteCount > 0 { bytes.wrappingSubtract(byteCount, ordering: .relaxed) }
        if isWrite { writes.wrappingSubtract(1, ordering: .relaxed) }
    }

    /// An answer of `byteCount` bytes waits to be sent. A read's (`isRead`) only if the answers
    /// already waiting leave room for it (or none wait: one always goes), else the refusal to
    /// send instead, whose bytes the caller queues: reads admitted together each found room
    /// before any of their answers was ready. Any other answer is always queued.
    @discardableResult
    public func answerQueued(bytes byteCount: Int, isRead: Bool = false) -> RPCError? {
        guard isRead else {
            answerBytes.wrappingAdd(byteCount, ordering: .relaxed)
            return nil
        }
        guard let waiting = Self.add(byteCount, to: answerBytes, within: limits.maxAnswerBytes) else { return nil }
        return overloaded(
            "\(waiting) bytes of answers wait for their readers, and \(byteCount) more would pass the bound of \(limits.maxAnswerBytes)",
            flag: "max-answer-bytes")
    }

    /// The answer was sent, or its connection closed.
    public func answerSent(bytes byteCount: Int) {
        answerBytes.wrappingSubtract(byteCount, ordering: .relaxed)
    }

    /// Moves the retry advice toward the wait that brings refused clients back about as often
    /// as writes are admitted: each waiting client needs roughly (clients waiting / writes
    /// admitted a second) seconds, and the clients waiting are about the refusals over the
    /// advice's time. Called by the node every tick; the square root damps the swing.
    public func adjustAdvice() {
        let refused = refusals.exchange(0, ordering: .relaxed), admitted = admittedWrites.exchange(0, ordering: .relaxed)
        let advice = adviceMs.load(ordering: .relaxed)
        let next = refused == 0
            ? advice / 2
            : Int(Double(advice) * (Double(refused) / Double(max(admitted, 1))).squareRoot())
        adviceMs.store(min(max(next, Self.minRetryAfterMs), Self.maxRetryAfterMs), ordering: .relaxed)
    }

    /// The node's log holds `backlog` entries not yet applied, and `logBytes` bytes of entries
    /// not yet in a snapshot.
    public func publish(backlog entries: UInt64, logBytes bytes: Int) {
        backlog.store(Int(min(entries, UInt64(Int.max))), ordering: .relaxed)
        logBytes.store(bytes, ordering: .relaxed)
    }

    /// Refusals since the node started, by the flag of the limit that refused them.
    public var refusalsByLimit: [String: UInt64] { refusalCounts.withLock { $0 } }

    private func overloaded(_ why: String, flag: String) -> RPCError {
        // The advice follows the writers; readers waiting for room for answers do not raise it.
        if flag != "max-answer-bytes" { refusals.wrappingAdd(1, ordering: .relaxed) }
        refusalCounts.withLock { $0[flag, default: 0] &+= 1 }
        // Spread over half to one and a half times the advice, so the crowd does not return at once.
        let advice = adviceMs.load(ordering: .relaxed)
        let wait = UInt32(advice / 2 + Int.random(in: 0...advice))
        return RPCError(
            .unavailable, "overloaded: \(why) (--\(flag)); try again in \(wait) ms",
            detail: ErrorDetail(retryAfterMs: wait, limit: flag))
    }
}
