import RaftWire

extension RaftCore {
    /// Whether `step` would act on this message rather than drop it (a stale one it answers
    /// counts as dropped): the driver checks a snapshot's last chunk against it first.
    public func accepts(_ message: Message) -> Bool {
        isForUs(message) && message.term >= term
    }

    /// Addressed to this server, from another, and well formed: `step` goes on with it.
    private func isForUs(_ message: Message) -> Bool {
        message.to == id && message.from != id && isWellFormed(message)
    }

    /// Handles one message from a peer.
    public func step(_ message: Message) {
        guard isForUs(message) else { return }
        guard admitTerm(of: message) else { return }

        switch message.body {
        case .requestVote(let request):
            handleVoteRequest(request, from: message)
        case .requestVoteResponse(let response):
            handleVoteResponse(response, from: message.from)
        case .appendEntries(let request):
            if role != .follower { becomeFollower(term: term, leader: request.leaderID) }
            handleAppendEntries(request, from: message)
        case .appendEntriesResponse(let response):
            if isLeader { handleAppendEntriesResponse(response, from: message.from) }
        case .installSnapshot(let request):
            if role != .follower { becomeFollower(term: term, leader: request.leaderID) }
            handleInstallSnapshot(request, from: message)
        case .installSnapshotResponse(let response):
            if isLeader { handleInstallSnapshotResponse(response, from: message.from) }
        case .timeoutNow:
            send(.timeoutNowResponse(TimeoutNowResponse(term: term)), to: message.from, context: message.context)
            if isVoter && !isLeader { startElection(transfer: true) }
        case .timeoutNowResponse:
            break
        case .readIndex:
            handleReadIndexRequest(from: message)
        case .readIndexResponse(let response):
            if forwardedReads.removeValue(forKey: message.context) != nil {
                readStates.append(ReadState(context: message.context, index: response.readIndex))
            }
        }
    }

    /// A message with a higher term than ours from a server outside our configuration, or one
    /// more than this far ahead, is dropped: no server misses
    /// 2^20 elections (back to back, a day of them; at one a minute, two years), so such a
    /// term is a stranger's, and each one it made us take would bring the term closer to the
    /// wire's limit (Protos/README.md, "Numbers"), past which no election could be held. A
    /// leader's AppendEntries or snapshot is taken all the same by a server at term 0 (it is
    /// joining and knows no cluster) or one that has heard no leader for four election
    /// timeouts (it is lost, and the cluster's term may have moved on by many steps, each
    /// allowed): a stranger can then mislead only a server that is cut off already.
    public static let maxTermLeap: UInt64 = 1 << 20

    /// Joining, or lost: a leader's term is taken however far ahead (`maxTermLeap`).
    public var takesAnyLeaderTerm: Bool { term == 0 || ticksWithoutLeader >= lostTicks }

    /// Refuses requests meant for another server (an address now used by someone else), that
    /// claim a sender other than the one they came from, whose term leaps too far ahead, or
    /// whose entries do not follow on from their previous index with sensible terms; and
    /// answers claiming entries this leader never sent.
    private func isWellFormed(_ message: Message) -> Bool {
        if message.term > term && !(message.isFromLeader && takesAnyLeaderTerm) {
            // Only a member moves our term, and by a sane step: a stranger that moved some
            // servers' terms and not others' would leave them unable to elect anyone.
            guard message.term - term <= Self.maxTermLeap, configuration.servers.contains(where: { $0.id == message.from })
            else { return false }
        }
        switch message.body {
        case .requestVote(let m):
            return (m.targetID.isEmpty || m.targetID == id) && m.candidateID == message.from
        case .appendEntries(let m):
            guard (m.targetID.isEmpty || m.targetID == id) && m.leaderID == message.from else { return false }
            var previousTerm = m.prevLogTerm
            for (offset, entry) in m.entries.enumerated() {
                guard entry.index == m.prevLogIndex + 1 + UInt64(offset), entry.term >= previousTerm, entry.term <= m.term
                else { return false }
                previousTerm = entry.term
            }
            return true
        case .installSnapshot(let m):
            return (m.targetID.isEmpty || m.targetID == id) && m.leaderID == message.from
                && m.metadata.lastIncludedTerm <= m.term
        case .timeoutNow(let m):
            // Only from our leader, in its term: anyone else's would end its lease early.
            return (m.targetID.isEmpty || m.targetID == id) && m.leaderID == message.from
                && m.term == term && leaderID == message.from
        case .readIndex(let m):
            return m.requesterID == message.from
        case .appendEntriesResponse(let m):
            return !m.success || m.matchIndex <= log.lastIndex
        default:
            return true
        }
    }

