import RaftWire

/// The replicated state machine of the simulation: a map of keys to values, with a running
/// hash of everything applied so two replicas can be compared at any index.
struct SimStateMachine: Equatable {
    var values: [String: String] = [:]
    var appliedIndex: UInt64 = 0
    var hash: UInt64 = 0

    /// Commands are "key=value".
    mutating func apply(_ entry: Entry) {
        precondition(entry.index == appliedIndex + 1, "applied \(entry.index) after \(appliedIndex)")
        appliedIndex = entry.index
        hash = Self.mix(hash, entry.term, entry.index, entry.data)
        guard entry.type == .command, let text = String(validating: entry.data, as: UTF8.self),
            let eq = text.firstIndex(of: "=")
        else { return }
        values[String(text[..<eq])] = String(text[text.index(after: eq)...])
    }

    static func mix(_ hash: UInt64, _ term: UInt64, _ index: UInt64, _ data: [UInt8]) -> UInt64 {
        var h = hash ^ 0xCBF2_9CE4_8422_2325
        for value in [term, index] + data.map(UInt64.init) {
            h = (h ^ value) &* 0x100_0000_01B3
        }
        return h
    }

    /// A snapshot: applied index, hash, then "key=value" lines sorted by key.
    func serialized() -> [UInt8] {
        var text = "\(appliedIndex) \(hash)\n"
        for key in values.keys.sorted() { text += "\(key)=\(values[key]!)\n" }
        return Array(text.utf8)
    }

    init() {}

    init(snapshot bytes: [UInt8]) {
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n")
        let header = lines[0].split(separator: " ")
        appliedIndex = UInt64(header[0])!
        hash = UInt64(header[1])!
        for line in lines.dropFirst() {
            let eq = line.firstIndex(of: "=")!
            values[String(line[..<eq])] = String(line[line.index(after: eq)...])
        }
    }
}
