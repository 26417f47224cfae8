import RaftWire
import Testing

private func sampleFrames() throws -> [[UInt8]] {
    try vectors.map { try vectorBytes($0.name) }
}

@Suite("Frames")
struct FrameDecoderTests {
    @Test("a stream delivered one byte at a time")
    func byteByByte() throws {
        let frames = try sampleFrames()
        var decoder = FrameDecoder()
        var decoded: [Envelope] = []
        for byte in frames.joined() {
            decoder.append(CollectionOfOne(byte))
            while let envelope = try decoder.next() { decoded.append(envelope) }
        }
        #expect(decoded == (try vectors.map { try $0.expectedEnvelope() }))
        #expect(decoder.bufferedByteCount == 0)
    }

    @Test("many frames in one read, and reads that split frames anywhere")
    func randomSplits() throws {
        let stream = Array(try sampleFrames().joined())
        let expected = try vectors.map { try $0.expectedEnvelope() }
        var rng = SplitMix64(seed: 7)
        for _ in 0..<200 {
            var decoder = FrameDecoder()
            var decoded: [Envelope] = []
            var offset = 0
            while offset < stream.count {
                let end = min(stream.count, offset + Int.random(in: 1...300, using: &rng))
                decoder.append(stream[offset..<end])
                offset = end
                while let envelope = try decoder.next() { decoded.append(envelope) }
            }
            #expect(decoded == expected)
        }
    }

    @Test("an oversized length is refused from the header alone")
    func oversized() throws {
        var decoder = FrameDecoder(maxLength: 1024)
        decoder.append([0x00, 0x00, 0x04, 0x01])
        #expect(throws: WireError.frameTooLarge(length: 1025, limit: 1024)) { try decoder.next() }
        // The stream stays refused: the connection must be closed.
        decoder.append([0x00, 0x00, 0x00, 0x00])
        #expect(throws: WireError.frameTooLarge(length: 1025, limit: 1024)) { try decoder.next() }

        var largest = FrameDecoder()
        largest.append([0xFF, 0xFF, 0xFF, 0xFF])
        #expect(throws: WireError.frameTooLarge(length: 0xFFFF_FFFF, limit: Frame.defaultMaxLength)) {
            try largest.next()
        }
    }

    @Test("a frame of exactly the limit is accepted")
    func exactlyTheLimit() throws {
        let envelope = Envelope(callID: 5, payload: Array(repeating: 1, count: 100))
        let frame = try Frame.encode(envelope)
        var decoder = FrameDecoder(maxLength: frame.count - Frame.headerLength)
        decoder.append(frame)
        #expect(try decoder.next() == envelope)
        #expect(throws: WireError.frameTooLarge(length: frame.count - 4, limit: frame.count - 5)) {
            try Frame.encode(envelope, maxLength: frame.count - 5)
        }
    }

    @Test("a header without its body waits for more bytes")
    func partialBody() throws {
        var decoder = FrameDecoder()
        let frame = try vectorBytes("07-kv-set-request")
        decoder.append(frame.dropLast())
        #expect(try decoder.next() == nil)
        decoder.append(frame.suffix(1))
        #expect(try decoder.next()?.method == Method.set.rawValue)
    }

    @Test("a frame whose body is not an envelope is a typed error")
    func garbageBody() throws {
        var decoder = FrameDecoder()
        decoder.append([0x00, 0x00, 0x00, 0x02, 0x08, 0xFF])
        #expect(throws: WireError.malformed(message: "raftcache.Envelope")) { try decoder.next() }
        #expect(decoder.streamOffset == 6)
    }

    @Test("an empty frame is the empty envelope")
    func emptyFrame() throws {
        var decoder = FrameDecoder()
        decoder.append([0, 0, 0, 0])
        #expect(try decoder.next() == Envelope())
    }
}
