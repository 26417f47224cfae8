import Foundation

/// Seconds since the Unix epoch, as a capture stores them.
struct Timestamp: Sendable, Comparable {
    let seconds: Double

    static func now() -> Timestamp { Timestamp(seconds: Date().timeIntervalSince1970) }

    static func < (lhs: Timestamp, rhs: Timestamp) -> Bool { lhs.seconds < rhs.seconds }

    /// UTC time of day with microseconds, e.g. `13:25:22.123456`.
    var timeOfDay: String {
        let micros = Int64((seconds * 1_000_000).rounded())
        let day = Int64(86_400) * 1_000_000
        let ofDay = ((micros % day) + day) % day
        let secondsOfDay = ofDay / 1_000_000
        func two(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let fraction = String(ofDay % 1_000_000)
        return "\(two(secondsOfDay / 3600)):\(two(secondsOfDay / 60 % 60)):\(two(secondsOfDay % 60))."
            + String(repeating: "0", count: 6 - fraction.count) + fraction
    }
}
