import Logging
import RaftCore
import RaftWire

#if canImport(Glibc)
import Glibc
#endif

/// The Raft log on disk: numbered segment files of records (see LogRecord), appended to
/// and synced by the storage's writer, never rewritten except to cut a suffix.
///
/// Every segment starts with a header and a hard-state record, so removing old segments
/// never loses the latest hard state. Not thread-safe: the storage's writer owns it.
final class SegmentedLog {
    struct Segment {
        let sequence: UInt64
        let path: String
        /// The index of the segment's first entry (nil: no entry yet).
        var firstIndex: UInt64?
        /// The file offset of each entry, in index order.
        var offsets: [UInt32] = []
        var size: Int

        var lastIndex: UInt64? { firstIndex.map { $0 + UInt64(offsets.count) - 1 } }
    }

    static let magic = Array("RCLOG001".utf8)

    private let directory: String
    private let segmentSize: Int
    private let logger: Logger
    private(set) var segments: [Segment] = []
    private var active: POSIXFile?
    private(set) var hardState = HardState()
    /// The index of the last entry on disk (the snapshot's when the log after it is empty).
    private(set) var lastIndex: UInt64 = 0
    private var pending: [UInt8] = []
    private var nextSequence: UInt64 = 1
    private let preallocator: SegmentPreallocator

    private init(directory: String, segmentSize: Int, logger: Logger) {
        self.directory = directory
        self.segmentSize = segmentSize
        self.logger = logger
        preallocator = SegmentPreallocator(directory: directory, size: segmentSize)
    }

    static func segmentName(_ sequence: UInt64) -> String {
        let digits = String(sequence)
        return "log-" + String(repeating: "0", count: max(0, 20 - digits.count)) + digits + ".seg"
    }

    /// Opens the log in `directory`, recovering what was written: the hard state and the
    /// entries after the snapshot (S, T). A torn record at the very end is cut and logged;
    /// damage anywhere else throws, naming the file and offset.
    static func open(
        directory: String, segmentSize: Int, snapshot: SnapshotMetadata, logger: Logger
    ) throws -> (log: SegmentedLog, hardState: HardState, entries: [Entry]) {
        try SegmentPreallocator.removeLeftovers(in: directory)
        let log = SegmentedLog(directory: directory, segmentSize: segmentSize, logger: logger)
        let names = try Directory.list(directory).filter { $0.hasPrefix("log-") && $0.hasSuffix(".seg") }
        let files = names.compactMap { name in
            UInt64(name.dropFirst(4).dropLast(4)).map { (sequence: $0, path: directory + "/" + name) }
        }
        // Segments parse independently, two at a time; what they hold is then checked in order.
        let parsed = ParsedSegment.parseAll(files.map(\.path))
        var entries: [Entry] = []
        entries.reserveCapacity(parsed.reduce(0) { $0 + $1.entries.count })
        for (position, file) in files.enumerated() {
            log.nextSequence = max(log.nextSequence, file.sequence + 1)
            let segment = try log.accept(
                parsed[position], sequence: file.sequence, path: file.path, isLast: position == files.count - 1,
                into: &entries)
            log.segments.append(segment)
        }
        log.lastIndex = entries.last?.index ?? snapshot.lastIncludedIndex

        // Raft's rule for a log beside a snapshot: keep what follows the snapshot only when
        // the log holds the snapshot's last entry with the same term.
        let snapshotIndex = snapshot.lastIncludedIndex
        if snapshotIndex > 0 {
            if let first = entries.first, first.index <= snapshotIndex, let last = entries.last, last.index >= snapshotIndex,
                entries[Int(snapshotIndex - first.index)].term == snapshot.lastIncludedTerm
            {
                entries.removeFirst(Int(snapshotIndex - first.index) + 1)
            } else if !entries.isEmpty && entries.first!.index != snapshotIndex + 1 {
                logger.notice("log does not continue from the snapshot; discarding it", metadata: [
                    "snapshot_index": "\(snapshotIndex)", "log_first": "\(entries.first!.index)",
                    "log_last": "\(entries.last!.index)"])
                entries = []
                try log.reset(after: snapshot)
            }
        }
        if log.segments.isEmpty {
            try log.reset(after: snapshot)
        } else {
            try log.openActive()
        }
        log.lastIndex = entries.last?.index ?? snapshotIndex
        var hardState = log.hardState
        hardState.commit = min(hardState.commit, max(log.lastIndex, snapshotIndex))
        return (log, hardState, entries)
    }

