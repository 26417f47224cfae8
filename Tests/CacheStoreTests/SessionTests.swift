import CacheStore
import RaftWire
import Testing

private func key(_ text: String) -> [UInt8] { Array(text.utf8) }

/// A session's write at `sequence`, the client holding every answer below `ackedBelow`.
private func tagged(_ command: Command, session: UInt64, sequence: UInt64, ackedBelow: UInt64 = 0) -> Command {
    var command = command
    command.session = SessionTag(id: session, sequence: sequence, ackedBelow: ackedBelow)
    return command
}

@Suite("Client sessions")
struct SessionTests {
    private func opened(_ feed: CommandFeed, now: UInt64 = 1_000) throws -> UInt64 {
        guard case .sessionOpened(let id) = try feed.apply(Command(op: .openSession, nowMs: now)) else {
            Issue.record("no session opened")
            return 0
        }
        #expect(id == feed.index)
        return id
    }

    @Test("a retried write is applied once and answered with its first answer; every other write applies")
    func appliedOnce() throws {
        let feed = CommandFeed()
        let session = try opened(feed)
        let increment = Command(op: .incr, key: key("n"), by: 5, nowMs: 1_000)
        #expect(try feed.apply(tagged(increment, session: session, sequence: 1)) == .incremented(to: 5))
        let firstIndex = feed.index
        // The retry, committed as an entry of its own (its first try had committed too).
        #expect(try feed.apply(tagged(increment, session: session, sequence: 1)) == .repeated(index: firstIndex, outcome: .incremented(to: 5)))
        #expect(feed.value("n") == "5")
        #expect(try feed.apply(tagged(increment, session: session, sequence: 2)) == .incremented(to: 10))
        // Without a session nothing is remembered: a resent increment applies again.
        #expect(try feed.apply(increment) == .incremented(to: 15))
        #expect(try feed.apply(increment) == .incremented(to: 20))
        // A refusal (a condition) is an answer too: repeated as it was, even after the key changed.
        let guarded = Command(op: .set, key: key("n"), value: key("x"), condition: .modIndex(1), nowMs: 1_000)
        let refused = try feed.apply(tagged(guarded, session: session, sequence: 3))
        guard case .conditionFailed = refused else { throw Failure("a condition that does not hold: \(refused)") }
        try feed.apply(Command(op: .set, key: key("n"), value: key("y"), nowMs: 1_000))
        #expect(try feed.apply(tagged(guarded, session: session, sequence: 3)) == .repeated(index: feed.index - 2, outcome: refused))
    }

    @Test("answers the client acknowledged are forgotten, and a late duplicate of one is refused, not applied")
    func acknowledged() throws {
        let feed = CommandFeed()
        let session = try opened(feed)
        let increment = Command(op: .incr, key: key("n"), by: 1, nowMs: 1_000)
        #expect(try feed.apply(tagged(increment, session: session, sequence: 1)) == .incremented(to: 1))
        #expect(try feed.apply(tagged(increment, session: session, sequence: 2, ackedBelow: 2)) == .incremented(to: 2))
        #expect(try feed.apply(tagged(increment, session: session, sequence: 1)) == .sessionRefused(.alreadyAcknowledged))
        #expect(try feed.apply(tagged(increment, session: session, sequence: 0)) == .sessionRefused(.alreadyAcknowledged))
        #expect(feed.value("n") == "2")
    }

    @Test("a session's unacknowledged answers are bounded: past the bound its writes are refused until it acknowledges")
    func bounded() throws {
        let feed = CommandFeed()
        let session = try opened(feed)
        let write = Command(op: .set, key: key("k"), value: key("v"), nowMs: 1_000)
        for sequence in 1...UInt64(4_096) {
            #expect(try feed.apply(tagged(write, session: session, sequence: sequence)) == .set)
        }
        #expect(try feed.apply(tagged(write, session: session, sequence: 4_097)) == .sessionRefused(.tooManyUnacknowledged))
        #expect(try feed.apply(tagged(write, session: session, sequence: 4_097, ackedBelow: 4_000)) == .set)
    }

