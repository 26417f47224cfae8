import RaftWire

/// Pairs each response with its request (same connection, same call id) so the response
/// can show its method and latency, and remembers which calls were heartbeats.
struct CallTracker: Sendable {
    struct Call: Sendable {
        let method: String
        let time: Timestamp?
        let isHeartbeat: Bool
    }

    private struct Key: Hashable {
        let connection: Int
        let callID: UInt64
    }

    /// Calls waiting for a response; a capture that misses the responses must not grow this forever.
    static let maxOpenCalls = 100_000
    private var open: [Key: Call] = [:]

    mutating func request(connection: Int, callID: UInt64, call: Call) {
        if open.count >= Self.maxOpenCalls { open.removeAll(keepingCapacity: true) }
        open[Key(connection: connection, callID: callID)] = call
    }

    /// The request this response answers, if it was seen; it is then no longer open, unless
    /// more responses follow (a stream).
    mutating func response(connection: Int, callID: UInt64, more: Bool = false) -> Call? {
        let key = Key(connection: connection, callID: callID)
        return more ? open[key] : open.removeValue(forKey: key)
    }

    /// The open call a cancel names, if it was seen.
    func call(connection: Int, callID: UInt64) -> Call? {
        open[Key(connection: connection, callID: callID)]
    }
}
