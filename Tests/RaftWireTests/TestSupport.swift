import Foundation
import RaftWire

/// Tests/Vectors, found from this file's path so tests run from any directory.
let vectorsDirectory = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Vectors")

/// The bytes of Tests/Vectors/NAME.hex: '#' starts a comment, white space is ignored.
func vectorBytes(_ name: String) throws -> [UInt8] {
    let text = try String(contentsOf: vectorsDirectory.appendingPathComponent(name + ".hex"), encoding: .utf8)
    var digits: [UInt8] = []
    for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
        let code = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        digits += code.utf8.filter { !$0.isASCIIWhitespace }
    }
    var bytes: [UInt8] = []
    var index = digits.startIndex
    while index < digits.endIndex {
        guard index + 1 < digits.endIndex, let high = hexValue(digits[index]), let low = hexValue(digits[index + 1])
        else { throw VectorFileError.badHex(name) }
        bytes.append(high << 4 | low)
        index += 2
    }
    return bytes
}

enum VectorFileError: Error { case badHex(String) }

private func hexValue(_ digit: UInt8) -> UInt8? {
    switch digit {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
    default: nil
    }
}

private extension UInt8 {
    var isASCIIWhitespace: Bool { self == 0x20 || self == 0x09 || self == 0x0D || self == 0x0A }
}

extension Array where Element == UInt8 {
    init(_ string: String) { self = Array(string.utf8) }
}

func randomBytes(_ count: Int, using rng: inout SplitMix64) -> [UInt8] {
    (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) }
}
