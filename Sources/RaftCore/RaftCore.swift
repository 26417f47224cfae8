import RaftWire

/// The Raft algorithm as a deterministic state machine. It does no I/O, reads no clock and
/// starts no thread: the driver feeds it ticks, messages and requests, then takes a `Ready`
/// and carries it out (persist, send, apply) before the next input.
public final class RaftCore {
    public enum Role: Sendable, Equatable {
        case follower, preCandidate, candidate, leader
    }

    public let options: RaftOptions
    public var id: NodeID { options.id }

    public internal(set) var role: Role = .follower
    public internal(set) var term: UInt64 = 0
    public internal(set) var vote: NodeID = ""
    public internal(set) var leaderID: NodeID?
    public internal(set) var commitIndex: UInt64 = 0
    /// The index up to which committed entries have been handed to the driver to apply.
    public internal(set) var appliedIndex: UInt64 = 0
    /// The configuration in force: the latest one in the log, committed or not.
    public internal(set) var configuration = Configuration() {
        didSet { voters = configuration.servers.filter { $0.suffrage == .voter }.map(\.id) }
    }
    /// The voters of `configuration`, kept with it: commits and reads ask for them on every answer.
    private(set) var voters: [NodeID] = []
    var configurationIndex: UInt64 = 0

    var log: RaftLog
    /// The last index the driver has reported durable (`persisted(through:term:)`). A leader
    /// counts only these of its own entries toward a commit, so its AppendEntries may go out
    /// while its own disk write is still running.
    var stableIndex: UInt64 = 0
    var rng: SplitMix64

    var electionElapsed = 0
    /// Ticks since this server started, up to electionTicks: until then, with leases, it
    /// refuses votes as if it heard from a leader, since before a restart it may have.
    var ticksSinceStart = 0
    /// Ticks since a leader's AppendEntries or snapshot was last taken (0 on a leader), up to
    /// `lostTicks`: a server cut off that long may take a leader's term however far ahead.
    var ticksWithoutLeader = 0
    var heartbeatElapsed = 0
    var randomizedElectionTimeout = 0
    /// Voters' answers in the current (pre-)election.
    var votes: [NodeID: Bool] = [:]
    /// Elections this server started as a candidate (pre-votes are not elections): a count
    /// for the node's metrics.
    public internal(set) var electionsStarted: UInt64 = 0

    // Leader state.
    var progress: [NodeID: Progress] = [:]
    /// The index of the newest configuration (or the first entry of this term); no other
    /// change is accepted until it commits.
    var pendingConfigurationIndex: UInt64 = 0
    var transferTarget: NodeID?
    /// Numbers every AppendEntries and snapshot a leader sends. It starts at term << 32 in each
    /// term, so an answer to a request of an earlier term (or an earlier run) can never
    /// pass for one to a request sent after a read was registered.
    var seq: UInt64 = 0
    var pendingReads: [PendingRead] = []
    /// The driver's monotonic clock, in nanoseconds: set before each tick and lease read.
    public var now: UInt64 = 0
    /// Heartbeat rounds: messages sent from `at` on carry seq >= `seq`. A quorum's answer
    /// to one of them starts a lease at `at`.
    var leaseCheckpoints: [(seq: UInt64, at: UInt64)] = []
    /// This leader sent TimeoutNow: another server may win without waiting for the lease.
    var leaseRevoked = false
    /// Reads a follower asked of its leader: context -> ticks waited.
    var forwardedReads: [UInt64: Int] = [:]
    var heartbeatDue = false
    var commitChanged = false

    // Output not yet taken by `ready()`.
    var messages: [Message] = []
    var readStates: [ReadState] = []
    var snapshotToInstall: SnapshotMetadata?
    var lastHardState: HardState

