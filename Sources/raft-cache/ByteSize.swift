/// A size in bytes as flags take it: a number, with an optional binary unit (KiB, MiB, GiB, TiB).
enum ByteSize {
    static func parse(_ text: String) -> UInt64? {
        let units: [(String, UInt64)] = [("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30), ("TiB", 1 << 40), ("B", 1), ("", 1)]
        for (unit, scale) in units where text.hasSuffix(unit) {
            guard let number = UInt64(text.dropLast(unit.count)) else { continue }
            let (bytes, overflow) = number.multipliedReportingOverflow(by: scale)
            return overflow ? nil : bytes
        }
        return nil
    }

    /// `bytes` as `parse` reads it back: in the largest unit that divides it.
    static func describe(_ bytes: Int) -> String {
        for (unit, scale) in [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] where bytes >= scale && bytes % scale == 0 {
            return "\(bytes / scale)\(unit)"
        }
        return "\(bytes)"
    }
}
