import Testing

@testable import wire_dump

@Suite("TCP reassembly")
struct TCPStreamTests {
    func segment(_ sequence: UInt32, _ payload: [UInt8], syn: Bool = false) -> TCPSegment {
        TCPSegment(
            source: "a", destination: "b", sourcePort: 1, destinationPort: 2, sequence: sequence,
            flags: syn ? 0x02 : 0x18, payload: payload[...], missingBytes: 0)
    }

    func delivered(_ outputs: [TCPStream.Output]) -> [UInt8] {
        outputs.flatMap { output -> [UInt8] in
            if case .bytes(let bytes) = output { return Array(bytes) }
            return []
        }
    }

    @Test("out of order, repeated and overlapping segments come out once, in order, across the wrap")
    func reorders() {
        var stream = TCPStream()
        let start = UInt32.max - 3
        var out = stream.add(segment(start, [], syn: true))
        // Byte n of the stream is n, so any misplaced byte shows.
        out += stream.add(segment(start &+ 5, [5, 6, 7]))
        out += stream.add(segment(start &+ 1, [1, 2, 3]))
        out += stream.add(segment(start &+ 1, [1, 2, 3]))
        out += stream.add(segment(start &+ 3, [3, 4, 5, 6]))
        out += stream.add(segment(start &+ 8, [8]))
        #expect(delivered(out) == [1, 2, 3, 4, 5, 6, 7, 8])
    }

    @Test("a segment the capture never saw is reported as a gap at the end")
    func gap() {
        var stream = TCPStream()
        var out = stream.add(segment(100, [1, 2]))
        out += stream.add(segment(110, [9]))
        out += stream.finish()
        #expect(delivered(out) == [1, 2, 9])
        #expect(out.contains { if case .gap(let missing) = $0 { return missing == 8 } else { return false } })
    }
}