    public init(options: RaftOptions, state: PersistentState) {
        self.options = options
        rng = SplitMix64(seed: options.randomSeed)
        log = RaftLog(snapshot: state.snapshot, entries: state.entries)
        // A snapshot's term is one this server has reached, whatever the hard state lost.
        term = max(state.hardState.term, state.snapshot.lastIncludedTerm)
        vote = state.hardState.term == term ? state.hardState.vote : ""
        commitIndex = max(state.hardState.commit, state.snapshot.lastIncludedIndex)
        precondition(commitIndex <= log.lastIndex, "commit index \(commitIndex) is past the log's end \(log.lastIndex)")
        appliedIndex = state.snapshot.lastIncludedIndex
        stableIndex = log.lastIndex
        lastHardState = state.hardState
        refreshConfiguration()
        resetElectionTimer()
    }

    /// The persistent state of a node that founds a cluster of `servers`: their
    /// configuration as the committed entry 1 of term 1. Every founding member starts from
    /// the same state; a joining node starts from an empty one.
    public static func bootstrapState(servers: [Server]) -> PersistentState {
        let configuration = Configuration(servers: servers)
        let data = (try? configuration.wireBytes()) ?? []
        return PersistentState(
            hardState: HardState(term: 1, vote: "", commit: 1),
            entries: [Entry(term: 1, index: 1, type: .configuration, data: data)])
    }

    // MARK: Reading the state

    public var lastIndex: UInt64 { log.lastIndex }
    public var lastTerm: UInt64 { log.lastTerm }
    public var snapshotIndex: UInt64 { log.snapshotIndex }
    public var hardState: HardState { HardState(term: term, vote: vote, commit: commitIndex) }
    public var isLeader: Bool { role == .leader }

    /// This server's place in the configuration (nil: not a member).
    public var suffrage: Suffrage? {
        configuration.servers.first { $0.id == id }?.suffrage
    }

    var isVoter: Bool { suffrage == .voter }

    var quorum: Int { voters.count / 2 + 1 }

    /// The highest value at least a quorum of voters has reached (0 without voters), without
    /// building an array: this runs on every AppendEntries answer.
    func quorumValue(_ value: (NodeID) -> UInt64) -> UInt64 {
        var best: UInt64 = 0
        for candidate in voters {
            let reached = value(candidate)
            guard reached > best else { continue }
            var count = 0
            for voter in voters where value(voter) >= reached { count += 1 }
            if count >= quorum { best = reached }
        }
        return best
    }

    /// Four election timeouts without a leader: the server has lost its cluster.
    var lostTicks: Int { 4 * options.electionTicks }

    public func termOfEntry(at index: UInt64) -> UInt64? {
        log.term(at: index)
    }

    /// The entries the core holds from `start` through `end` (within the log).
    public func entries(from start: UInt64, through end: UInt64) -> [Entry] {
        log.entries(from: start, through: end)
    }

    // MARK: Output

    public var hasReady: Bool {
        !messages.isEmpty || !readStates.isEmpty || snapshotToInstall != nil || log.unstableFrom != nil
            || hardState != lastHardState || commitIndex > appliedIndex
            || (isLeader && (heartbeatDue || commitChanged || replicationPending))
    }

    /// Takes everything the driver must now do (see `Ready`).
    public func ready() -> Ready {
        if isLeader { flushReplication() }
        var ready = Ready()
        ready.snapshot = snapshotToInstall
        snapshotToInstall = nil
        ready.entries = log.takeUnstable()
        if hardState != lastHardState {
            ready.hardState = hardState
            lastHardState = hardState
        }
        ready.messages = messages
        messages = []
        if commitIndex > appliedIndex {
            ready.committedEntries = log.entries(from: max(appliedIndex + 1, log.firstIndex), through: commitIndex)
            appliedIndex = commitIndex
        }
        ready.readStates = readStates
        readStates = []
        return ready
    }

    /// The driver has made the log durable through `index` (the last entry of a Ready it
    /// persisted, of `term`).
    public func persisted(through index: UInt64, term entryTerm: UInt64) {
        guard index > stableIndex, log.term(at: index) == entryTerm else { return }
        stableIndex = index
        maybeCommit()
    }

    // MARK: Time

