import Dispatch
import Logging
import NodeMetrics
import RaftCore
import RaftWire

#if canImport(Glibc)
import Glibc
#endif

/// The Raft log on disk: numbered segment files of records (see LogRecord), appended to
/// and synced by the storage's writer, never rewritten except to cut a suffix.
///
/// The hard state is a record too, written before the entries of its batch; every segment
/// starts with one; and before the log deletes or cuts anything the current hard state is
/// saved in the `hardstate` file, so the newest hard state always survives. Not
/// thread-safe: the storage's writer owns it.
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
    /// How many times the log was synced (for tests and benchmarks of group commit).
    private(set) var syncCount = 0
    private let fsyncDuration = NodeMetric.fsyncDuration.timer()

    private init(directory: String, segmentSize: Int, logger: Logger) {
        self.directory = directory
        self.segmentSize = segmentSize
        self.logger = logger
        preallocator = SegmentPreallocator(directory: directory, size: segmentSize, header: Self.magic)
    }

    static func segmentName(_ sequence: UInt64) -> String {
        let digits = String(sequence)
        return "log-" + String(repeating: "0", count: max(0, 20 - digits.count)) + digits + ".seg"
    }

    // MARK: Recovery

    /// Opens the log in `directory`, recovering what was written: the hard state and the
    /// entries after the snapshot. A torn record at the very end is cut and logged; damage
    /// anywhere else throws, naming the file and offset.
    static func open(
        directory: String, segmentSize: Int, snapshot: SnapshotMetadata, logger: Logger
    ) throws -> (log: SegmentedLog, hardState: HardState, entries: [Entry]) {
        try SegmentPreallocator.removeLeftovers(in: directory)
        let log = SegmentedLog(directory: directory, segmentSize: segmentSize, logger: logger)
        let names = try Directory.list(directory).filter { $0.hasPrefix("log-") && $0.hasSuffix(".seg") }
        let files = names.compactMap { name in
            UInt64(name.dropFirst(4).dropLast(4)).map { (sequence: $0, path: directory + "/" + name) }
        }
        if let saved = try HardStateFile.read(in: directory) { log.hardState = saved }
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
        try log.applySnapshotRule(snapshot, to: &entries, files: files.map(\.path))
        if log.segments.isEmpty {
            try log.reset(after: snapshot)
        } else {
            try log.openActive()
        }
        log.lastIndex = entries.last?.index ?? snapshot.lastIncludedIndex
        var hardState = log.hardState
        hardState.commit = min(hardState.commit, log.lastIndex)
        return (log, hardState, entries)
    }

    /// Raft's rule for a log beside a snapshot S: keep what follows S when the log holds S's
    /// entry with the same term; discard a log from another history (a leader's snapshot
    /// replaced it, and a crash came before the old log was gone). A log that starts after
    /// S + 1 has lost entries: refuse to start.
    private func applySnapshotRule(_ snapshot: SnapshotMetadata, to entries: inout [Entry], files: [String]) throws {
        let index = snapshot.lastIncludedIndex
        guard let first = entries.first, let last = entries.last else { return }
        if first.index > index + 1 {
            throw StorageError.corrupt(
                path: files.first ?? directory, offset: 0,
                reason: "the log starts at entry \(first.index) but the newest valid snapshot ends at \(index): entries are missing")
        }
        if first.index == index + 1 { return }
        if last.index >= index {
            let entry = entries[Int(index - first.index)]
            if entry.term == snapshot.lastIncludedTerm {
                entries.removeFirst(Int(index - first.index) + 1)
                return
            }
        }
        logger.notice("the log is from another history than the snapshot; discarding it", metadata: [
            "snapshot_index": "\(index)", "snapshot_term": "\(snapshot.lastIncludedTerm)",
            "log_first": "\(first.index)", "log_last": "\(last.index)"])
        entries = []
        try reset(after: snapshot)
    }

    /// Takes a parsed segment into the log: its entries must continue the log; damage is
    /// a torn tail (cut and logged) only at the very end of the last segment.
    private func accept(
        _ parsed: ParsedSegment, sequence: UInt64, path: String, isLast: Bool, into entries: inout [Entry]
    ) throws -> Segment {
        if let error = parsed.error { throw error }
        var segment = Segment(sequence: sequence, path: path, size: parsed.end)
        if !parsed.hasHeader {
            guard isLast && parsed.neverWritten else {
                throw StorageError.corrupt(path: path, offset: 0, reason: "not a log segment (bad header)")
            }
            // Created but never written: start it afresh.
            logger.warning("log segment was never written; starting it again", metadata: ["file": "\(path)"])
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
        for state in parsed.hardStates { hardState = hardState.merged(with: state) }
        segment.firstIndex = parsed.entries.first?.index
        segment.offsets = parsed.offsets
        entries.append(contentsOf: parsed.entries)
        return segment
    }

    private func openActive() throws {
        guard let last = segments.last else { return }
        let file = try POSIXFile(path: last.path, flags: O_RDWR)
        try file.truncate(to: last.size)
        active = file
    }

    // MARK: Writing

    /// Buffers the hard state and entries (cutting the log first when they replace a
    /// suffix); `flush` writes them and syncs.
    func append(hardState newState: HardState?, entries: [Entry]) throws {
        if let entry = entries.first(where: { $0.data.count + 18 > LogRecord.maxPayloadLength }) {
            throw StorageError.unusable("entry \(entry.index) of \(entry.data.count) bytes is over the record limit")
        }
        if let first = entries.first, first.index <= lastIndex {
            try flushBuffer()
            try truncate(from: first.index)
        }
        if let first = entries.first {
            precondition(first.index == lastIndex + 1, "entries from \(first.index) would leave a gap after \(lastIndex)")
        }
        if activeSize + pending.count >= segmentSize { try roll() }
        if activeSize >= segmentSize / 2 { preallocator.prepareSoon() }
        // The hard state goes before the entries: a torn tail never keeps entries of a term
        // whose hard state it lost.
        if let newState {
            hardState = newState
            LogRecord.hardState(hardState).append(to: &pending)
        }
        let last = segments.count - 1
        let base = segments[last].size
        if segments[last].firstIndex == nil, let first = entries.first { segments[last].firstIndex = first.index }
        // In place: a copy of the segment would copy its offsets on every batch.
        for entry in entries {
            segments[last].offsets.append(UInt32(base + pending.count))
            LogRecord.entry(entry).append(to: &pending)
        }
        if let last = entries.last { lastIndex = last.index }
    }

    private var activeSize: Int { segments.last?.size ?? 0 }

    /// Writes what `append` buffered and makes it durable.
    func flush() throws {
        guard let active else { throw StorageError.unusable("the log is closed") }
        try flushBuffer()
        let started = DispatchTime.now().uptimeNanoseconds
        try active.syncData()
        fsyncDuration.recordNanoseconds(DispatchTime.now().uptimeNanoseconds - started)
        syncCount += 1
    }

    private func flushBuffer() throws {
        guard !pending.isEmpty else { return }
        guard let active else { throw StorageError.unusable("the log is closed") }
        try active.write(pending)
        segments[segments.count - 1].size += pending.count
        pending.removeAll(keepingCapacity: pending.count < 1 << 20)
    }

    /// Cuts the log before entry `index`. The hard state is saved first; later segments go
    /// newest first, each removal synced, so a crash part-way leaves a log without gaps.
    private func truncate(from index: UInt64) throws {
        guard let position = segments.lastIndex(where: { ($0.firstIndex ?? .max) <= index }) else {
            preconditionFailure("cannot cut the log at \(index): it is not on disk")
        }
        try HardStateFile.write(hardState, in: directory)
        if position < segments.count - 1 {
            active = nil
            for segment in segments[(position + 1)...].reversed() {
                try Directory.remove(segment.path)
                try Directory.sync(directory)
            }
            segments.removeSubrange((position + 1)...)
        }
        let keep = Int(index - segments[position].firstIndex!)
        let cut = Int(segments[position].offsets[keep])
        segments[position].offsets.removeSubrange(keep...)
        if segments[position].offsets.isEmpty { segments[position].firstIndex = nil }
        segments[position].size = cut
        let file = try POSIXFile(path: segments[position].path, flags: O_RDWR)
        try file.truncate(to: cut)
        // Before new records overwrite the old ones: the file must not come back longer.
        try file.syncData()
        active = file
        lastIndex = index - 1
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
            // Its header is written and synced already.
            try Directory.rename(prepared, to: path)
            file = try POSIXFile(path: path, flags: O_RDWR)
            try file.seek(to: Self.magic.count)
        } else {
            file = try POSIXFile(path: path, flags: O_RDWR | O_CREAT | O_TRUNC)
            try file.write(Self.magic)
        }
        active = file
        segments.append(Segment(sequence: sequence, path: path, size: Self.magic.count))
        try Directory.sync(directory)
        LogRecord.hardState(hardState).append(to: &pending)
    }

    // MARK: Compaction

    /// Removes segments whose entries a snapshot through `index` covers. What is buffered is
    /// made durable, and the hard state saved, before anything goes.
    func compact(through index: UInt64) throws {
        var removable = 0
        while removable < segments.count - 1,
            let last = segments[removable].lastIndex ?? segments[removable + 1].firstIndex.map({ $0 - 1 }),
            last <= index
        {
            removable += 1
        }
        guard removable > 0 else { return }
        try flush()
        try HardStateFile.write(hardState, in: directory)
        for segment in segments[0..<removable] { try Directory.remove(segment.path) }
        segments.removeFirst(removable)
        try Directory.sync(directory)
    }

    /// Drops the whole log: a snapshot from the leader replaces it. The new segment is made
    /// durable first; the old ones then go newest first, so a crash part-way leaves either
    /// a log from before S (discarded on open) or nothing.
    func reset(after snapshot: SnapshotMetadata) throws {
        try HardStateFile.write(hardState, in: directory)
        pending = []
        active = nil
        let old = segments
        segments = []
        lastIndex = snapshot.lastIncludedIndex
        try roll()
        try flush()
        for segment in old.reversed() {
            try Directory.remove(segment.path)
            try Directory.sync(directory)
        }
    }

    func close() {
        active = nil
        preallocator.shutdown()
    }

    // MARK: Telling torn writes from damage

    /// Whether the damaged record at `offset` can be a torn write: nothing after it but
    /// zeros (unused space), and no valid record anywhere in the next megabyte.
    static func isTail(_ bytes: UnsafeRawBufferPointer, from offset: Int) -> Bool {
        let length = bytes.count - offset >= 4 ? Int(bytes.loadLittleEndian(at: offset, as: UInt32.self)) : 0
        let end = length > 0 && length <= LogRecord.maxPayloadLength
            ? offset + LogRecord.headerLength + length : offset + LogRecord.headerLength
        guard end >= bytes.count || onlyZeros(bytes, from: end) else { return false }
        return !validRecordFollows(bytes, after: offset)
    }

    /// Looks for a record with a valid checksum after a damaged one: if there is one, the
    /// damage is not the end of what was written.
    static func validRecordFollows(_ bytes: UnsafeRawBufferPointer, after offset: Int) -> Bool {
        let limit = min(bytes.count - LogRecord.headerLength, offset + (1 << 20))
        var candidate = offset + 1
        while candidate < limit {
            if case .record = LogRecord.parse(bytes, at: candidate) { return true }
            candidate += 1
        }
        return false
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
}
