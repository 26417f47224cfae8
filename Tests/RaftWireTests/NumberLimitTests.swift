import RaftWire
import Testing

/// Protos/README.md, "Numbers": a term, index, offset or size at or above
/// 2^63 is refused when decoding, so nothing acting on a decoded message can overflow.
@Suite("Number limit")
struct NumberLimitTests {
    /// Each message with one of its numbers set to `value`, named by the field.
    static func messages(with value: UInt64) -> [(field: String, encode: () throws -> [UInt8], decode: ([UInt8]) throws -> Void)] {
        func entry<M: WireMessage>(_ field: String, _ message: M) -> (String, () throws -> [UInt8], ([UInt8]) throws -> Void) {
            (field, { try message.wireBytes() }, { _ = try M(wireBytes: $0) })
        }
        return [
            entry("Entry.term", Entry(term: value, index: 1)),
            entry("Entry.index", Entry(term: 1, index: value)),
            entry("RequestVoteRequest.term", RequestVoteRequest(term: value, candidateID: "n1")),
            entry("RequestVoteRequest.last_log_index", RequestVoteRequest(term: 1, candidateID: "n1", lastLogIndex: value)),
            entry("RequestVoteRequest.last_log_term", RequestVoteRequest(term: 1, candidateID: "n1", lastLogTerm: value)),
            entry("RequestVoteResponse.term", RequestVoteResponse(term: value)),
            entry("AppendEntriesRequest.prev_log_index", AppendEntriesRequest(term: 1, leaderID: "n1", prevLogIndex: value)),
            entry("AppendEntriesRequest.leader_commit", AppendEntriesRequest(term: 1, leaderID: "n1", leaderCommit: value)),
            entry("AppendEntriesRequest entry index",
                  AppendEntriesRequest(term: 1, leaderID: "n1", entries: [Entry(term: 1, index: value)])),
            entry("AppendEntriesResponse.match_index", AppendEntriesResponse(term: 1, matchIndex: value)),
            entry("AppendEntriesResponse.conflict_index", AppendEntriesResponse(term: 1, conflictIndex: value)),
            entry("InstallSnapshotRequest.offset", InstallSnapshotRequest(term: 1, leaderID: "n1", offset: value)),
            entry("InstallSnapshotRequest metadata size",
                  InstallSnapshotRequest(term: 1, leaderID: "n1", metadata: SnapshotMetadata(size: value))),
            entry("InstallSnapshotResponse.next_offset", InstallSnapshotResponse(term: 1, nextOffset: value)),
            entry("TimeoutNowRequest.term", TimeoutNowRequest(term: value, leaderID: "n1")),
            entry("ReadIndexResponse.read_index", ReadIndexResponse(term: 1, readIndex: value)),
            entry("MembershipResponse.index", MembershipResponse(index: value)),
        ]
    }

    @Test("2^63 and above are refused, naming the field")
    func refused() throws {
        for value in [wireNumberLimit, wireNumberLimit + 1, UInt64.max] {
            for message in Self.messages(with: value) {
                let bytes = try message.encode()
                do {
                    try message.decode(bytes)
                    Issue.record("\(message.field) = \(value) was accepted")
                } catch let error as WireError {
                    guard case .numberOutOfRange(_, let refused) = error else {
                        Issue.record("\(message.field): \(error)")
                        continue
                    }
                    #expect(refused == value, "\(message.field)")
                }
            }
        }
    }

    @Test("2^63 - 1 and below are accepted")
    func accepted() throws {
        for value in [0, 1, wireNumberLimit - 1] as [UInt64] {
            for message in Self.messages(with: value) {
                #expect(throws: Never.self, "\(message.field) = \(value)") { try message.decode(try message.encode()) }
            }
        }
    }

    @Test("sequence numbers are opaque: a leader's start at term << 32 may pass 2^63")
    func sequenceNumbers() throws {
        for seq in [wireNumberLimit, UInt64.max] {
            let request = AppendEntriesRequest(term: 1, leaderID: "n1", seq: seq)
            #expect(try AppendEntriesRequest(wireBytes: request.wireBytes()).seq == seq)
            let response = InstallSnapshotResponse(term: 1, seq: seq)
            #expect(try InstallSnapshotResponse(wireBytes: response.wireBytes()).seq == seq)
        }
    }

    @Test("the bytes of Protos/README.md's example")
    func readmeExample() throws {
        #expect(throws: WireError.numberOutOfRange(field: "AppendEntriesRequest.term", value: 1 << 63)) {
            try AppendEntriesRequest(wireBytes: [0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01])
        }
        let edge = try AppendEntriesRequest(wireBytes: [0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F])
        #expect(edge.term == wireNumberLimit - 1)
    }
}
