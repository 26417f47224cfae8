import CacheStore
import RaftCore
import RaftStorage
import RaftWire

public struct SimulationOptions: Sendable {
    public var seed: UInt64
    /// Founding members: 3 or 5 (0: the seed chooses).
    public var nodeCount: Int
    /// Simulated time units with faults; a tick is `tickInterval` units.
    public var duration: UInt64
    /// Time allowed after healing for a leader to be elected and a write to commit everywhere.
    public var livenessBound: UInt64
    public var tickInterval: UInt64 = 10
    /// Print every event.
    public var verbose: Bool
    /// A stranger sends messages with extreme fields while faults last (nil: one seed in three).
    public var hostile: Bool?

    public init(
        seed: UInt64, nodeCount: Int = 0, duration: UInt64 = 5_000, livenessBound: UInt64 = 5_000, verbose: Bool = false,
        hostile: Bool? = nil
    ) {
        self.seed = seed
        self.hostile = hostile
        self.nodeCount = nodeCount
        self.duration = duration
        self.livenessBound = livenessBound
        self.verbose = verbose
    }
}

public struct SimulationReport: Sendable, CustomStringConvertible {
    public var seed: UInt64
    public var violation: String?
    public var nodes = 0
    public var leadersElected = 0
    public var committed: UInt64 = 0
    public var proposals = 0
    /// The leader's expiry and eviction commands among the proposals.
    public var maintenanceProposals = 0
    /// Increments of the session client applied (each once), and repeats answered as the first.
    public var sessionIncrements: UInt64 = 0
    public var sessionRepeats = 0
    public var crashes = 0
    /// Crashes of a server with writes handed to its disk and not yet durable.
    public var crashesLosingWrites = 0
    public var partitions = 0
    public var membershipChanges = 0
    public var transfers = 0
    public var snapshotsTaken = 0
    public var snapshotsInstalled = 0
    public var readsServed = 0
    public var leaseReads = 0
    public var messagesDelivered = 0
    public var hostileMessages = 0
    public var hostileRefusedByWire = 0

    public var passed: Bool { violation == nil }

    public var description: String {
        let outcome = violation.map { "FAILED: \($0)" } ?? "ok"
        return "seed \(seed): \(outcome) (\(nodes) nodes; \(leadersElected) leaders, \(committed) entries committed, "
             + "\(proposals) proposals (\(maintenanceProposals) expiring or evicting), \(readsServed) reads, \(leaseReads) lease reads, \(crashes) crashes (\(crashesLosingWrites) losing writes), "
            + "\(partitions) partitions, "
            + "\(membershipChanges) membership changes, \(transfers) transfers, \(snapshotsTaken) snapshots taken, "
            + "\(snapshotsInstalled) installed, \(messagesDelivered) messages"
            + (hostileMessages > 0 ? ", \(hostileMessages) hostile (\(hostileRefusedByWire) refused by the wire codec))" : ")")
    }
}

/// A whole cluster of RaftCores in one process, under a network that drops, delays,
/// duplicates, reorders and partitions, with crashes, restarts, membership changes, leader
/// transfers, snapshots, reads and writes throughout - all decided by one seed, so a run
/// replays exactly.
public final class Simulation: SimNodeObserver {
    private let options: SimulationOptions
    private var rng: SplitMix64
    private var network = SimNetwork()
    private var nodes: [NodeID: SimNode] = [:]
    private var phases: [NodeID: UInt64] = [:]
    private var checker = SafetyChecker()
    private var report: SimulationReport
    private var now: UInt64 = 0
    private var nextNodeNumber = 1
    private var nextContext: UInt64 = 1
    /// For each read asked for: the highest index applied anywhere when it was asked.
    private var readFloors: [UInt64: UInt64] = [:]
    private var faultsOn = true
    /// Servers removed from the configuration (at the index of the change), which may rejoin.
    private var removed: [NodeID: UInt64] = [:]
    private var livenessReads: Set<UInt64> = []
    private var livenessReadsFailed: Set<UInt64> = []
    private let preVote: Bool
    private let checkQuorum: Bool
    /// Per seed: one entry per AppendEntries and one in flight leave the most room for
    /// partial replication; larger values test batching and pipelining.
    private let maxMessageBytes: Int
    private let maxInflight: Int
    /// A window of bytes that holds a few small entries, or one never reached.
    private let maxInflightBytes: Int
    private var intruder: HostileSender?
    private var sessionClient = SessionClient()
    /// How long a write takes to be durable on this seed's disks, in time units (a tick is 10).
    private let diskLatency: ClosedRange<UInt64>

