// Encodings in parts, for bytes that several frames share: a leader encodes a batch of entries
// once and sends the same bytes to every follower between a few bytes of its own for each.
// The parts, one after the other, are byte for byte the whole message's encoding (fields in
// field-number order, as Protos/README.md requires).

extension AppendEntriesRequest {
    /// This request's fields before its entries (1-4) and after them (6-8), encoded; with the
    /// entries' (`packEntries`) between them, the encoding of the whole request.
    public func wireBytesAroundEntries() throws -> (before: [UInt8], after: [UInt8]) {
        let before = AppendEntriesRequest(term: term, leaderID: leaderID, prevLogIndex: prevLogIndex, prevLogTerm: prevLogTerm)
        let after = AppendEntriesRequest(leaderCommit: leaderCommit, seq: seq, targetID: targetID)
        return (try before.wireBytes(), try after.wireBytes())
    }

    /// The `entries` field of a request holding `entries`, packed where the caller chooses:
    /// `write` is told the size and given `pack` (as `Envelope.pack`).
    public static func packEntries(
        _ entries: [Entry], _ write: (_ size: Int, _ pack: (UnsafeMutableRawBufferPointer) -> Int) throws -> Void
    ) throws {
        // Every other field at its default, which proto3 leaves out.
        try AppendEntriesRequest(entries: entries).packWithProtobufC(write)
    }
}

extension Envelope {
    /// The key of the `payload` field (7, length-delimited).
    static let payloadFieldKey: UInt8 = 7 << 3 | 2

    /// Packs this envelope for a payload that goes on, past `payload`, for `moreLength` bytes
    /// the caller writes itself. `write` is told the size of the whole envelope and of the part
    /// before those bytes, and given `pack` for that part: the fields before the payload, the
    /// payload's key and whole length, and `payload`. Returns the fields after the payload,
    /// which go after the caller's bytes.
    public func pack(
        payloadGoingOnFor moreLength: Int,
        _ write: (_ size: Int, _ headSize: Int, _ pack: (UnsafeMutableRawBufferPointer) -> Int) throws -> Void
    ) throws -> [UInt8] {
        let before = Envelope(callID: callID, kind: kind, method: method, timeoutMs: timeoutMs, status: status, message: message)
        let after = try Envelope(hops: hops, authToken: authToken, more: more, session: session).wireBytes()
        var key: [UInt8] = [Self.payloadFieldKey]
        appendVarint(UInt64(payload.count + moreLength), to: &key)
        let payload = payload
        try before.packWithProtobufC { beforeSize, packBefore in
            let headSize = beforeSize + key.count + payload.count
            try withoutActuallyEscaping(packBefore) { packBefore in
                try write(headSize + moreLength + after.count, headSize) { buffer in
                    var written = packBefore(buffer)
                    for bytes in [key, payload] {
                        bytes.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: buffer[written...]).copyMemory(from: $0) }
                        written += bytes.count
                    }
                    return written
                }
            }
        }
        return after
    }
}

func appendVarint(_ value: UInt64, to bytes: inout [UInt8]) {
    var value = value
    while value >= 0x80 {
        bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
        value >>= 7
    }
    bytes.append(UInt8(value))
}
