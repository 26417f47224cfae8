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

/// A sink that encodes what it is sent through the message's shared encodings, counting in
/// `count` the encodings made.
private final class EncodingSink: WatchSink {
    final class Count { var made = 0 }
    let count: Count
    var encodings: [String] = []
    var hasRoom: Bool { true }

    init(_ count: Count) { self.count = count }

    func send(_ message: WatchMessage) -> Bool {
        encodings.append(message.encoded(as: "test") { () -> String in
            count.made += 1
            return message.changes.map { String(decoding: $0.key, as: UTF8.self) + (message.keysOnly ? "" : "=\($0.value.bytes)") }
                .joined(separator: ",")
        })
        return true
    }

    func end(_ error: RPCError?) {}
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

    @Test("watchers sent the same changes share one encoding of them; other changes or keys only are encoded apart")
    func sharedEncodings() throws {
        let store = CacheStore(), hub = WatchHub(limits: WatchHistoryLimits(), appliedIndex: 0)
        let count = EncodingSink.Count()
        let ofKey = (0..<3).map { _ in EncodingSink(count) }, ofPrefix = EncodingSink(count), keysOnly = EncodingSink(count)
        for sink in ofKey { _ = try hub.add(WatchRequest(key: Array("a".utf8)), sink: sink, now: 0) }
        _ = try hub.add(WatchRequest(prefix: Array("a".utf8)), sink: ofPrefix, now: 0)
        _ = try hub.add(WatchRequest(key: Array("a".utf8), keysOnly: true), sink: keysOnly, now: 0)
        count.made = 0
        try set("a", store: store, hub: hub)
        // Three watchers of the key and one of its prefix get the same message; keys only, its own.
        #expect(count.made == 2)
        #expect((ofKey + [ofPrefix]).allSatisfy { $0.encodings.last == "a=[1]" })
        #expect(keysOnly.encodings.last == "a")
        count.made = 0
        try set("ab", store: store, hub: hub)
        #expect(count.made == 1 && ofPrefix.encodings.last == "ab=[1]" && ofKey.allSatisfy { $0.encodings.last == "a=[1]" })
    }

    @Test("an encoding of optional type is made once too, and a nil one is kept as nil")
    func optionalEncodings() {
        let encodings = WatchEncodings()
        var made = 0
        for _ in 0..<2 {
            #expect(encodings.encoded(as: "bytes") { () -> [UInt8]? in made += 1; return [7] } == [7])
            #expect(encodings.encoded(as: "failed") { () -> [UInt8]? in made += 1; return nil } == nil)
        }
        #expect(made == 2)
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
