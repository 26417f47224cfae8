import RaftWire
import Testing

/// Decoding `bytes` as every message type: each either throws WireError or gives a value.
private func decodeAsEveryType(_ bytes: [UInt8]) {
    for type in emptyMessages.map({ type(of: $0) }) {
        do {
            _ = try type.init(wireBytes: bytes)
        } catch {
            #expect(error is WireError)
        }
    }
}

@Suite("Malformed input")
struct MalformedInputTests {
    @Test("a varint cut short")
    func truncatedVarint() {
        // Field 1 (term), varint, continuation bit set on the last byte.
        #expect(throws: WireError.malformed(message: "raftcache.AppendEntriesRequest")) {
            try AppendEntriesRequest(wireBytes: [0x08, 0x80, 0x80])
        }
    }

    @Test("a write's two conditions together, or a mod index condition at or past 2^63, are refused")
    func conditions() throws {
        // SetRequest: key "k" (0a 01 6b), if_mod_index 3 (18 03), if_absent (20 01).
        #expect(throws: WireError.malformed(message: "SetRequest: if_mod_index and if_absent may not both be set")) {
            try SetRequest(wireBytes: [0x0A, 0x01, 0x6B, 0x18, 0x03, 0x20, 0x01])
        }
        #expect(try SetRequest(wireBytes: [0x0A, 0x01, 0x6B, 0x20, 0x01]).condition == .absent)
        var tooLarge = SetRequest(key: [0x6B], condition: .modIndex(1 << 63))
        #expect(throws: WireError.numberOutOfRange(field: "SetRequest.if_mod_index", value: 1 << 63)) {
            try SetRequest(wireBytes: try tooLarge.wireBytes())
        }
        tooLarge.condition = .modIndex(7)
        #expect(try SetRequest(wireBytes: try tooLarge.wireBytes()) == tooLarge)
    }

    @Test("a length past the end of the message")
    func lengthPastEnd() {
        // Field 2 (leader_id), length 10, only 3 bytes follow.
        #expect(throws: WireError.malformed(message: "raftcache.AppendEntriesRequest")) {
            try AppendEntriesRequest(wireBytes: [0x12, 0x0A, 0x61, 0x62, 0x63])
        }
    }

    @Test("a nested entry whose length is past the end")
    func nestedLengthPastEnd() {
        #expect(throws: WireError.self) {
            try AppendEntriesRequest(wireBytes: [0x2A, 0x05, 0x08, 0x01, 0x22, 0x10, 0x00])
        }
    }

    @Test("a wrong wire type for a known field")
    func wrongWireType() {
        // Field 1 (term, a varint) sent as length-delimited.
        #expect(throws: WireError.self) {
            try RequestVoteRequest(wireBytes: [0x0A, 0x01, 0x05])
        }
        // Field 5 (entries, a message) sent as a varint.
        #expect(throws: WireError.self) {
            try AppendEntriesRequest(wireBytes: [0x28, 0x01])
        }
    }

    @Test("a string that is not UTF-8")
    func invalidUTF8() {
        #expect(throws: WireError.invalidUTF8(field: "Envelope.method")) {
            try Envelope(wireBytes: [0x1A, 0x02, 0xC3, 0x28])
        }
    }

    @Test("an enum number this version does not know")
    func unknownEnum() throws {
        #expect(throws: WireError.unknownEnumValue(type: "EntryType", value: 9)) {
            try Entry(wireBytes: [0x18, 0x09])
        }
        // Status codes are open: any number is carried.
        #expect(try Envelope(wireBytes: [0x28, 0x63]).status == StatusCode(rawValue: 99))
    }

    @Test("unknown fields are skipped, as protobuf requires")
    func unknownFields() throws {
        // Field 15 varint, then field 1 (term) = 3.
        #expect(try TimeoutNowResponse(wireBytes: [0x78, 0x01, 0x08, 0x03]) == TimeoutNowResponse(term: 3))
    }

    @Test("a NUL inside a string is refused on encode")
    func nulInString() {
        #expect(throws: WireError.nulInString(field: "Server.id")) {
            try Server(id: "a\u{0}b").wireBytes()
        }
    }

    @Test("every prefix of every vector either decodes or throws")
    func prefixes() throws {
        for vector in vectors {
            let payload = try vector.expectedEnvelope().payload
            for length in 0..<payload.count {
                decodeAsEveryType(Array(payload.prefix(length)))
            }
        }
    }

    @Test("random bytes never crash a decoder")
    func randomBytes() {
        var rng = SplitMix64(seed: 0x5EED)
        for round in 0..<3_000 {
            decodeAsEveryType(RaftWireTests.randomBytes(round % 64, using: &rng))
        }
    }

    @Test("flipped bytes in valid messages never crash a decoder")
    func mutations() throws {
        var rng = SplitMix64(seed: 42)
        let originals = try maximalMessages.prefix(10).map { try $0.wireBytes() }.filter { $0.count < 10_000 }
        for _ in 0..<2_000 {
            var bytes = try #require(originals.randomElement(using: &rng))
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
            decodeAsEveryType(bytes)
        }
    }

    @Test("a string with a NUL is refused, not read up to the NUL")
    func nulInReceivedString() {
        // RemoveServerRequest.id = "node-2\0x": protobuf-c alone would read "node-2".
        #expect(throws: WireError.nulInString(field: "raftcache.RemoveServerRequest.id")) {
            try RemoveServerRequest(wireBytes: [0x0A, 0x08] + Array("node-2".utf8) + [0x00, 0x78])
        }
        // Nested: a Server in a Configuration.
        #expect(throws: WireError.nulInString(field: "raftcache.Server.id")) {
            try Configuration(wireBytes: [0x0A, 0x04, 0x0A, 0x02, 0x61, 0x00])
        }
        #expect(throws: WireError.nulInString(field: "raftcache.Envelope.method")) {
            try Envelope(wireBytes: [0x1A, 0x02, 0x2F, 0x00])
        }
        // NUL in bytes fields is data.
        #expect(throws: Never.self) { try SetRequest(wireBytes: [0x0A, 0x01, 0x00, 0x12, 0x01, 0x00]) }
    }
}
