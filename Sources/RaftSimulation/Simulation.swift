import RaftCore
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

    public init(seed: UInt64, nodeCount: Int = 0, duration: UInt64 = 5_000, livenessBound: UInt64 = 5_000, verbose: Bool = false) {
        self.seed = seed
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
    public var crashes = 0
    public var partitions = 0
    public var membershipChanges = 0
    public var transfers = 0
    public var snapshotsTaken = 0
    public var snapshotsInstalled = 0
    public var readsServed = 0
    public var messagesDelivered = 0

    public var passed: Bool { violation == nil }

    public var description: String {
        let outcome = violation.map { "FAILED: \($0)" } ?? "ok"
        return "seed \(seed): \(outcome) (\(nodes) nodes; \(leadersElected) leaders, \(committed) entries committed, "
            + "\(proposals) proposals, \(readsServed) reads, \(crashes) crashes, \(partitions) partitions, "
            + "\(membershipChanges) membership changes, \(transfers) transfers, \(snapshotsTaken) snapshots taken, "
            + "\(snapshotsInstalled) installed, \(messagesDelivered) messages)"
    }
}

/// A whole cluster of RaftCores in one process, under a network that drops, delays,
/// duplicates, reorders and partitions, with crashes, restarts, membership changes, leader
/// transfers, snapshots, reads and writes throughout - all decided by one seed, so a run
/// replays exactly.
public final class Simulation {
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

    public init(options: SimulationOptions) {
        self.options = options
        rng = SplitMix64(seed: options.seed)
        report = SimulationReport(seed: options.seed)
        let count = options.nodeCount > 0 ? options.nodeCount : (Bool.random(using: &rng) ? 3 : 5)
        let servers = (0..<count).map { _ in newServer() }
        for server in servers {
            addNode(server.id, state: RaftCore.bootstrapState(servers: servers))
        }
        report.nodes = count
    }

    public func run() -> SimulationReport {
        network.dropRate = Double.random(in: 0...0.2, using: &rng)
        network.duplicateRate = Double.random(in: 0...0.1, using: &rng)
        while now < options.duration && checker.violation == nil {
            injectFaults()
            clientTraffic()
            step()
        }
        if checker.violation == nil { checkLiveness() }
        checkAllLogs()
        report.violation = checker.violation
        report.leadersElected = checker.leaderCount
        report.committed = checker.highestCommitted
        return report
    }

    // MARK: Time

    private func step() {
        now += 1
        for id in nodes.keys.sorted() {
            guard let node = nodes[id], let core = node.core else { continue }
            if (now + phases[id]!) % options.tickInterval == 0 {
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
        while core.hasReady {
            let ready = core.ready()
            node.process(
                ready,
                send: { network.send($0, now: now, rng: &rng) },
                applied: { checker.observeApplied($0, by: node.id, stateHash: node.stateMachine.hash) },
                installed: { state in
                    report.snapshotsInstalled += 1
                    checker.observeState(index: state.appliedIndex, hash: state.hash, by: node.id)
                },
                readServed: { read in
                    guard read.succeeded else { return }
                    report.readsServed += 1
                    if let floor = readFloors.removeValue(forKey: read.context), read.index < floor {
                        checker.fail("linearizable read: \(node.id) read at index \(read.index), but \(floor) was applied before the read was asked")
                    }
                })
        }
        if core.isLeader && checker.observeLeader(node.id, term: core.term) {
            trace("\(node.id) leads term \(core.term) (last index \(core.lastIndex))")
            checker.checkLeaderCompleteness(core)
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
        if chance(2), let node = upNodes.randomElement(using: &rng), downNodes.count < (nodes.count - 1) / 2 {
            trace("crash \(node.id)")
            node.crash()
            network.dropAll(to: node.id)
            report.crashes += 1
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
            if (try? leader.core!.transferLeadership(to: Bool.random(using: &rng) ? target : nil)) != nil {
                trace("transfer leadership from \(leader.id) to \(target ?? "the most up-to-date voter")")
                report.transfers += 1
                drive(leader)
            }
        }
        if chance(5), let node = upNodes.randomElement(using: &rng),
            node.stateMachine.appliedIndex >= node.disk.snapshot.lastIncludedIndex + 20
        {
            node.takeSnapshot()
            report.snapshotsTaken += 1
            trace("\(node.id) snapshots through \(node.disk.snapshot.lastIncludedIndex)")
        }
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
        default:
            return
        }
        guard (try? core.proposeMembership(change)) != nil else { return }
        trace("\(leader.id) proposes \(change)")
        report.membershipChanges += 1
        if let joining { addNode(joining.id, state: PersistentState()) }
        drive(leader)
    }

    private func clientTraffic() {
        if chance(60), let leader {
            let key = "k\(Int.random(in: 0..<10, using: &rng))"
            if (try? leader.core!.propose(Array("\(key)=v\(report.proposals)".utf8))) != nil {
                report.proposals += 1
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
    }

    // MARK: Liveness

    /// With every fault healed and every server up, a leader must be elected and a new
    /// write must commit and be applied by every member within the bound.
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
        while now < deadline && checker.violation == nil {
            step()
            guard let leader, let core = leader.core else { continue }
            // A proposal whose entry the leader does not hold was lost: propose again.
            if let p = proposal, core.termOfEntry(at: p.index) != p.term,
                core.appliedIndex >= p.index || core.term != p.term
            {
                proposal = nil
            }
            if proposal == nil {
                proposal = try? core.propose(Array("liveness=\(now)".utf8))
                drive(leader)
            }
            if let p = proposal, converged(on: core, through: p.index) { return }
        }
        if checker.violation == nil {
            checker.fail("liveness: no leader committed a write to all members within \(options.livenessBound) time units after healing")
            for id in nodes.keys.sorted() { trace(describe(nodes[id]!)) }
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

    private func addNode(_ id: NodeID, state: PersistentState) {
        let options = RaftOptions(id: id, electionTicks: 10, heartbeatTicks: 1, maxInflightMessages: 8,
                                  maxMessageBytes: 256, randomSeed: rng.next())
        nodes[id] = SimNode(id: id, state: state, options: options)
        phases[id] = UInt64.random(in: 0..<self.options.tickInterval, using: &rng)
        trace("start \(id)")
    }

    private func describe(_ node: SimNode) -> String {
        guard let core = node.core else { return "\(node.id): down" }
        let servers = core.configuration.servers.map { "\($0.id):\($0.suffrage)" }.joined(separator: ",")
        return "\(node.id): \(core.role) term \(core.term) leader \(core.leaderID ?? "-") last \(core.lastIndex) "
            + "commit \(core.commitIndex) applied \(node.stateMachine.appliedIndex) snapshot \(core.snapshotIndex) [\(servers)]"
            + core.followers.map { " \($0.id): match \($0.match) next \($0.next) \($0.state) inflight \($0.inflight)" }.joined()
            + (core.transferInProgress ? " transferring" : "")
    }

    private func trace(_ text: @autoclosure () -> String) {
        if options.verbose { print("[\(now)] \(text())") }
    }
}
