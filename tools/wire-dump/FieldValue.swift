/// One decoded field of a message, kept structured so the same decoding feeds both the
/// compact text line and the JSON object.
struct Field: Sendable {
    let name: String
    let value: FieldValue
    /// Shown in text even at its default value (outcomes like `success=false`).
    var always = false

    init(_ name: String, _ value: FieldValue, always: Bool = false) {
        self.name = name
        self.value = value
        self.always = always
    }
}

indirect enum FieldValue: Sendable {
    case number(UInt64)
    /// Milliseconds and other measures: three decimals.
    case real(Double)
    case bool(Bool)
    case text(String)
    case bytes([UInt8])
    case list([FieldValue])
    case object([Field])
    /// A value too big to print whole: a short text for the line, the full structure for JSON.
    case summary(text: String, json: FieldValue)

    /// Whether this is a proto3 default, which the text form leaves out.
    var isDefault: Bool {
        switch self {
        case .number(let number): number == 0
        case .real(let real): real == 0
        case .bool(let flag): !flag
        case .text(let text): text.isEmpty
        case .bytes(let bytes): bytes.isEmpty
        case .list(let items): items.isEmpty
        case .object, .summary: false
        }
    }
}
