import NIOCore

/// Go's duration syntax, as the original program's --timeout took it: "500ms", "3s",
/// "1m30s", "1.5h", "250us"; units ns, us (or µs), ms, s, m, h.
public enum GoDuration {
    private static let units: [(String, Double)] = [("ns", 1), ("us", 1e3), ("µs", 1e3), ("ms", 1e6), ("s", 1e9), ("m", 60e9), ("h", 3_600e9)]

    public static func parse(_ text: String) -> TimeAmount? {
        var rest = Substring(text)
        var total = 0.0
        guard !rest.isEmpty else { return nil }
        if rest == "0" { return .zero }
        while !rest.isEmpty {
            let number = rest.prefix { $0.isNumber || $0 == "." }
            guard !number.isEmpty, let value = Double(number) else { return nil }
            rest = rest.dropFirst(number.count)
            let unit = rest.prefix { !$0.isNumber && $0 != "." }
            guard let scale = Self.units.first(where: { $0.0 == unit })?.1 else { return nil }
            rest = rest.dropFirst(unit.count)
            total += value * scale
        }
        // Double(Int64.max) rounds up to 2^63, which Int64 cannot hold: stay below it.
        guard total < 9.2e18 else { return nil }
        return .nanoseconds(Int64(total))
    }
}