    /// Raft's term rules, before a message is handled. Returns false when it must go no further.
    private func admitTerm(of message: Message) -> Bool {
        let messageTerm = message.term
        switch message.body {
        case .readIndex, .readIndexResponse:
            // A read the leader confirmed after it got the request is good whatever our term now.
            return true
        default:
            break
        }
        if messageTerm > term {
            switch message.body {
            case .requestVote(let request):
                // Leader stickiness: while a leader is heard from, nobody unseats it
                // (unless the leader itself handed over with TimeoutNow).
                // With leases, a server that has just started counts as hearing from a
                // leader: before it stopped, it may have answered one's heartbeat.
                let justStarted = options.leaseDuration > 0 && ticksSinceStart < options.electionTicks
                let heardFromLeader = (leaderID != nil || justStarted) && electionElapsed < options.electionTicks
                // A transfer is honoured from a voter only: a stranger claiming one would end
                // the leader's lease while it still serves reads.
                let transfer = request.leadershipTransfer && voters.contains(message.from)
                if options.checkQuorum && heardFromLeader && !transfer {
                    send(.requestVoteResponse(RequestVoteResponse(term: term, voteGranted: false, preVote: request.preVote)),
                         to: message.from, context: message.context)
                    return false
                }
                if request.preVote { return true }
                becomeFollower(term: messageTerm, leader: nil)
            case .requestVoteResponse(let response) where response.preVote && response.voteGranted:
                // A granted pre-vote carries the term asked for, not the voter's.
                return true
            case .appendEntries(let request):
                becomeFollower(term: messageTerm, leader: request.leaderID)
            case .installSnapshot(let request):
                becomeFollower(term: messageTerm, leader: request.leaderID)
            case .timeoutNow(let request):
                becomeFollower(term: messageTerm, leader: request.leaderID)
            default:
                becomeFollower(term: messageTerm, leader: nil)
            }
        } else if messageTerm < term {
            // Answer stale requests with our term, so a deposed leader or a stale
            // candidate learns it; drop stale answers.
            switch message.body {
            case .appendEntries(let request):
                // seq 0: an answer to an old term's request must confirm nothing.
                send(.appendEntriesResponse(AppendEntriesResponse(
                    term: term, success: false, rejectIndex: request.prevLogIndex, lastLogIndex: log.lastIndex)),
                     to: message.from, context: message.context)
            case .installSnapshot:
                send(.installSnapshotResponse(InstallSnapshotResponse(term: term)), to: message.from, context: message.context)
            case .requestVote(let request):
                send(.requestVoteResponse(RequestVoteResponse(term: term, voteGranted: false, preVote: request.preVote)),
                     to: message.from, context: message.context)
            case .timeoutNow:
                send(.timeoutNowResponse(TimeoutNowResponse(term: term)), to: message.from, context: message.context)
            default:
                break
            }
            return false
        }
        return true
    }

    // MARK: Elections

    /// Starts an election at once, as a leadership transfer does: voters that still hear
    /// from a leader vote too. Only for a voter; tests use it to choose a leader.
    public func campaignNow() {
        guard isVoter, !isLeader else { return }
        startElection(transfer: true)
    }

    /// Starts a pre-vote, or an election right away when pre-vote is off or the leader
    /// handed over leadership.
    func startElection(transfer: Bool) {
        if options.preVote && !transfer {
            role = .preCandidate
            leaderID = nil
            votes = [:]
            resetElectionTimer()
            requestVotes(preVote: true, transfer: false)
        } else {
            campaign(transfer: transfer)
        }
    }

    private func campaign(transfer: Bool) {
        role = .candidate
        electionsStarted += 1
        term += 1
        vote = id
        leaderID = nil
        votes = [:]
        resetElectionTimer()
        requestVotes(preVote: false, transfer: transfer)
    }

    private func requestVotes(preVote: Bool, transfer: Bool) {
        votes[id] = true
        if tallyVotes(preVote: preVote) { return }
        let request = RequestVoteRequest(
            term: preVote ? term + 1 : term, candidateID: id, lastLogIndex: log.lastIndex, lastLogTerm: log.lastTerm,
            preVote: preVote, leadershipTransfer: transfer)
        for voter in voters where voter != id {
            var addressed = request
            addressed.targetID = voter
            send(.requestVote(addressed), to: voter)
        }
    }

    /// Acts on the votes so far; true when the (pre-)election is decided.
    private func tallyVotes(preVote: Bool) -> Bool {
        let granted = voters.filter { votes[$0] == true }.count
        let rejected = voters.filter { votes[$0] == false }.count
        if granted >= quorum {
            if preVote {
                campaign(transfer: false)
            } else {
                becomeLeader()
            }
            return true
        }
        if rejected >= quorum {
            becomeFollower(term: term, leader: nil)
            return true
        }
        return false
    }

    private func handleVoteRequest(_ request: RequestVoteRequest, from message: Message) {
        let canVote =
            vote == message.from || (vote.isEmpty && leaderID == nil) || (request.preVote && request.term > term)
        let grant = canVote && log.isUpToDate(lastIndex: request.lastLogIndex, lastTerm: request.lastLogTerm)
        if grant && !request.preVote {
            vote = message.from
            resetElectionTimer()
        }
        let responseTerm = grant && request.preVote ? request.term : term
        send(.requestVoteResponse(RequestVoteResponse(term: responseTerm, voteGranted: grant, preVote: request.preVote)),
             to: message.from, context: message.context)
    }

    private func handleVoteResponse(_ response: RequestVoteResponse, from voter: NodeID) {
        switch role {
        case .preCandidate where response.preVote:
            guard response.term == term + 1 || (!response.voteGranted && response.term == term) else { return }
        case .candidate where !response.preVote:
            guard response.term == term else { return }
        default:
            return
        }
        votes[voter] = response.voteGranted
        _ = tallyVotes(preVote: response.preVote)
    }
}
