/// One direction of a TCP connection put back in order: retransmitted bytes are dropped,
/// early segments wait for the ones before them, and bytes the capture never saw end the
/// stream's decoding (reported as a gap).
struct TCPStream {
    enum Output {
        case bytes(ArraySlice<UInt8>)
        case gap(missing: Int)
    }

    /// Bytes held for segments that arrived early; past it the missing bytes are given up on.
    static let maxPendingBytes = 32 << 20

    private var nextSequence: UInt32?
    private var pending: [UInt32: ArraySlice<UInt8>] = [:]
    private var pendingBytes = 0

    mutating func add(_ segment: TCPSegment) -> [Output] {
        if segment.syn {
            nextSequence = segment.sequence &+ 1
            pending = [:]
            pendingBytes = 0
        }
        let start = segment.syn ? segment.sequence &+ 1 : segment.sequence
        guard !segment.payload.isEmpty else { return [] }
        let expected = nextSequence ?? start
        nextSequence = expected
        var out: [Output] = []
        if Self.distance(from: expected, to: start) > 0 {
            if let earlier = pending[start], earlier.count >= segment.payload.count { return [] }
            pendingBytes += segment.payload.count - (pending[start]?.count ?? 0)
            pending[start] = segment.payload
            if pendingBytes > Self.maxPendingBytes { out += skipToPending() }
        } else {
            deliver(segment.payload, at: start, into: &out)
        }
        drainPending(into: &out)
        if segment.missingBytes > 0 {
            out.append(.gap(missing: segment.missingBytes))
            nextSequence = nextSequence.map { $0 &+ UInt32(truncatingIfNeeded: segment.missingBytes) }
        }
        return out
    }

    /// At the end of the capture: bytes that never arrived before the ones still waiting.
    mutating func finish() -> [Output] {
        guard !pending.isEmpty else { return [] }
        var out = skipToPending()
        drainPending(into: &out)
        pending = [:]
        return out
    }

    /// Gives up on the missing bytes before the earliest waiting segment.
    private mutating func skipToPending() -> [Output] {
        guard let expected = nextSequence,
              let earliest = pending.keys.min(by: { Self.distance(from: expected, to: $0) < Self.distance(from: expected, to: $1) })
        else { return [] }
        nextSequence = earliest
        return [.gap(missing: Int(Self.distance(from: expected, to: earliest)))]
    }

    private mutating func drainPending(into out: inout [Output]) {
        var progressed = true
        while progressed, !pending.isEmpty, let expected = nextSequence {
            progressed = false
            for (start, payload) in pending where Self.distance(from: expected, to: start) <= 0 {
                pending[start] = nil
                pendingBytes -= payload.count
                deliver(payload, at: start, into: &out)
                progressed = true
                break
            }
        }
    }

    /// Delivers the part of `payload` past what was already delivered.
    private mutating func deliver(_ payload: ArraySlice<UInt8>, at start: UInt32, into out: inout [Output]) {
        guard let expected = nextSequence else { return }
        let overlap = -Int(Self.distance(from: expected, to: start))
        guard overlap < payload.count else { return }
        let fresh = payload.dropFirst(overlap)
        out.append(.bytes(fresh))
        nextSequence = expected &+ UInt32(fresh.count)
    }

    /// Signed sequence distance, correct across the 2^32 wrap.
    static func distance(from: UInt32, to: UInt32) -> Int32 {
        Int32(bitPattern: to &- from)
    }
}
