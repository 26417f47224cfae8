import Foundation

enum Decimals {
    /// `0.520`: latencies in milliseconds, the same in text and JSON.
    static func three(_ value: Double) -> String {
        guard value.isFinite else { return "0" }
        return String(format: "%.3f", value)
    }
}
