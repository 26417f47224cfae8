@testable import RaftCacheClient
import RaftWire
import Testing

@Suite("Swift client")
struct RaftCacheClientTests {
    @Test("a session numbers writes from 1 and acknowledges every answer below the oldest still waiting")
    func sessionNumbers() async throws {
        let session = SessionState()
        let opened = Counter()
        let first = try await session.begin { await opened.next(7) }
        let second = try await session.begin { await opened.next(8) }
        #expect(first == SessionTag(id: 7, sequence: 1, ackedBelow: 1))
        #expect(second == SessionTag(id: 7, sequence: 2, ackedBelow: 1))
        await session.finished(first)
        let third = try await session.begin { await opened.next(9) }
        #expect(third == SessionTag(id: 7, sequence: 3, ackedBelow: 2))
        #expect(await opened.calls == 1)
        // The cluster ended it: the next write opens a new session and numbers from 1 again.
        await session.expired(third)
        let fresh = try await session.begin { await opened.next(12) }
        #expect(fresh == SessionTag(id: 12, sequence: 1, ackedBelow: 1))
        // An answer of the old session changes nothing in the new one.
        await session.finished(second)
        #expect(try await session.begin { 0 } == SessionTag(id: 12, sequence: 2, ackedBelow: 1))
    }

    @Test("writes opened at once share one session")
    func oneOpening() async throws {
        let session = SessionState()
        let opened = Counter()
        let tags = try await withThrowingTaskGroup(of: SessionTag.self) { group in
            for _ in 0..<20 {
                group.addTask {
                    try await session.begin {
                        try await Task.sleep(for: .milliseconds(20))
                        return await opened.next(5)
                    }
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(await opened.calls == 1)
        #expect(Set(tags.map(\.id)) == [5])
        #expect(Set(tags.map(\.sequence)) == Set(1...20))
    }

    @Test("only what is safe to send again is retried")
    func retryable() {
        let unavailable = RPCError(.unavailable, "no leader"), late = RPCError(.deadlineExceeded, "late")
        #expect(RaftCacheClient.retryable(unavailable, method: .set, inSession: false))
        #expect(RaftCacheClient.retryable(RPCError(.aborted, "lost in a leader change"), method: .incr, inSession: false))
        #expect(RaftCacheClient.retryable(late, method: .incr, inSession: true))
        #expect(RaftCacheClient.retryable(late, method: .get, inSession: false))
        // A lost answer of a write outside a session: it may have applied.
        #expect(!RaftCacheClient.retryable(late, method: .openSession, inSession: false))
        #expect(!RaftCacheClient.retryable(RPCError(.failedPrecondition, "condition"), method: .set, inSession: true))
        // A session full of unacknowledged answers refused the try (nothing applied): later.
        let full = RPCError(.failedPrecondition, "full", detail: ErrorDetail(session: "full"))
        #expect(RaftCacheClient.retryable(full, method: .set, inSession: true))
        #expect(!RaftCacheClient.retryable(RPCError(.failedPrecondition, "gone", detail: ErrorDetail(session: "expired")), method: .set, inSession: true))
        #expect(!RaftCacheClient.retryable(RPCError(.permissionDenied, "no"), method: .get, inSession: false))
    }

    @Test("durations become whole milliseconds, at least one")
    func milliseconds() {
        #expect(RaftCacheClient.milliseconds(.seconds(30)) == 30_000)
        #expect(RaftCacheClient.milliseconds(.microseconds(10)) == 1)
        #expect(RaftCacheClient.milliseconds(.milliseconds(1_500)) == 1_500)
    }
}

/// Counts session openings.
private actor Counter {
    private(set) var calls = 0
    func next(_ id: UInt64) -> UInt64 {
        calls += 1
        return id
    }
}
