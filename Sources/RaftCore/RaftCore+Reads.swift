import RaftWire

/// A read waiting for a quorum to confirm the leader still leads.
struct PendingRead {
    var context: UInt64
    /// Who asked: this node, or a follower that sent ReadIndex.
    var requester: NodeID
    var index: UInt64
    /// Confirmed once a quorum has answered an AppendEntries with at least this sequence number.
    var seq: UInt64
    /// Asked before this leader committed an entry of its term: index and seq not set yet.
    var waitingForTermCommit: Bool
}

extension RaftCore {
    /// Asks for a linearizable read. A `ReadState` with this context follows once it is safe
    /// to read at its index (or with index 0 when it is not possible now). A follower asks
    /// its leader.
    public func readIndex(context: UInt64) {
        if isLeader {
            registerRead(context: context, requester: id)
        } else if let leaderID, suffrage != nil {
            forwardedReads[context] = 0
            send(.readIndex(ReadIndexRequest(requesterID: id)), to: leaderID, context: context)
        } else {
            // No leader known, or this server is not a member and will hear from none.
            readStates.append(ReadState(context: context, index: 0))
        }
    }

    /// Reads asked of the leader that it has not answered within an election timeout fail.
    func tickForwardedReads() {
        guard !forwardedReads.isEmpty else { return }
        for context in forwardedReads.keys.sorted() {
            forwardedReads[context]! += 1
            if forwardedReads[context]! >= options.electionTicks {
                forwardedReads[context] = nil
                readStates.append(ReadState(context: context, index: 0))
            }
        }
    }

    /// A new term or leader: answers to reads asked of the old one may never come.
    func failForwardedReads() {
        for context in forwardedReads.keys.sorted() { readStates.append(ReadState(context: context, index: 0)) }
        forwardedReads = [:]
    }

    func handleReadIndexRequest(from message: Message) {
        guard isLeader else {
            send(.readIndexResponse(ReadIndexResponse(term: term, readIndex: 0)), to: message.from, context: message.context)
            return
        }
        registerRead(context: message.context, requester: message.from)
    }

    private func registerRead(context: UInt64, requester: NodeID) {
        // The commit index is only known to be current once an entry of this term commits.
        let termCommitted = log.term(at: commitIndex) == term
        pendingReads.append(PendingRead(
            context: context, requester: requester, index: commitIndex, seq: seq &+ 1,
            waitingForTermCommit: !termCommitted))
        heartbeatDue = true
        releaseConfirmedReads()
    }

    /// A read index the leader may serve at once, without a round of heartbeats: its commit
    /// index, while a quorum acknowledged a heartbeat sent less than `leaseDuration` ago (by
    /// `now`). Followers refuse votes for a while after hearing from a leader, so no other
    /// leader can exist yet - if the clocks do not drift apart by more than the margin
    /// (RaftOptions.leaseDuration). Nil: ask with `readIndex` instead.
    public func leaseRead() -> UInt64? {
        guard isLeader, options.leaseDuration > 0, transferTarget == nil, !leaseRevoked,
            log.term(at: commitIndex) == term
        else { return nil }
        let confirmed = confirmedSeq()
        guard let start = leaseCheckpoints.last(where: { $0.seq <= confirmed })?.at,
            now < start + options.leaseDuration
        else { return nil }
        return commitIndex
    }

    /// Notes when a heartbeat round starts, for leases; keeps only those a lease can still use.
    func recordLeaseCheckpoint() {
        guard options.leaseDuration > 0 else { return }
        leaseCheckpoints.removeAll { now >= $0.at + options.leaseDuration }
        leaseCheckpoints.append((seq &+ 1, now))
    }

    /// The highest seq a quorum of voters (the leader included) has answered.
    private func confirmedSeq() -> UInt64 {
        quorumValue { $0 == id ? UInt64.max : (progress[$0]?.ackedSeq ?? 0) }
    }

    /// Answers every read whose leadership check a quorum has confirmed.
    func releaseConfirmedReads() {
        guard isLeader, !pendingReads.isEmpty else { return }
        let termCommitted = log.term(at: commitIndex) == term
        let confirmedSeq = confirmedSeq()
        var remaining: [PendingRead] = []
        for var read in pendingReads {
            if read.waitingForTermCommit {
                guard termCommitted else {
                    remaining.append(read)
                    continue
                }
                read.waitingForTermCommit = false
                read.index = commitIndex
                read.seq = seq &+ 1
                heartbeatDue = true
            }
            if read.seq <= confirmedSeq {
                answer(read, index: read.index)
            } else {
                remaining.append(read)
            }
        }
        pendingReads = remaining
    }

    func failPendingReads() {
        for read in pendingReads { answer(read, index: 0) }
        pendingReads = []
    }

    private func answer(_ read: PendingRead, index: UInt64) {
        if read.requester == id {
            readStates.append(ReadState(context: read.context, index: index))
        } else {
            send(.readIndexResponse(ReadIndexResponse(term: term, readIndex: index)), to: read.requester,
                 context: read.context)
        }
    }
}