    /// Takes a parsed segment into the log: its entries must continue the log; damage is
    /// a torn tail (cut and logged) only at the very end of the last segment.
    private func accept(
        _ parsed: ParsedSegment, sequence: UInt64, path: String, isLast: Bool, into entries: inout [Entry]
    ) throws -> Segment {
        if let error = parsed.error { throw error }
        var segment = Segment(sequence: sequence, path: path, size: parsed.end)
        if !parsed.hasHeader {
            guard isLast && parsed.fileSize < Self.magic.count else {
                throw StorageError.corrupt(path: path, offset: 0, reason: "not a log segment (bad header)")
            }
            // Created but never written: start it afresh.
            logger.warning("log segment has no header; starting it again", metadata: ["file": "\(path)"])
            let file = try POSIXFile(path: path, flags: O_RDWR)
            try file.truncate(to: 0)
            try file.write(Self.magic)
            try file.syncData()
            segment.size = Self.magic.count
            return segment
        }
        if let first = parsed.entries.first, let last = entries.last, first.index != last.index + 1 {
            throw StorageError.corrupt(
                path: path, offset: Int(parsed.offsets[0]), reason: "entry \(first.index) does not follow entry \(last.index)")
        }
        if let problem = parsed.problem {
            guard isLast && problem.couldBeTorn else {
                throw StorageError.corrupt(path: path, offset: problem.offset, reason: problem.reason)
            }
            logger.warning("cutting a torn record at the end of the log", metadata: [
                "file": "\(path)", "offset": "\(problem.offset)", "reason": "\(problem.reason)",
                "bytes_dropped": "\(parsed.fileSize - problem.offset)"])
            let file = try POSIXFile(path: path, flags: O_RDWR)
            try file.truncate(to: problem.offset)
            try file.syncData()
        }
        if let state = parsed.hardState { hardState = state }
        segment.firstIndex = parsed.entries.first?.index
        segment.offsets = parsed.offsets
        entries.append(contentsOf: parsed.entries)
        return segment
    }

    /// Whether the damaged record at `offset` can be a torn write: nothing but zeros (unused
    /// space) follows it - after its declared end, or after its header when the length
    /// itself is damaged.
    static func isTail(_ bytes: UnsafeRawBufferPointer, from offset: Int) -> Bool {
        let length = bytes.count - offset >= 4
            ? Int(bytes.loadLittleEndian(at: offset, as: UInt32.self)) : 0
        let end = length > 0 && length <= LogRecord.maxPayloadLength
            ? offset + LogRecord.headerLength + length : offset + LogRecord.headerLength
        return end >= bytes.count || onlyZeros(bytes, from: end)
    }

