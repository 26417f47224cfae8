/// What a leader knows of one follower's log.
struct Progress {
    enum State: Equatable {
        /// Unsure where the logs diverge: one AppendEntries at a time.
        case probe
        /// Logs agree up to `match`: AppendEntries are pipelined, up to a window.
        case replicate
        /// The follower is behind the compacted log: a snapshot through `index` is on its way,
        /// sent with sequence number `seq` (only its answer counts).
        case snapshot(index: UInt64, seq: UInt64)
    }

    /// The highest index known to be replicated on the follower.
    var match: UInt64 = 0
    /// The next index to send.
    var next: UInt64
    var state: State = .probe
    /// In probe state: an AppendEntries is out and unanswered.
    var probeSent = false
    /// In replicate state: the last index of each AppendEntries in flight, ascending, with the
    /// entry bytes it carries; and those bytes in all.
    var inflight: [(last: UInt64, bytes: Int)] = []
    var inflightBytes = 0
    /// Heard from in the current CheckQuorum period.
    var recentActive = false
    /// The highest AppendEntries sequence number the follower has answered this term.
    var ackedSeq: UInt64 = 0
    /// Ticks spent waiting for a snapshot to be installed.
    var snapshotTicks = 0
    /// Heartbeat intervals in replicate state with entries outstanding and no progress.
    var stalledTicks = 0
    /// TimeoutNow already sent for the current transfer.
    var timeoutNowSent = false

    /// The address the follower had when this progress began.
    let address: String

    init(next: UInt64, address: String) {
        self.next = next
        self.address = address
    }

    mutating func becomeProbe() {
        state = .probe
        probeSent = false
        clearInflight()
        next = max(next, match + 1)
    }

    mutating func becomeReplicate() {
        state = .replicate
        clearInflight()
        stalledTicks = 0
        next = match + 1
    }

    /// Sent entries were lost (or are very late): go back to probing from the match index.
    mutating func retransmit() {
        next = match + 1
        becomeProbe()
    }

    mutating func becomeSnapshot(index: UInt64, seq: UInt64) {
        state = .snapshot(index: index, seq: seq)
        clearInflight()
        snapshotTicks = 0
    }

    /// An AppendEntries through `last`, carrying `bytes` of entries, went out.
    mutating func sent(through last: UInt64, bytes: Int) {
        next = last + 1
        inflight.append((last, bytes))
        inflightBytes += bytes
    }

    /// Room for another AppendEntries: fewer than `maxMessages` in flight, and fewer bytes
    /// than `maxBytes` (so one is always allowed).
    func hasRoom(maxMessages: Int, maxBytes: Int) -> Bool {
        inflight.count < maxMessages && inflightBytes < maxBytes
    }

    private mutating func clearInflight() {
        inflight = []
        inflightBytes = 0
    }

    /// Records that the follower holds everything through `index`; false if that is old news.
    mutating func update(match index: UInt64) -> Bool {
        while let first = inflight.first, first.last <= index {
            inflightBytes -= first.bytes
            inflight.removeFirst()
        }
        guard index > match else { return false }
        match = index
        stalledTicks = 0
        next = max(next, index + 1)
        return true
    }

    /// Retries what looks lost: a probe every heartbeat, pipelined entries that made no
    /// progress for a few heartbeats (at once when they are compacted away), a snapshot
    /// unanswered for `snapshotTimeout` heartbeats.
    mutating func heartbeatTick(lastIndex: UInt64, snapshotIndex: UInt64, snapshotTimeout: Int) {
        switch state {
        case .probe:
            probeSent = false
        case .replicate:
            stalledTicks = match < lastIndex && !inflight.isEmpty ? stalledTicks + 1 : 0
            // Entries it still needs were compacted away: no use waiting, it needs the snapshot.
            if stalledTicks >= 3 || (match < snapshotIndex && !inflight.isEmpty) { retransmit() }
        case .snapshot:
            snapshotTicks += 1
            if snapshotTicks >= snapshotTimeout { becomeProbe() }
        }
    }
}
