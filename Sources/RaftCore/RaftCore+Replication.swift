import RaftWire

extension RaftCore {
    // MARK: Proposals

    /// Appends a state-machine command to the leader's log. It is committed once a quorum
    /// has it; the driver learns so when an entry with this index and term is applied (an
    /// entry of another term at that index means the proposal was lost).
    @discardableResult
    public func propose(_ command: [UInt8]) throws -> (index: UInt64, term: UInt64) {
        try appendAsLeader(type: .command, data: command)
    }

    func appendAsLeader(type: EntryType, data: [UInt8]) throws -> (index: UInt64, term: UInt64) {
        guard isLeader else { throw RaftError.notLeader(leader: leaderID) }
        guard transferTarget == nil else { throw RaftError.transferInProgress }
        let entry = Entry(term: term, index: log.lastIndex + 1, type: type, data: data)
        log.append(entry)
        if type == .configuration { refreshConfiguration() }
        maybeCommit()
        return (entry.index, entry.term)
    }

    // MARK: Leader: sending

    /// Sends each follower what it lacks, and heartbeats or commit news where due. Called
    /// when the driver takes a Ready, so everything proposed since the last one travels
    /// together.
    func flushReplication() {
        for peer in progress.keys.sorted() {
            let sent = sendAppends(to: peer)
            if !sent && (heartbeatDue || commitChanged) { sendHeartbeat(to: peer) }
        }
        heartbeatDue = false
        commitChanged = false
    }

    /// Whether some follower can be sent entries (or a probe) now.
    var replicationPending: Bool {
        progress.values.contains { state in
            switch state.state {
            case .probe: !state.probeSent
            case .replicate:
                state.next <= log.lastIndex && state.hasRoom(maxMessages: options.maxInflightMessages, maxBytes: options.maxInflightBytes)
            case .snapshot: false
            }
        }
    }

    /// Sends AppendEntries (or a snapshot) as the follower's state allows; true if anything went.
    private func sendAppends(to peer: NodeID) -> Bool {
        guard var state = progress[peer] else { return false }
        defer { progress[peer] = state }
        switch state.state {
        case .snapshot:
            return false
        case .probe:
            guard !state.probeSent else { return false }
            state.probeSent = true
            return sendAppend(to: peer, progress: &state)
        case .replicate:
            var sent = false
            while state.state == .replicate && state.next <= log.lastIndex
                && state.hasRoom(maxMessages: options.maxInflightMessages, maxBytes: options.maxInflightBytes)
            {
                guard sendAppend(to: peer, progress: &state) else { break }
                sent = true
            }
            return sent
        }
    }

    /// One AppendEntries from `progress.next`, or the snapshot when that part of the log is
    /// compacted away.
    private func sendAppend(to peer: NodeID, progress state: inout Progress) -> Bool {
        let prevIndex = state.next - 1
        guard let prevTerm = log.term(at: prevIndex) else {
            sendSnapshot(to: peer, progress: &state)
            return true
        }
        let entries = log.entries(from: state.next, maxBytes: options.maxMessageBytes)
        seq &+= 1
        send(.appendEntries(AppendEntriesRequest(
            term: term, leaderID: id, prevLogIndex: prevIndex, prevLogTerm: prevTerm, entries: entries,
            leaderCommit: commitIndex, seq: seq, targetID: peer)), to: peer)
        if state.state == .replicate, let last = entries.last {
            state.sent(through: last.index, bytes: entries.reduce(0) { $0 + $1.data.count })
        }
        return true
    }

    private func sendSnapshot(to peer: NodeID, progress state: inout Progress) {
        seq &+= 1
        state.becomeSnapshot(index: log.snapshotIndex, seq: seq)
        send(.installSnapshot(InstallSnapshotRequest(
            term: term, leaderID: id, metadata: log.snapshot, offset: 0, data: [], done: true, seq: seq,
            targetID: peer)), to: peer)
    }

