/// Hex for reports of bad bytes.
enum HexDump {
    static func hex(_ bytes: some Sequence<UInt8>, separator: String = "") -> String {
        bytes.map { byte in
            let digits = String(byte, radix: 16)
            return byte < 0x10 ? "0" + digits : digits
        }.joined(separator: separator)
    }

    /// Up to `limit` bytes as space-separated hex, noting how many more there were.
    static func excerpt(_ bytes: some Collection<UInt8>, limit: Int = 32) -> String {
        let shown = hex(bytes.prefix(limit), separator: " ")
        return bytes.count > limit ? shown + " …(+\(bytes.count - limit) bytes)" : shown
    }
}
