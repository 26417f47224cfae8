import CacheStore
@testable import RaftNode
import RaftWire
import Testing

/// A sink that keeps what it is sent, with room only when the test says so.
private final class RecordingSink: WatchSink {
    var messages: [(index: UInt64, keys: [String])] = []
    var hasRoom = true
    var ended: RPCError?

    func send(_ message: WatchMessage) -> Bool {
        messages.append((message.index, message.changes.map { String(decoding: $0.key, as: UTF8.self) }))
        return true
    }

    func end(_ error: RPCError?) { ended = error }
}

@Suite("Watch hub")
struct WatchHubTests {
    /// Applies a set of `key` at the next index to `store`, and hands its changes to `hub`.
    private func set(_ key: String, store: CacheStore, hub: WatchHub) throws {
        let index = store.appliedIndex + 1
        var changes: [Change] = []
        _ = store.apply(Entry(term: 1, index: index, type: .command, data: try Command(op: .set, key: Array(key.utf8), value: [1]).wireBytes()), changes: &changes)
        hub.applied(index: index, changes: changes, now: 0)
    }

    @Test("a watcher catching up sends each entry once: the one that completes its catch-up is not sent live again")
    func catchUpThenLive() throws {
        let store = CacheStore(), hub = WatchHub(limits: WatchHistoryLimits(), appliedIndex: 0)
        for key in ["a", "b", "c"] { try set(key, store: store, hub: hub) }
        let sink = RecordingSink()
        sink.hasRoom = false
        _ = try hub.add(WatchRequest(since: 1), sink: sink, now: 0)
        #expect(sink.messages.isEmpty)
        // Room comes back as the next entry is applied: the replay takes it in, in turn.
        sink.hasRoom = true
        try set("d", store: store, hub: hub)
        try set("e", store: store, hub: hub)
        let changes = sink.messages.filter { !$0.keys.isEmpty }
        #expect(changes.map(\.index) == [2, 3, 4, 5])
        #expect(changes.map(\.keys) == [["b"], ["c"], ["d"], ["e"]])
        // One progress note, where the replay ended, and never an index twice with changes.
        #expect(sink.messages.filter { $0.keys.isEmpty }.map(\.index) == [4])
        #expect(sink.ended == nil)
    }

    @Test("since older than the history holds is OUT_OF_RANGE naming the oldest index")
    func tooOld() throws {
        let store = CacheStore(), hub = WatchHub(limits: WatchHistoryLimits(entries: 2), appliedIndex: 0)
        for key in ["a", "b", "c", "d"] { try set(key, store: store, hub: hub) }
        #expect(throws: RPCError.self) { try hub.add(WatchRequest(since: 1), sink: RecordingSink(), now: 0) }
        do {
            _ = try hub.add(WatchRequest(since: 1), sink: RecordingSink(), now: 0)
        } catch let error as RPCError {
            #expect(error.status == .outOfRange && error.detail?.oldestIndex == 2)
        }
        let sink = RecordingSink()
        _ = try hub.add(WatchRequest(since: 2), sink: sink, now: 0)
        #expect(sink.messages.map(\.index) == [3, 4, 4])
    }
}
