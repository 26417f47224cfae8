import Foundation

/// Tests/Vectors/NAME.hex as bytes: '#' starts a comment, white space is ignored.
enum VectorFiles {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Vectors")

    static var names: [String] {
        get throws {
            try FileManager.default.contentsOfDirectory(atPath: directory.path)
                .filter { $0.hasSuffix(".hex") }.map { String($0.dropLast(4)) }.sorted()
        }
    }

    static func bytes(_ name: String) throws -> [UInt8] {
        let text = try String(contentsOf: directory.appendingPathComponent(name + ".hex"), encoding: .utf8)
        let digits = text.split(separator: "\n").map { $0.split(separator: "#", omittingEmptySubsequences: false).first ?? "" }
            .joined().filter(\.isHexDigit)
        var bytes: [UInt8] = []
        var index = digits.startIndex
        while index < digits.endIndex {
            let next = digits.index(index, offsetBy: 2)
            bytes.append(UInt8(digits[index..<next], radix: 16)!)
            index = next
        }
        return bytes
    }
}