    public init(options: SimulationOptions) {
        self.options = options
        rng = SplitMix64(seed: options.seed)
        report = SimulationReport(seed: options.seed)
        maxMessageBytes = [1, 256, 4_096].randomElement(using: &rng)!
        maxInflight = [1, 8].randomElement(using: &rng)!
        maxInflightBytes = [512, 8 << 20].randomElement(using: &rng)!
        preVote = Int.random(in: 0..<10, using: &rng) < 8
        checkQuorum = Int.random(in: 0..<10, using: &rng) < 8
        diskLatency = [0...1, 1...5, 1...30].randomElement(using: &rng)!
        let count = options.nodeCount > 0 ? options.nodeCount : (Bool.random(using: &rng) ? 3 : 5)
        let servers = (0..<count).map { _ in newServer() }
        for server in servers {
            addNode(server.id, address: server.address, state: RaftCore.bootstrapState(servers: servers))
        }
        report.nodes = count
        if options.hostile ?? (options.seed % 3 == 0) { intruder = HostileSender() }
    }

    public func run() -> SimulationReport {
        network.dropRate = Double.random(in: 0...0.2, using: &rng)
        network.duplicateRate = Double.random(in: 0...0.1, using: &rng)
        while now < options.duration && checker.violation == nil {
            injectFaults()
            clientTraffic()
            intrude()
            step()
        }
        if checker.violation == nil { checkLiveness() }
        checkAllLogs()
        report.violation = checker.violation
        report.hostileMessages = intruder?.sent ?? 0
        report.hostileRefusedByWire = intruder?.refusedByWire ?? 0
        report.leadersElected = checker.leaderCount
        report.committed = checker.highestCommitted
        report.sessionIncrements = sessionClient.sequence - 1
        report.sessionRepeats = sessionClient.repeatsAnswered
        return report
    }

    // MARK: Time

    private func step() {
        now += 1
        for id in nodes.keys.sorted() {
            guard let node = nodes[id] else { continue }
            node.diskTime(now)
            drive(node)
        }
        for id in nodes.keys.sorted() {
            guard let node = nodes[id], let core = node.core else { continue }
            if (now + phases[id]!) % options.tickInterval == 0 {
                core.now = now
                core.tick()
                drive(node)
            }
        }
        for message in network.deliverable(now: now) {
            guard let node = nodes[message.to], let core = node.core else { continue }
            report.messagesDelivered += 1
            node.stash(snapshotOf: message)
            core.step(message)
            drive(node)
        }
        if now % 200 == 0 { checkAllLogs() }
    }

    /// Carries out everything a node's core has ready, checking safety as it goes.
    private func drive(_ node: SimNode) {
        guard let core = node.core else { return }
        node.run()
        guard node.isUp else { return }
        let committedSome = node.appliedInRun > 0
        let committedEarlierTerm = node.appliedEarlierTermInRun
        var newLeader = false
        if core.isLeader && checker.observeLeader(node.id, term: core.term) {
            newLeader = true
            trace("\(node.id) leads term \(core.term) (last index \(core.lastIndex))")
            checker.checkLeaderCompleteness(core)
        }
        // Crashes at the worst moments: a leader just elected (its no-op not yet replicated),
        // one that has just committed (its followers not yet told), above all entries of
        // earlier terms (where Raft's commit rule matters most), and one whose AppendEntries
        // are out while its own write is not yet durable.
        let worstMoment = (newLeader && chance(100)) || (committedEarlierTerm && chance(300)) || (committedSome && chance(20))
            || (node.storage.hasPending && chance(5))
        if faultsOn && core.isLeader && worstMoment {
            crash(node, why: newLeader ? "just elected" : committedSome ? "just committed" : "its own write not yet durable")
        }
    }

    // MARK: What the nodes do

    func sent(_ message: Message, by node: SimNode) {
        // Every message a core sends must pass the wire codec, as between real nodes.
        if message.body.afterWire == nil {
            checker.fail("\(node.id) sent a message the wire codec refuses: \(message.body)")
        }
        network.send(message, now: now, rng: &rng)
    }

