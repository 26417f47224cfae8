/// JSON text for decoded fields, written by hand: the output is one object per line and
/// the field order is the message's, which a dictionary encoder would not keep.
enum JSONRendering {
    static let maxBytesShown = 64

    static func object(_ fields: [Field]) -> String {
        "{" + fields.map { string($0.name) + ":" + value($0.value) }.joined(separator: ",") + "}"
    }

    static func value(_ value: FieldValue) -> String {
        switch value {
        case .number(let number): String(number)
        case .real(let real): Decimals.three(real)
        case .bool(let flag): String(flag)
        case .text(let text): string(text)
        case .bytes(let bytes): self.bytes(bytes)
        case .list(let items): "[" + items.map(self.value).joined(separator: ",") + "]"
        case .object(let fields): object(fields)
        case .summary(_, let json): self.value(json)
        }
    }

    /// Printable bytes as a string; other or long ones as their size and the first bytes in hex.
    static func bytes(_ bytes: [UInt8]) -> String {
        if bytes.count <= maxBytesShown, let text = TextRendering.printableText(bytes) {
            return string(text)
        }
        return object([
            Field("size", .number(UInt64(bytes.count))),
            Field("hex", .text(HexDump.hex(bytes.prefix(maxBytesShown)))),
        ])
    }

    static func string(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7f:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
