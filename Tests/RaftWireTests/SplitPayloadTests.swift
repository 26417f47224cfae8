@testable import RaftWire
import Testing

@Suite("Encodings in parts, one of them shared")
struct SplitPayloadTests {
    @Test("an AppendEntries' fields around its entries, and its entries between: the request's own bytes", arguments: [0, 1, 300, 1 << 20])
    func appendEntries(valueSize: Int) throws {
        let entries = [
            Entry(term: 4, index: 11, data: (0..<valueSize).map { UInt8(truncatingIfNeeded: $0 &* 7) }),
            Entry(term: 4, index: 12, type: .noop),
            Entry(term: 5, index: 13, data: [1, 2, 3]),
        ]
        let request = AppendEntriesRequest(
            term: 5, leaderID: "node-1", prevLogIndex: 10, prevLogTerm: 4, entries: entries, leaderCommit: 9, seq: 77, targetID: "node-3")
        var shared: [UInt8] = []
        try AppendEntriesRequest.packEntries(entries) { size, pack in
            shared = [UInt8](unsafeUninitializedCapacity: size) { buffer, count in count = pack(UnsafeMutableRawBufferPointer(buffer)) }
        }
        let (before, after) = try request.wireBytesAroundEntries()
        #expect(before + shared + after == (try request.wireBytes()))
        #expect(!before.isEmpty && !after.isEmpty)
    }

    @Test(
        "an Envelope packed around a payload that goes on: the envelope's own bytes",
        arguments: [(0, false), (1, false), (127, true), (128, false), (70_000, true)])
    func envelope(moreLength: Int, inSession: Bool) throws {
        let head: [UInt8] = [9, 8, 7]
        let more = (0..<moreLength).map { UInt8(truncatingIfNeeded: $0) }
        // Every field set: one the parts left out or wrote twice would show in the bytes.
        let envelope = Envelope(
            callID: 42, kind: .response, method: "/raftcache.Raft/AppendEntries", timeoutMs: 3_000, status: .unavailable,
            message: "m", payload: head, hops: 1, authToken: "t", more: true,
            session: inSession ? SessionTag(id: 5, sequence: 6, ackedBelow: 2) : nil)
        var packed: [UInt8] = []
        var announced = 0
        let after = try envelope.pack(payloadGoingOnFor: more.count) { size, headSize, pack in
            announced = size
            packed = [UInt8](unsafeUninitializedCapacity: headSize) { buffer, count in count = pack(UnsafeMutableRawBufferPointer(buffer)) }
            #expect(packed.count == headSize)
        }
        var whole = envelope
        whole.payload = head + more
        #expect(packed + more + after == (try whole.wireBytes()))
        #expect(announced == packed.count + more.count + after.count)
    }
}
