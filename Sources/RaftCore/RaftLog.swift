import RaftWire

/// The in-memory Raft log: a snapshot's metadata, then the entries after it.
struct RaftLog {
    private(set) var snapshot: SnapshotMetadata
    private(set) var entries: [Entry]
    /// The lowest index changed since the driver last took the entries to persist.
    private(set) var unstableFrom: UInt64?

    init(snapshot: SnapshotMetadata, entries: [Entry]) {
        self.snapshot = snapshot
        self.entries = entries
        precondition(
            entries.enumerated().allSatisfy { $0.element.index == snapshot.lastIncludedIndex + 1 + UInt64($0.offset) },
            "log entries must follow the snapshot without gaps")
    }

    var snapshotIndex: UInt64 { snapshot.lastIncludedIndex }
    var firstIndex: UInt64 { snapshotIndex + 1 }
    var lastIndex: UInt64 { snapshotIndex + UInt64(entries.count) }
    var lastTerm: UInt64 { entries.last?.term ?? snapshot.lastIncludedTerm }

    /// The term of the entry at `index`; nil when it is compacted away or past the end.
    func term(at index: UInt64) -> UInt64? {
        if index == snapshotIndex { return snapshot.lastIncludedTerm }
        guard index > snapshotIndex, index <= lastIndex else { return nil }
        return entries[position(index)].term
    }

    func matches(index: UInt64, term: UInt64) -> Bool {
        self.term(at: index) == term
    }

    /// Entries from `index` on, as many as fit in `maxBytes` of data (at least one).
    func entries(from index: UInt64, maxBytes: Int) -> [Entry] {
        guard index <= lastIndex else { return [] }
        var result: [Entry] = []
        var bytes = 0
        for entry in entries[position(index)...] {
            bytes += entry.data.count + 32
            if !result.isEmpty && bytes > maxBytes { break }
            result.append(entry)
        }
        return result
    }

    func entries(from start: UInt64, through end: UInt64) -> [Entry] {
        guard start <= end else { return [] }
        return Array(entries[position(start)...position(end)])
    }

    /// Raft's election restriction: is a log ending at (lastIndex, lastTerm) at least as
    /// up to date as this one?
    func isUpToDate(lastIndex: UInt64, lastTerm: UInt64) -> Bool {
        lastTerm > self.lastTerm || (lastTerm == self.lastTerm && lastIndex >= self.lastIndex)
    }

    /// For a rejected AppendEntries at `index`: the term there (0 when the log is shorter)
    /// and the first index this log holds of that term (or lastIndex + 1).
    func conflictHint(at index: UInt64) -> (term: UInt64, index: UInt64) {
        guard let term = term(at: index), index > snapshotIndex else { return (0, lastIndex + 1) }
        var first = index
        while first > firstIndex, entries[position(first - 1)].term == term { first -= 1 }
        return (term, first)
    }

    /// The last index at or before `index` whose term is `term`, if this log has one.
    func lastIndex(ofTerm term: UInt64, atOrBefore index: UInt64) -> UInt64? {
        var i = Swift.min(index, lastIndex)
        while i > snapshotIndex {
            let t = entries[position(i)].term
            if t == term { return i }
            if t < term { return nil }
            i -= 1
        }
        return nil
    }

    /// Appends `newEntries`, which follow on from an index this log holds: entries already
    /// present with the same term are kept, the first conflict truncates the log there.
    /// Returns the index of the first conflict, if any.
    @discardableResult
    mutating func merge(_ newEntries: [Entry]) -> UInt64? {
        var conflict: UInt64?
        for (offset, entry) in newEntries.enumerated() {
            if entry.index <= snapshotIndex { continue }
            if let existing = term(at: entry.index) {
                if existing == entry.term { continue }
                conflict = entry.index
                entries.removeSubrange(position(entry.index)...)
            }
            precondition(entry.index == lastIndex + 1, "entries must follow on from the log")
            markUnstable(from: entry.index)
            entries.append(contentsOf: newEntries[offset...])
            return conflict
        }
        return conflict
    }

    mutating func append(_ entry: Entry) {
        precondition(entry.index == lastIndex + 1)
        markUnstable(from: entry.index)
        entries.append(entry)
    }

    /// Drops the entries a snapshot through `metadata.lastIncludedIndex` covers. Returns the
    /// old storage, whose release frees them: a million entries take a while to free, and
    /// the caller may do it elsewhere.
    mutating func compact(to metadata: SnapshotMetadata) -> [Entry] {
        let index = metadata.lastIncludedIndex
        precondition(index > snapshotIndex && index <= lastIndex, "compaction must move forward within the log")
        precondition(term(at: index) == metadata.lastIncludedTerm, "snapshot term must match the log")
        let old = entries
        entries = Array(old[Int(index - snapshotIndex)...])
        snapshot = metadata
        if let from = unstableFrom, from <= index { unstableFrom = entries.isEmpty ? nil : index + 1 }
        return old
    }

    /// Replaces the whole log with a snapshot received from the leader.
    mutating func restore(_ metadata: SnapshotMetadata) {
        snapshot = metadata
        entries = []
        unstableFrom = nil
    }

    /// The entries to persist since the last call.
    mutating func takeUnstable() -> [Entry] {
        guard let from = unstableFrom else { return [] }
        unstableFrom = nil
        guard from <= lastIndex else { return [] }
        return Array(entries[position(Swift.max(from, firstIndex))...])
    }

    /// The latest configuration at or before `index` and the index of its entry.
    func configuration(atOrBefore index: UInt64) -> (configuration: Configuration, index: UInt64) {
        var i = Swift.min(index, lastIndex)
        while i > snapshotIndex {
            let entry = entries[position(i)]
            if entry.type == .configuration, let configuration = try? Configuration(wireBytes: entry.data) {
                return (configuration, i)
            }
            i -= 1
        }
        return (snapshot.configuration, snapshotIndex)
    }

    private mutating func markUnstable(from index: UInt64) {
        unstableFrom = Swift.min(unstableFrom ?? index, index)
    }

    private func position(_ index: UInt64) -> Int {
        Int(index - firstIndex)
    }
}
