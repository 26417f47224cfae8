import Dispatch
import RaftCore
import RaftWire
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// What one segment file holds, read without judging it: the log decides (in order) whether
/// damage is a torn tail or corruption.
struct ParsedSegment: Sendable {
    struct Problem: Sendable {
        var offset: Int
        var reason: String
        /// Nothing but unused space follows it: a torn write can explain it.
        var couldBeTorn: Bool
    }

    var fileSize = 0
    var hasHeader = false
    var entries: [Entry] = []
    var offsets: [UInt32] = []
    var hardStates: [HardState] = []
    /// No header and nothing but zeros: created (or preallocated) and never written.
    var neverWritten = false
    /// Where the segment's records end (the start of a problem or of unused space).
    var end = 0
    var problem: Problem?
    var error: StorageError?

    /// Parses every file, two at a time (this machine's cores), keeping their order.
    static func parseAll(_ paths: [String]) -> [ParsedSegment] {
        let results = Mutex([ParsedSegment](repeating: ParsedSegment(), count: paths.count))
        let next = Mutex(0)
        DispatchQueue.concurrentPerform(iterations: min(2, paths.count)) { _ in
            while true {
                let i = next.withLock { value in defer { value += 1 }; return value }
                guard i < paths.count else { return }
                let parsed = ParsedSegment(path: paths[i])
                results.withLock { $0[i] = parsed }
            }
        }
        return results.withLock { $0 }
    }

    init() {}

    init(path: String) {
        do {
            let bytes = try POSIXFile(path: path, flags: O_RDONLY).readAll()
            fileSize = bytes.count
            bytes.withUnsafeBytes { parse($0) }
        } catch {
            self.error = error as? StorageError ?? .unusable("\(error)")
        }
    }

    private mutating func parse(_ raw: UnsafeRawBufferPointer) {
        let magic = SegmentedLog.magic
        guard raw.count >= magic.count, raw.prefix(magic.count).elementsEqual(magic) else {
            neverWritten = raw.count < magic.count || SegmentedLog.onlyZeros(raw, from: 0)
            if !neverWritten && raw.count < magic.count { neverWritten = magic.starts(with: raw) }
            return
        }
        hasHeader = true
        entries.reserveCapacity(raw.count / 160)
        var offset = magic.count
        var expected: UInt64?
        while offset < raw.count {
            // Only zeros from here: the segment's unused (preallocated) space.
            if raw[offset] == 0 && SegmentedLog.onlyZeros(raw, from: offset) { break }
            switch LogRecord.parse(raw, at: offset) {
            case .record(.entry(let entry), let length):
                if let expected, entry.index != expected {
                    problem = Problem(offset: offset, reason: "entry \(entry.index) does not follow entry \(expected - 1)", couldBeTorn: false)
                    end = offset
                    return
                }
                expected = entry.index + 1
                offsets.append(UInt32(offset))
                entries.append(entry)
                offset += length
            case .record(.hardState(let state), let length):
                hardStates.append(state)
                offset += length
            case .incomplete:
                problem = Problem(
                    offset: offset, reason: "record cut short",
                    couldBeTorn: !SegmentedLog.validRecordFollows(raw, after: offset))
                end = offset
                return
            case .damaged(let reason):
                problem = Problem(offset: offset, reason: reason, couldBeTorn: SegmentedLog.isTail(raw, from: offset))
                end = offset
                return
            }
        }
        end = offset
    }
}