    /// One tick of the clock (the driver's heartbeat interval / heartbeatTicks).
    public func tick() {
        electionElapsed += 1
        ticksSinceStart = min(ticksSinceStart + 1, options.electionTicks)
        ticksWithoutLeader = isLeader ? 0 : min(ticksWithoutLeader + 1, lostTicks)
        tickForwardedReads()
        if isLeader {
            tickLeader()
        } else if electionElapsed >= randomizedElectionTimeout && isVoter {
            startElection(transfer: false)
        }
    }

    private func tickLeader() {
        heartbeatElapsed += 1
        if heartbeatElapsed >= options.heartbeatTicks {
            heartbeatElapsed = 0
            heartbeatDue = true
            recordLeaseCheckpoint()
            for peer in progress.keys where peer != id {
                progress[peer]!.heartbeatTick(
                    lastIndex: log.lastIndex, snapshotIndex: log.snapshotIndex, snapshotTimeout: 2 * options.electionTicks)
            }
        }
        if electionElapsed >= options.electionTicks {
            electionElapsed = 0
            if options.checkQuorum && !quorumRecentlyActive() {
                becomeFollower(term: term, leader: nil)
                return
            }
            for peer in progress.keys where peer != id { progress[peer]!.recentActive = false }
            // A transfer that has not finished within an election timeout is abandoned.
            transferTarget = nil
        }
    }

    private func quorumRecentlyActive() -> Bool {
        voters.filter { $0 == id || progress[$0]?.recentActive == true }.count >= quorum
    }

    // MARK: Role changes

    func resetElectionTimer() {
        electionElapsed = 0
        randomizedElectionTimeout = options.electionTicks + Int.random(in: 0..<options.electionTicks, using: &rng)
    }

    func becomeFollower(term newTerm: UInt64, leader: NodeID?) {
        let wasLeader = isLeader
        if newTerm != term || leader != leaderID { failForwardedReads() }
        if newTerm > term {
            term = newTerm
            vote = ""
        }
        role = .follower
        leaderID = leader
        resetElectionTimer()
        if wasLeader { stepDownCleanup() }
    }

    private func stepDownCleanup() {
        progress = [:]
        leaseCheckpoints = []
        transferTarget = nil
        heartbeatDue = false
        commitChanged = false
        failPendingReads()
    }

    func becomeLeader() {
        precondition(role == .candidate, "only a candidate becomes leader")
        role = .leader
        leaderID = id
        heartbeatElapsed = 0
        electionElapsed = 0
        transferTarget = nil
        seq = term &<< 32
        progress = [:]
        leaseCheckpoints = []
        leaseRevoked = false
        refreshConfiguration()
        // Commits of earlier terms' entries, and fences off membership changes until it commits.
        log.append(Entry(term: term, index: log.lastIndex + 1, type: .noop))
        pendingConfigurationIndex = log.lastIndex
        heartbeatDue = true
        maybeCommit()
    }

    /// Keeps `configuration` equal to the newest one in the log, and the leader's followers
    /// equal to its servers.
    func refreshConfiguration() {
        (configuration, configurationIndex) = log.configuration(atOrBefore: log.lastIndex)
        guard isLeader else { return }
        // A server at a new address is a new process whose log we know nothing of.
        for server in configuration.servers where server.id != id && progress[server.id]?.address != server.address {
            var peer = Progress(next: log.lastIndex + 1, address: server.address)
            peer.recentActive = true
            progress[server.id] = peer
        }
        for peer in progress.keys where !configuration.servers.contains(where: { $0.id == peer }) {
            progress[peer] = nil
        }
    }

    func send(_ body: MessageBody, to peer: NodeID, context: UInt64 = 0) {
        messages.append(Message(from: id, to: peer, context: context, body: body))
    }
}

extension RaftCore {
    /// On a leader: each follower's replication state, by id.
    public var followers: [FollowerStatus] {
        progress.keys.sorted().map { id in
            let p = progress[id]!
            let state = switch p.state {
            case .probe: "probe"
            case .replicate: "replicate"
            case .snapshot: "snapshot"
            }
            return FollowerStatus(
                id: id, matchIndex: p.match, nextIndex: p.next, lag: log.lastIndex - min(p.match, log.lastIndex), state: state)
        }
    }
}
