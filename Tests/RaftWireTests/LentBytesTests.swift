import CProtobufC
@testable import RaftWire
import Testing

/// The encoding with every byte field copied into the arena, as before lending.
private func copiedEncoding<M: ProtobufCBacked>(_ message: M) throws -> [UInt8] {
    let arena = CArena()
    var c = try message.cMessage(in: arena)
    return withUnsafeMutablePointer(to: &c) { pointer in
        let base = UnsafeMutableRawPointer(pointer).assumingMemoryBound(to: ProtobufCMessage.self)
        let size = protobuf_c_message_get_packed_size(base)
        return [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
            count = size == 0 ? 0 : protobuf_c_message_pack(base, buffer.baseAddress)
        }
    }
}

/// Bytes that differ from field to field, so a field packed from the wrong storage shows.
private func bytes(_ count: Int, seed: Int) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ seed) }
}

@Suite("Large byte fields lent to protobuf-c")
struct LentBytesTests {
    @Test("an AppendEntries packs the same bytes whether its entries are lent or copied")
    func appendEntries() throws {
        // Large entries, more than are lent (the rest are copied), small ones between them, and
        // one of a megabyte.
        var entries = (0..<(maxLentFields + 6)).map { Entry(term: 3, index: UInt64($0 + 1), data: bytes(lendingThreshold + $0, seed: $0)) }
        entries.insert(Entry(term: 3, index: 0, type: .noop), at: 10)
        entries.insert(Entry(term: 3, index: 0, data: bytes(lendingThreshold - 1, seed: 7)), at: 20)
        entries.append(Entry(term: 3, index: 99, data: bytes(1 << 20, seed: 99)))
        let request = AppendEntriesRequest(term: 3, leaderID: "node-1", prevLogIndex: 5, prevLogTerm: 2, entries: entries, leaderCommit: 4, seq: 8, targetID: "node-2")
        let lent = try request.wireBytes()
        #expect(lent == (try copiedEncoding(request)))
        #expect(try AppendEntriesRequest(wireBytes: lent) == request)
    }

    @Test("an Envelope packs the same bytes whether its payload is lent or copied", arguments: [0, 1, lendingThreshold - 1, lendingThreshold, 1 << 20])
    func envelope(payloadSize: Int) throws {
        let envelope = Envelope(callID: 7, kind: .request, method: "raft.AppendEntries", timeoutMs: 1_000, payload: bytes(payloadSize, seed: 1))
        let lent = try envelope.wireBytes()
        #expect(lent == (try copiedEncoding(envelope)))
        #expect(try Envelope(wireBytes: lent) == envelope)
        // Packed where the caller says, as a frame's buffer is: the same bytes.
        var packed: [UInt8] = []
        try envelope.pack { size, pack in
            packed = [UInt8](unsafeUninitializedCapacity: size) { buffer, count in count = pack(UnsafeMutableRawBufferPointer(buffer)) }
        }
        #expect(packed == lent)
    }

    @Test("a Command packs the same bytes whether its value is lent or copied", arguments: [0, lendingThreshold - 1, lendingThreshold, 1 << 20])
    func command(valueSize: Int) throws {
        let command = Command(op: .set, key: bytes(40, seed: 2), value: bytes(valueSize, seed: 3), nowMs: 1_700_000_000_000, ttlMs: 60_000,
                              session: SessionTag(id: 5, sequence: 6, ackedBelow: 4))
        let lent = try command.wireBytes()
        #expect(lent == (try copiedEncoding(command)))
        #expect(try Command(wireBytes: lent) == command)
    }
}