    static func onlyZeros(_ bytes: UnsafeRawBufferPointer, from offset: Int) -> Bool {
        var i = offset
        while i + 8 <= bytes.count {
            if bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self) != 0 { return false }
            i += 8
        }
        while i < bytes.count {
            if bytes[i] != 0 { return false }
            i += 1
        }
        return true
    }

    private func openActive() throws {
        guard let last = segments.last else { return }
        let file = try POSIXFile(path: last.path, flags: O_RDWR)
        try file.truncate(to: last.size)
        active = file
    }

    // MARK: Writing

    /// Buffers entries (cutting the log first when they replace a suffix) and the hard
    /// state; `flush` writes them and syncs.
    func append(hardState newState: HardState?, entries: [Entry]) throws {
        if let first = entries.first, first.index <= lastIndex {
            try flushBuffer()
            try truncate(from: first.index)
        }
        if let first = entries.first {
            precondition(first.index == lastIndex + 1, "entries from \(first.index) would leave a gap after \(lastIndex)")
        }
        if let newState { hardState = newState }
        if activeSize + pending.count >= segmentSize { try roll() }
        if activeSize >= segmentSize / 2 { preallocator.prepareSoon() }
        let last = segments.count - 1
        let base = segments[last].size
        if segments[last].firstIndex == nil, let first = entries.first { segments[last].firstIndex = first.index }
        // In place: a copy of the segment would copy its offsets on every batch.
        segments[last].offsets.reserveCapacity(segments[last].offsets.count + entries.count)
        for entry in entries {
            segments[last].offsets.append(UInt32(base + pending.count))
            LogRecord.entry(entry).append(to: &pending)
        }
        if !entries.isEmpty { lastIndex = entries.last!.index }
        if newState != nil { LogRecord.hardState(hardState).append(to: &pending) }
    }

    private var activeSize: Int { segments.last?.size ?? 0 }

    /// How many times the log was synced (for tests and benchmarks of group commit).
    private(set) var syncCount = 0

    /// Writes what `append` buffered and makes it durable.
    func flush() throws {
        try flushBuffer()
        try active?.syncData()
        syncCount += 1
    }

    private func flushBuffer() throws {
        guard !pending.isEmpty, let active else { return }
        try active.write(pending)
        segments[segments.count - 1].size += pending.count
        pending.removeAll(keepingCapacity: true)
    }

    /// Cuts the log before entry `index`. Later segments go first (and the directory is
    /// synced), so a crash part-way never leaves a gap.
    private func truncate(from index: UInt64) throws {
        guard let position = segments.lastIndex(where: { ($0.firstIndex ?? .max) <= index }) else {
            preconditionFailure("cannot cut the log at \(index): it is not on disk")
        }
        let later = segments[(position + 1)...]
        if !later.isEmpty {
            active = nil
            for segment in later { try Directory.remove(segment.path) }
            segments.removeSubrange((position + 1)...)
            try Directory.sync(directory)
        }
        var segment = segments[position]
        let keep = Int(index - segment.firstIndex!)
        let cut = Int(segment.offsets[keep])
        segment.offsets.removeSubrange(keep...)
        if segment.offsets.isEmpty { segment.firstIndex = nil }
        segment.size = cut
        segments[position] = segment
        let file = try POSIXFile(path: segment.path, flags: O_RDWR)
        try file.truncate(to: cut)
        active = file
        lastIndex = index - 1
        // The cut may have taken the newest hard-state record with it.
        LogRecord.hardState(hardState).append(to: &pending)
    }

    /// Starts a new segment, headed by the current hard state. The previous one is cut to
    /// what it holds; the new one is the zero-filled file prepared in the background, when
    /// there is one.
    private func roll() throws {
        try flushBuffer()
        if let active, let last = segments.last {
            try active.syncData()
            try active.truncate(to: last.size)
        }
        let sequence = nextSequence
        nextSequence += 1
        let path = directory + "/" + Self.segmentName(sequence)
        let file: POSIXFile
        if let prepared = try preallocator.take() {
            try Directory.rename(prepared, to: path)
            file = try POSIXFile(path: path, flags: O_RDWR)
        } else {
            file = try POSIXFile(path: path, flags: O_RDWR | O_CREAT | O_TRUNC)
        }
        try file.write(Self.magic)
        active = file
        segments.append(Segment(sequence: sequence, path: path, size: Self.magic.count))
        try Directory.sync(directory)
        LogRecord.hardState(hardState).append(to: &pending)
    }

    // MARK: Compaction

    /// Removes segments whose entries a snapshot through `index` covers.
    func compact(through index: UInt64) throws {
        var removed = 0
        while segments.count > 1, let last = segments[0].lastIndex ?? segments[1].firstIndex.map({ $0 - 1 }),
            last <= index
        {
            try Directory.remove(segments[0].path)
            segments.removeFirst()
            removed += 1
        }
        if removed > 0 { try Directory.sync(directory) }
    }

    /// Drops the whole log: a snapshot from the leader replaces it.
    func reset(after snapshot: SnapshotMetadata) throws {
        pending = []
        active = nil
        let old = segments
        segments = []
        lastIndex = snapshot.lastIncludedIndex
        try roll()
        try flush()
        for segment in old { try Directory.remove(segment.path) }
        try Directory.sync(directory)
    }

    func close() {
        active = nil
    }
}