    func applied(_ entry: Entry, outcome: CacheStore.Outcome, by node: SimNode) {
        checker.observeApplied(entry, by: node.id, stateHash: node.stateMachine.hash)
        if let violation = sessionClient.observe(entry, outcome: outcome) { checker.fail("\(node.id): \(violation)") }
    }

    func installed(_ state: SimStateMachine, by node: SimNode) {
        report.snapshotsInstalled += 1
        checker.observeState(index: state.appliedIndex, hash: state.hash, by: node.id)
    }

    func served(_ read: ReadState, by node: SimNode) {
        guard read.succeeded else {
            livenessReadsFailed.insert(read.context)
            return
        }
        report.readsServed += 1
        livenessReads.remove(read.context)
        if let floor = readFloors[read.context], read.index < floor {
            checker.fail("linearizable read: \(node.id) read at index \(read.index), but \(floor) was applied before the read was asked")
        }
    }

    // MARK: Faults and operations

    private func chance(_ percentTenths: Int) -> Bool {
        Int.random(in: 0..<1000, using: &rng) < percentTenths
    }

    private var upNodes: [SimNode] { nodes.keys.sorted().compactMap { nodes[$0] }.filter(\.isUp) }
    private var downNodes: [SimNode] { nodes.keys.sorted().compactMap { nodes[$0] }.filter { !$0.isUp } }
    private var leader: SimNode? {
        upNodes.filter { $0.core!.isLeader }.max { $0.core!.term < $1.core!.term }
    }

    private func injectFaults() {
        guard faultsOn else { return }
        // Any server may crash, the leader most often; safety must hold even with all down.
        if chance(3), let node = (chance(500) ? leader : nil) ?? upNodes.randomElement(using: &rng) {
            crash(node, why: "at random")
        }
        if chance(4), let node = downNodes.randomElement(using: &rng) {
            trace("restart \(node.id)")
            node.start()
            drive(node)
        }
        if chance(2) { partition() }
        if chance(3), !network.cut.isEmpty {
            trace("heal")
            network.heal()
        }
        if chance(2) { changeMembership() }
        if chance(1), let leader {
            let target = leader.core!.configuration.servers.filter { $0.suffrage == .voter }.randomElement(using: &rng)?.id
            if (try? leader.core!.transferLeadership(to: Bool.random(using: &rng) ? target : nil)) != nil,
                leader.core!.transferInProgress
            {
                trace("transfer leadership from \(leader.id) to \(target ?? "the most up-to-date voter")")
                report.transfers += 1
                drive(leader)
            }
        }
        if chance(5), let node = upNodes.randomElement(using: &rng),
            node.stateMachine.appliedIndex >= node.snapshotIndex + 20
        {
            node.takeSnapshot()
            report.snapshotsTaken += 1
            trace("\(node.id) snapshots through \(node.snapshotIndex)")
            drive(node)
        }
    }

    /// The stranger's messages, while faults last: no core may trap, and safety must hold.
    /// Delivered at once, so the term each was made against is still the target's.
    private func intrude() {
        guard faultsOn, intruder != nil, chance(50), let node = upNodes.randomElement(using: &rng), let core = node.core
        else { return }
        let members = leader?.core?.configuration.servers.map(\.id) ?? []
        guard let message = intruder!.message(
            to: node.id, targetTerm: core.term, openToLeaders: core.takesAnyLeaderTerm, members: members, rng: &rng)
        else { return }
        trace("intruder sends \(message.body) to \(node.id)")
        node.stash(snapshotOf: message)
        core.step(message)
        drive(node)
    }

    private func crash(_ node: SimNode, why: String) {
        if node.storage.hasPending { report.crashesLosingWrites += 1 }
        trace("crash \(node.id) (\(why)\(node.storage.hasPending ? "; writes not yet durable are lost" : ""))")
        node.crash()
        report.crashes += 1
    }

