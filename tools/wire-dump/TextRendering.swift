/// The compact one-line form of decoded fields: `name=value`, defaults left out.
enum TextRendering {
    static let maxBytesShown = 48

    static func fields(_ fields: [Field]) -> String {
        fields.filter { $0.always || !$0.value.isDefault }
            .map { "\($0.name)=\(value($0.value))" }
            .joined(separator: " ")
    }

    static func value(_ value: FieldValue) -> String {
        switch value {
        case .number(let number): String(number)
        case .real(let real): Decimals.three(real)
        case .bool(let flag): String(flag)
        case .text(let text): quotedIfNeeded(text)
        case .bytes(let bytes): self.bytes(bytes)
        case .list(let items): "[" + items.map(self.value).joined(separator: ", ") + "]"
        case .object(let fields): "{" + self.fields(fields) + "}"
        case .summary(let text, _): text
        }
    }

    /// Printable bytes as a quoted string, others as hex; long ones cut with their size.
    static func bytes(_ bytes: [UInt8]) -> String {
        let shown = bytes.prefix(maxBytesShown)
        let more = bytes.count > maxBytesShown ? "…(\(bytes.count) bytes)" : ""
        if let text = printableText(shown) {
            return quoted(text) + more
        }
        return "0x" + HexDump.hex(shown) + more
    }

    static func printableText(_ bytes: some Collection<UInt8>) -> String? {
        guard bytes.allSatisfy({ $0 >= 0x20 && $0 != 0x7f || $0 >= 0x80 }) else { return nil }
        guard let text = String(validating: Array(bytes), as: UTF8.self) else { return nil }
        return text
    }

    static func quotedIfNeeded(_ text: String) -> String {
        let plain = !text.isEmpty && text.unicodeScalars.allSatisfy { $0.value > 0x20 && $0 != "\"" && $0 != "\\" && $0.value != 0x7f }
        return plain ? text : quoted(text)
    }

    static func quoted(_ text: String) -> String {
        JSONRendering.string(text)
    }
}
