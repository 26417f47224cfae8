import Foundation

/// Lines to standard output, buffered for captures and flushed per line for the live proxy.
struct Output: Sendable {
    let flushEachLine: Bool
    private var pending: [UInt8] = []
    /// Lines kept instead of written, for tests.
    private(set) var captured: [String]?

    init(flushEachLine: Bool, capture: Bool = false) {
        self.flushEachLine = flushEachLine
        captured = capture ? [] : nil
    }

    mutating func line(_ text: String) {
        if captured != nil {
            captured!.append(text)
            return
        }
        pending.append(contentsOf: text.utf8)
        pending.append(UInt8(ascii: "\n"))
        if flushEachLine || pending.count >= 1 << 16 { flush() }
    }

    mutating func flush() {
        guard !pending.isEmpty else { return }
        try? FileHandle.standardOutput.write(contentsOf: pending)
        pending.removeAll(keepingCapacity: true)
    }
}