    /// An AppendEntries with no entries at the follower's match index: it cannot be refused,
    /// keeps the follower's election timer quiet, tells it the commit index and confirms
    /// leadership for reads.
    func sendHeartbeat(to peer: NodeID) {
        guard let state = progress[peer] else { return }
        var prev = state.match
        var prevTerm = log.term(at: prev)
        if prevTerm == nil {
            (prev, prevTerm) = (0, 0)
        }
        seq &+= 1
        send(.appendEntries(AppendEntriesRequest(
            term: term, leaderID: id, prevLogIndex: prev, prevLogTerm: prevTerm ?? 0, entries: [],
            leaderCommit: min(commitIndex, prev), seq: seq, targetID: peer)), to: peer)
    }

    // MARK: Leader: answers

    func handleAppendEntriesResponse(_ response: AppendEntriesResponse, from peer: NodeID) {
        guard var state = progress[peer] else { return }
        state.recentActive = true
        state.ackedSeq = max(state.ackedSeq, response.seq)
        if response.success {
            if state.update(match: response.matchIndex) {
                if state.state == .probe { state.becomeReplicate() }
                progress[peer] = state
                maybeCommit()
                maybeSendTimeoutNow(to: peer)
                maybePromote(peer)
            } else {
                progress[peer] = state
            }
        } else {
            if response.lastLogIndex < state.match {
                // Its log is shorter than it once acknowledged: a new process (or a lost disk).
                state.match = response.lastLogIndex
                state.next = response.lastLogIndex + 1
                state.becomeProbe()
                progress[peer] = state
                releaseConfirmedReads()
                return
            }
            // Ignore rejections of AppendEntries sent before what we now know, and any while a
            // snapshot is on its way.
            if case .snapshot = state.state {
                progress[peer] = state
                releaseConfirmedReads()
                return
            }
            if response.rejectIndex <= state.match || (state.state == .probe && response.rejectIndex != state.next - 1) {
                progress[peer] = state
                releaseConfirmedReads()
                return
            }
            var next = response.conflictIndex
            if response.conflictTerm > 0,
                let last = log.lastIndex(ofTerm: response.conflictTerm, atOrBefore: response.rejectIndex)
            {
                next = last + 1
            }
            state.next = max(min(next, response.rejectIndex), state.match + 1)
            state.becomeProbe()
            progress[peer] = state
        }
        releaseConfirmedReads()
    }

    /// Commits the highest index a quorum of voters holds, if it is of the current term
    /// (Raft never commits an earlier term's entry by counting replicas).
    func maybeCommit() {
        guard isLeader else { return }
        guard !voters.isEmpty else { return }
        let candidate = quorumValue { $0 == id ? min(log.lastIndex, stableIndex) : (progress[$0]?.match ?? 0) }
        guard candidate > commitIndex, log.term(at: candidate) == term else { return }
        commitIndex = candidate
        commitChanged = true
        afterCommit()
    }

    // MARK: Follower

    func handleAppendEntries(_ request: AppendEntriesRequest, from message: Message) {
        leaderID = request.leaderID
        ticksWithoutLeader = 0
        resetElectionTimer()
        var response = AppendEntriesResponse(term: term, lastLogIndex: log.lastIndex, seq: request.seq)
        defer { send(.appendEntriesResponse(response), to: message.from, context: message.context) }

        if request.prevLogIndex < commitIndex {
            // Everything through our commit index matches the leader's log.
            response.success = true
            response.matchIndex = commitIndex
            return
        }
        guard log.matches(index: request.prevLogIndex, term: request.prevLogTerm) else {
            let hint = log.conflictHint(at: request.prevLogIndex)
            response.rejectIndex = request.prevLogIndex
            response.conflictTerm = hint.term
            response.conflictIndex = hint.index
            return
        }
        let conflict = log.merge(request.entries)
        if let conflict {
            precondition(conflict > commitIndex, "a leader tried to overwrite committed entry \(conflict)")
            stableIndex = min(stableIndex, conflict - 1)
        }
        if conflict != nil || request.entries.contains(where: { $0.type == .configuration }) {
            refreshConfiguration()
        }
        let lastNew = request.prevLogIndex + UInt64(request.entries.count)
        commitIndex = max(commitIndex, min(request.leaderCommit, lastNew))
        response.success = true
        response.matchIndex = lastNew
        response.lastLogIndex = log.lastIndex
    }
}