    private func partition() {
        let ids = nodes.keys.sorted()
        var side: Set<NodeID> = []
        if chance(300), let leader {
            side = [leader.id]
        } else {
            for id in ids where Bool.random(using: &rng) { side.insert(id) }
        }
        guard !side.isEmpty && side.count < ids.count else { return }
        let oneWay = chance(250)
        for a in side {
            for b in ids where !side.contains(b) {
                network.cut.insert(.init(from: a, to: b))
                if !oneWay { network.cut.insert(.init(from: b, to: a)) }
            }
        }
        report.partitions += 1
        trace("partition \(side.sorted())\(oneWay ? " cannot send to" : " | ") the rest")
    }

    private func changeMembership() {
        guard let leader, let core = leader.core else { return }
        let members = core.configuration.servers
        let voters = members.filter { $0.suffrage == .voter }
        let change: MembershipChange
        var joining: Server?
        switch Int.random(in: 0..<10, using: &rng) {
        case 0..<4 where members.count < 7:
            let server = newServer()
            joining = server
            change = chance(300) ? .addLearner(id: server.id, address: server.address) : .addVoter(id: server.id, address: server.address)
        case 4..<8 where voters.count > 3:
            change = .remove(id: members.randomElement(using: &rng)!.id)
        case 8 where members.contains { $0.suffrage == .learner }:
            change = .promote(id: members.first { $0.suffrage == .learner }!.id)
        case 9:
            // A removed server rejoins: once its removal has committed it may even come back
            // as a new process with an empty disk at a new address.
            guard let id = removed.keys.sorted().randomElement(using: &rng), let node = nodes[id],
                !members.contains(where: { $0.id == id }), core.commitIndex >= removed[id]!
            else { return }
            if Bool.random(using: &rng) {
                node.wipe(newAddress: node.address + "'")
                trace("\(id) comes back empty at \(node.address)")
                drive(node)
            }
            change = .addVoter(id: id, address: node.address)
        default:
            return
        }
        guard let index = try? core.proposeMembership(change).index else { return }
        trace("\(leader.id) proposes \(change)")
        report.membershipChanges += 1
        switch change {
        case .remove(let id): removed[id] = index
        case .addVoter(let id, _), .addLearner(let id, _): removed[id] = nil
        default: break
        }
        if let joining { addNode(joining.id, address: joining.address, state: PersistentState()) }
        drive(leader)
    }

    private func clientTraffic() {
        if chance(60), let leader {
            let command = SimStateMachine.command(number: report.proposals, now: now, known: leader.stateMachine.version(of:), rng: &rng)
            if (try? leader.core!.propose(command)) != nil {
                report.proposals += 1
                drive(leader)
            }
        }
        // The session client sends its increment to whoever leads now, again until it is applied.
        if let leader, let command = sessionClient.due(now: now), (try? leader.core!.propose(command)) != nil {
            report.proposals += 1
            drive(leader)
        }
        if chance(10), let leader, let command = leader.stateMachine.maintenance(now: now, rng: &rng) {
            if (try? leader.core!.propose(command)) != nil {
                report.proposals += 1
                report.maintenanceProposals += 1
                drive(leader)
            }
        }
        if chance(20), let node = upNodes.randomElement(using: &rng) {
            let context = nextContext
            nextContext += 1
            readFloors[context] = checker.highestCommitted
            node.core!.readIndex(context: context)
            drive(node)
        }
        // Every server that believes it leads, deposed ones included, tries a lease read.
        if chance(20) {
            for node in upNodes where node.core!.isLeader {
                node.core!.now = now
                guard let index = node.core!.leaseRead() else { continue }
                report.leaseReads += 1
                if index < checker.highestCommitted {
                    checker.fail("lease read: \(node.id) read at index \(index), but \(checker.highestCommitted) was committed")
                }
            }
        }
    }

    // MARK: Liveness