    @Test("a cluster keeps at most 100,000 sessions: opening more is refused until some end")
    func boundedSessions() throws {
        let feed = CommandFeed()
        for _ in 0..<ClientSessionLimits.maxSessions {
            _ = try opened(feed)
        }
        #expect(try feed.apply(Command(op: .openSession, nowMs: 1_000)) == .sessionRefused(.tooManySessions))
        #expect(feed.store.sessionCount == ClientSessionLimits.maxSessions)
        #expect(try feed.apply(Command(op: .expireSessions, nowMs: 9_000, ttlMs: 1_000, sessionIDs: [1, 2])) == .removed(count: 2))
        #expect(try feed.apply(Command(op: .openSession, nowMs: 9_000)) == .sessionOpened(id: feed.index))
    }

    @Test("the leader's expiry ends a session only if it is still idle by the entry's clock; its writes are then refused")
    func expiry() throws {
        let feed = CommandFeed()
        let session = try opened(feed, now: 1_000)
        let other = try opened(feed, now: 1_000)
        let write = Command(op: .set, key: key("k"), value: key("v"), nowMs: 5_000)
        #expect(try feed.apply(tagged(write, session: session, sequence: 1)) == .set)
        // Chosen as idle for 3 s at 4,000; but it wrote at 5,000, so only the other one ends.
        #expect(try feed.apply(Command(op: .expireSessions, nowMs: 6_000, ttlMs: 3_000, sessionIDs: [session, other, 999])) == .removed(count: 1))
        #expect(try feed.apply(tagged(write, session: other, sequence: 1)) == .sessionRefused(.unknownSession))
        #expect(try feed.apply(Command(op: .expireSessions, nowMs: 8_000, ttlMs: 3_000, sessionIDs: [session])) == .removed(count: 1))
        #expect(try feed.apply(tagged(write, session: session, sequence: 2)) == .sessionRefused(.unknownSession))
        #expect(try feed.apply(tagged(write, session: 12_345, sequence: 1)) == .sessionRefused(.unknownSession))
    }

    @Test("sessions and their answers travel in snapshots: a retry after a restore is answered as before")
    func snapshots() throws {
        let feed = CommandFeed()
        let session = try opened(feed)
        try feed.apply(Command(op: .set, key: key("v"), value: key("not a number"), nowMs: 1_000))
        var answers: [(Command, CacheStore.Outcome, UInt64)] = []
        let txn = TxnRequest(
            compares: [Compare(key: key("v"), target: .exists, result: .equal)],
            success: [KeyOp(type: .get, key: key("v")), KeyOp(type: .set, key: key("w"), value: key("1"), ttlMs: 60_000)])
        let commands = [
            Command(op: .incr, key: key("v"), by: 1, nowMs: 1_000),
            Command(op: .txn, nowMs: 1_000, txn: txn),
            Command(op: .delete, key: key("gone"), nowMs: 1_000),
            Command(op: .set, key: key("w"), value: key("2"), condition: .modIndex(1), nowMs: 1_000),
            Command(op: .setTTL, key: key("w"), nowMs: 1_000, ttlMs: 5_000),
        ]
        for (offset, command) in commands.enumerated() {
            let tagged = tagged(command, session: session, sequence: UInt64(offset + 1))
            answers.append((tagged, try feed.apply(tagged), feed.index))
        }
        var bytes: [UInt8] = []
        #expect(try feed.store.writeSnapshot(chunkSize: 64) { bytes += $0 } == feed.index)
        let restored = CacheStore()
        try restored.restoreSnapshot(size: UInt64(bytes.count)) { offset, count in Array(bytes[Int(offset)..<min(bytes.count, Int(offset) + count)]) }
        #expect(restored.summary.digest == feed.store.summary.digest)
        var index = restored.appliedIndex
        for (command, outcome, at) in answers {
            index += 1
            #expect(restored.apply(Entry(term: 1, index: index, type: .command, data: try command.wireBytes())) == .repeated(index: at, outcome: outcome))
        }
    }
}

private struct Failure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
