import RaftWire

extension RaftCore {
    /// Proposes a single-server change. It takes effect on every server as soon as its entry
    /// is appended; no other change is accepted until it commits. Returns the entry's index
    /// and term (those of the current configuration's entry when the change is already in
    /// force): the change is done once an entry with both is applied.
    @discardableResult
    public func proposeMembership(_ change: MembershipChange) throws -> (index: UInt64, term: UInt64) {
        guard isLeader else { throw RaftError.notLeader(leader: leaderID) }
        guard pendingConfigurationIndex <= commitIndex else { throw RaftError.membershipChangeInProgress }
        guard let servers = try changedServers(change) else {
            return (configurationIndex, log.term(at: configurationIndex) ?? log.snapshot.lastIncludedTerm)
        }
        guard servers.contains(where: { $0.suffrage == .voter }) else { throw RaftError.noVotersLeft }
        let data = try Configuration(servers: servers).wireBytes()
        let proposal = try appendAsLeader(type: .configuration, data: data)
        pendingConfigurationIndex = proposal.index
        return proposal
    }

    /// The servers after `change`, or nil when it changes nothing.
    private func changedServers(_ change: MembershipChange) throws -> [Server]? {
        var servers = configuration.servers
        let position = { (id: NodeID) in servers.firstIndex { $0.id == id } }
        switch change {
        case .addVoter(let joining, let address), .addLearner(let joining, let address):
            if joining == id, let own = position(id), servers[own].address != address { throw RaftError.replacesLeader(id) }
        default:
            break
        }
        switch change {
        case .addVoter(let id, let address):
            if let i = position(id) {
                if servers[i].address == address && servers[i].suffrage != .learner { return nil }
                // A new address is a new process, maybe with an empty log: it catches up before it votes.
                servers[i] = Server(id: id, address: address, suffrage: .staging)
            } else {
                servers.append(Server(id: id, address: address, suffrage: .staging))
            }
        case .addLearner(let id, let address):
            if let i = position(id) {
                if servers[i] == Server(id: id, address: address, suffrage: .learner) { return nil }
                servers[i] = Server(id: id, address: address, suffrage: .learner)
            } else {
                servers.append(Server(id: id, address: address, suffrage: .learner))
            }
        case .promote(let id):
            guard let i = position(id) else { throw RaftError.unknownServer(id) }
            if servers[i].suffrage == .voter { return nil }
            servers[i].suffrage = .voter
        case .remove(let id):
            guard let i = position(id) else { return nil }
            servers.remove(at: i)
        }
        return servers
    }

    /// Promotes a staging server that has caught up with the commit index.
    func maybePromote(_ peer: NodeID) {
        guard let server = configuration.servers.first(where: { $0.id == peer }), server.suffrage == .staging,
            let match = progress[peer]?.match, match >= commitIndex, pendingConfigurationIndex <= commitIndex,
            transferTarget == nil
        else { return }
        _ = try? proposeMembership(.promote(id: peer))
    }

    /// What follows a commit on the leader.
    func afterCommit() {
        releaseConfirmedReads()
        // A leader that removed itself (or made itself a learner) leaves once that is committed.
        if configurationIndex <= commitIndex && !isVoter {
            becomeFollower(term: term, leader: nil)
            return
        }
        for server in configuration.servers where server.suffrage == .staging { maybePromote(server.id) }
    }

    // MARK: Leadership transfer

    /// Hands leadership to `target` (or to the most up-to-date voter): the leader stops
    /// taking proposals, brings the target up to date and tells it to start an election.
    /// Abandoned after an election timeout.
    public func transferLeadership(to target: NodeID?) throws {
        guard isLeader else { throw RaftError.notLeader(leader: leaderID) }
        let candidates = voters.filter { $0 != id }
        let chosen = target ?? candidates.max { (progress[$0]?.match ?? 0) < (progress[$1]?.match ?? 0) }
        guard let chosen else { throw RaftError.invalidTransferTarget(target ?? "") }
        if chosen == id { return }
        guard candidates.contains(chosen) else { throw RaftError.invalidTransferTarget(chosen) }
        if transferTarget == chosen { return }
        transferTarget = chosen
        electionElapsed = 0
        progress[chosen]?.timeoutNowSent = false
        maybeSendTimeoutNow(to: chosen)
    }

    public var transferInProgress: Bool { transferTarget != nil }

    func maybeSendTimeoutNow(to peer: NodeID) {
        guard transferTarget == peer, var state = progress[peer], !state.timeoutNowSent,
            state.match == log.lastIndex
        else { return }
        state.timeoutNowSent = true
        progress[peer] = state
        leaseRevoked = true
        send(.timeoutNow(TimeoutNowRequest(term: term, leaderID: id, targetID: peer)), to: peer)
    }
}