    /// With every fault healed and every server up, within the bound: a leader is elected,
    /// a new write commits and every member applies it, staging servers are promoted, no
    /// transfer hangs, and a linearizable read succeeds on every member.
    private func checkLiveness() {
        faultsOn = false
        network.heal()
        network.dropRate = 0
        network.duplicateRate = 0
        for node in downNodes {
            node.start()
            drive(node)
        }
        let deadline = now + options.livenessBound
        var proposal: (index: UInt64, term: UInt64)?
        var unmet = "no leader"
        while now < deadline && checker.violation == nil {
            step()
            guard let leader, let core = leader.core else {
                unmet = "no leader"
                continue
            }
            // A proposal whose entry the leader does not hold was lost: propose again.
            if let p = proposal, core.termOfEntry(at: p.index) != p.term,
                core.appliedIndex >= p.index || core.term != p.term
            {
                proposal = nil
            }
            if proposal == nil {
                proposal = try? core.propose((try? Command(op: .set, key: Array("liveness".utf8), value: Array("\(now)".utf8)).wireBytes()) ?? [])
                drive(leader)
            }
            guard let p = proposal, converged(on: core, through: p.index) else {
                unmet = "the members did not all apply a new write"
                continue
            }
            if core.configuration.servers.contains(where: { $0.suffrage == .staging }) {
                unmet = "a staging server was never promoted"
                continue
            }
            if core.transferInProgress {
                unmet = "a leadership transfer never ended"
                continue
            }
            if livenessReads.isEmpty && livenessReadsFailed.isEmpty && readsAsked {
                return
            }
            unmet = "a linearizable read did not succeed on every member"
            if !readsAsked || !livenessReadsFailed.isEmpty {
                askReadOnEveryMember(core)
            }
        }
        if checker.violation == nil {
            checker.fail("liveness: \(unmet) within \(options.livenessBound) time units after healing")
            for id in nodes.keys.sorted() { trace(describe(nodes[id]!)) }
        }
    }

    private var readsAsked = false

    private func askReadOnEveryMember(_ leaderCore: RaftCore) {
        readsAsked = true
        livenessReads = []
        livenessReadsFailed = []
        for id in leaderCore.configuration.servers.map(\.id) {
            guard let node = nodes[id], let core = node.core else { continue }
            let context = nextContext
            nextContext += 1
            readFloors[context] = checker.highestCommitted
            livenessReads.insert(context)
            core.readIndex(context: context)
            drive(node)
        }
    }

    private func converged(on core: RaftCore, through index: UInt64) -> Bool {
        let members = core.configuration.servers.map(\.id)
        let states = members.compactMap { nodes[$0]?.stateMachine }
        guard states.count == members.count, let first = states.first, first.appliedIndex >= index else { return false }
        return states.allSatisfy { $0.appliedIndex == first.appliedIndex && $0.hash == first.hash }
    }

    // MARK: Helpers

    private func checkAllLogs() {
        let logs = nodes.keys.sorted().map { (id: $0, entries: nodes[$0]!.disk.entries) }
        for i in logs.indices {
            for j in logs.indices where j > i { checker.checkLogMatching(logs[i], logs[j]) }
        }
    }

    private func newServer() -> Server {
        defer { nextNodeNumber += 1 }
        return Server(id: "n\(nextNodeNumber)", address: "sim-n\(nextNodeNumber):8081")
    }

    private func addNode(_ id: NodeID, address: String, state: PersistentState) {
        let options = RaftOptions(id: id, electionTicks: 10, heartbeatTicks: 1, maxInflightMessages: maxInflight,
                                  maxMessageBytes: maxMessageBytes, maxInflightBytes: maxInflightBytes, checkQuorum: checkQuorum, preVote: preVote,
                                  leaseDuration: RaftOptions.leaseDuration(electionTicks: 10, tick: self.options.tickInterval),
                                  randomSeed: rng.next())
        let disk = SimDisk(MemoryStorage(state), latency: diskLatency, seed: rng.next())
        nodes[id] = SimNode(id: id, address: address, disk: disk, options: options, observer: self)
        phases[id] = UInt64.random(in: 0..<self.options.tickInterval, using: &rng)
        trace("start \(id)")
    }

    private func describe(_ node: SimNode) -> String {
        guard let core = node.core else { return "\(node.id): down" }
        let servers = core.configuration.servers.map { "\($0.id):\($0.suffrage)" }.joined(separator: ",")
        return "\(node.id): \(core.role) term \(core.term) leader \(core.leaderID ?? "-") last \(core.lastIndex) "
            + "commit \(core.commitIndex) applied \(node.stateMachine.appliedIndex) snapshot \(core.snapshotIndex) [\(servers)]"
            + core.followers.map { " \($0.id): match \($0.matchIndex) next \($0.nextIndex) \($0.state)" }.joined()
            + (core.transferInProgress ? " transferring" : "")
    }

    private func trace(_ text: @autoclosure () -> String) {
        if options.verbose { print("[\(now)] \(text())") }
    }
}
