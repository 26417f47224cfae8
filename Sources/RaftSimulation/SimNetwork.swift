import RaftCore
import RaftWire

/// A network that loses, delays, duplicates and reorders messages, and can be cut
/// between any two servers in one or both directions.
struct SimNetwork {
    struct InFlight {
        var deliverAt: UInt64
        var order: UInt64
        var message: Message
    }

    var dropRate = 0.0
    var duplicateRate = 0.0
    var maxDelay: UInt64 = 10
    /// Directed links that deliver nothing.
    var cut: Set<Link> = []
    private(set) var inFlight: [InFlight] = []
    private var sent: UInt64 = 0

    struct Link: Hashable {
        var from: NodeID
        var to: NodeID
    }

    mutating func send(_ message: Message, now: UInt64, rng: inout SplitMix64) {
        guard !cut.contains(Link(from: message.from, to: message.to)) else { return }
        guard Double.random(in: 0..<1, using: &rng) >= dropRate else { return }
        let copies = Double.random(in: 0..<1, using: &rng) < duplicateRate ? 2 : 1
        for _ in 0..<copies {
            sent += 1
            // Random delays reorder messages; now and then one is late by an election timeout
            // or several, so it arrives after terms, leaders or restarts have changed.
            var delay = UInt64.random(in: 1...maxDelay, using: &rng)
            switch Int.random(in: 0..<1_000, using: &rng) {
            case 0..<10: delay += maxDelay * 10
            case 10..<13: delay += UInt64.random(in: maxDelay * 30...maxDelay * 200, using: &rng)
            default: break
            }
            inFlight.append(InFlight(deliverAt: now + delay, order: sent, message: message))
        }
    }

    /// The messages due by `now`, in delivery order; a cut made after sending still stops them.
    mutating func deliverable(now: UInt64) -> [Message] {
        let due = inFlight.filter { $0.deliverAt <= now }.sorted { ($0.deliverAt, $0.order) < ($1.deliverAt, $1.order) }
        inFlight.removeAll { $0.deliverAt <= now }
        return due.filter { !cut.contains(Link(from: $0.message.from, to: $0.message.to)) }.map(\.message)
    }

    mutating func heal() {
        cut = []
    }
}
