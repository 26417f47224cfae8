import RaftCore
import RaftWire

/// Raft's safety properties, checked as the simulation runs. The first violation is kept.
struct SafetyChecker {
    private(set) var violation: String?
    /// Election Safety: the one leader of each term.
    private var leaders: [UInt64: NodeID] = [:]
    /// State Machine Safety: the entry every server applied at each index, and the state
    /// machine's hash after it.
    private(set) var committed: [UInt64: Entry] = [:]
    private var stateHashes: [UInt64: UInt64] = [:]
    private(set) var highestCommitted: UInt64 = 0

    mutating func fail(_ text: String) {
        if violation == nil { violation = text }
    }

    /// Returns true when `node` has become leader of `term` just now.
    mutating func observeLeader(_ node: NodeID, term: UInt64) -> Bool {
        if let existing = leaders[term] {
            if existing != node { fail("election safety: \(existing) and \(node) both lead term \(term)") }
            return false
        }
        leaders[term] = node
        return true
    }

    var leaderCount: Int { leaders.count }

    mutating func observeApplied(_ entry: Entry, by node: NodeID, stateHash: UInt64) {
        if let known = committed[entry.index] {
            if known != entry {
                fail("state machine safety: \(node) applied \(describe(entry)) where another server applied \(describe(known))")
            }
        } else {
            committed[entry.index] = entry
            highestCommitted = max(highestCommitted, entry.index)
        }
        observeState(index: entry.index, hash: stateHash, by: node)
    }

    mutating func observeState(index: UInt64, hash: UInt64, by node: NodeID) {
        guard index > 0 else { return }
        if let known = stateHashes[index], known != hash {
            fail("state machine safety: \(node)'s state after index \(index) differs from another server's")
        }
        stateHashes[index] = hash
    }

    /// Leader Completeness: a new leader's log holds every entry committed so far.
    mutating func checkLeaderCompleteness(_ core: RaftCore) {
        for index in committed.keys where index > core.snapshotIndex {
            guard index <= core.lastIndex, core.termOfEntry(at: index) == committed[index]!.term else {
                fail("leader completeness: \(core.id), leader of term \(core.term), lacks committed entry \(describe(committed[index]!))")
                return
            }
        }
    }

    /// Log Matching: two logs with an entry of the same index and term are identical up to it.
    mutating func checkLogMatching(_ a: (id: NodeID, entries: [Entry]), _ b: (id: NodeID, entries: [Entry])) {
        guard let aFirst = a.entries.first, let bFirst = b.entries.first else { return }
        let start = max(aFirst.index, bFirst.index)
        let end = min(aFirst.index + UInt64(a.entries.count), bFirst.index + UInt64(b.entries.count))
        guard start < end else { return }
        var index = end - 1
        while index >= start {
            let x = a.entries[Int(index - aFirst.index)]
            let y = b.entries[Int(index - bFirst.index)]
            if x.term == y.term { break }
            if index == start { return }
            index -= 1
        }
        for i in start...index {
            let x = a.entries[Int(i - aFirst.index)]
            let y = b.entries[Int(i - bFirst.index)]
            if x != y {
                fail("log matching: \(a.id) and \(b.id) agree at index \(index) but differ at \(i): \(describe(x)) vs \(describe(y))")
                return
            }
        }
    }

    private func describe(_ entry: Entry) -> String {
        "[\(entry.index) term \(entry.term) \(entry.type) \(String(decoding: entry.data.prefix(24), as: UTF8.self))]"
    }
}
