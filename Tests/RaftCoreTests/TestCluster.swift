import RaftCore
import RaftStorage
import RaftWire

/// A few RaftCores wired together by hand: the test decides what is delivered, dropped or
/// ticked. Each core's Readies are carried out by the production ReadyProcessor against a
/// disk on which every write is durable at once; messages are queued.
final class TestCluster {
    /// The cluster's cores; a test may add or replace one (a joiner, a restart).
    var cores: [NodeID: RaftCore] = [:] {
        didSet { hostEveryCore() }
    }
    private var hosts: [NodeID: TestHost] = [:]
    var queue: [Message] = []
    var applied: [NodeID: [Entry]] = [:]
    var readStates: [NodeID: [ReadState]] = [:]
    /// Links that lose everything (both directions are listed separately).
    var cut: Set<[NodeID]> = []

    init(voters: [NodeID], learners: [NodeID] = [], options: (NodeID) -> RaftOptions = { TestCluster.options($0) }) {
        let servers = voters.map { Server(id: $0, address: "\($0):1") }
            + learners.map { Server(id: $0, address: "\($0):1", suffrage: .learner) }
        let state = RaftCore.bootstrapState(servers: servers)
        for server in servers {
            cores[server.id] = RaftCore(options: options(server.id), state: state)
        }
        hostEveryCore()
    }

    static func options(_ id: NodeID) -> RaftOptions {
        RaftOptions(id: id, electionTicks: 10, heartbeatTicks: 1, maxInflightMessages: 4, maxMessageBytes: 1 << 20,
                    randomSeed: id.utf8.reduce(0) { $0 &* 31 &+ UInt64($1) })
    }

    subscript(_ id: NodeID) -> RaftCore { cores[id]! }

    private func hostEveryCore() {
        for (id, core) in cores where hosts[id]?.core !== core { hosts[id] = TestHost(core: core) }
    }

    /// Carries out every node's Readies: keeps what was applied, queues the messages.
    func collect() {
        for id in cores.keys.sorted() {
            let host = hosts[id]!
            host.run()
            applied[id, default: []] += host.applied
            readStates[id, default: []] += host.readStates
            queue += host.sent
            host.applied = []
            host.readStates = []
            host.sent = []
        }
    }

    /// Delivers queued messages (and what they cause) until none are left.
    func deliverAll(maxRounds: Int = 1_000) {
        collect()
        var rounds = 0
        while !queue.isEmpty && rounds < maxRounds {
            let batch = queue
            queue = []
            for message in batch where !cut.contains([message.from, message.to]) {
                cores[message.to]?.step(message)
            }
            collect()
            rounds += 1
        }
    }

    func tick(_ id: NodeID, times: Int = 1) {
        for _ in 0..<times { cores[id]!.tick() }
        collect()
    }

    /// Makes `id` campaign at once (as a leadership transfer does, so followers that still
    /// hear from a leader vote too), and lets the election run.
    func elect(_ id: NodeID) {
        let core = cores[id]!
        core.campaignNow()
        deliverAll()
    }

    /// Ticks `id` until its own election timer starts an election, and lets it run.
    func electByTimeout(_ id: NodeID) {
        for _ in 0..<100 where !cores[id]!.isLeader {
            tick(id)
            deliverAll()
        }
    }

    func isolate(_ id: NodeID) {
        for other in cores.keys where other != id {
            cut.insert([id, other])
            cut.insert([other, id])
        }
    }

    func heal() { cut = [] }

    /// The messages of a kind now queued.
    func queued(_ match: (MessageBody) -> Bool) -> [Message] { queue.filter { match($0.body) } }
}

/// One test node's side of the ReadyProcessor: what it sent, applied and confirmed, kept for
/// the cluster to collect.
private final class TestHost: ReadyHost {
    let core: RaftCore
    var sent: [Message] = []
    var applied: [Entry] = []
    var readStates: [ReadState] = []
    private var scheduled: [@Sendable () -> Void] = []
    private var processor: ReadyProcessor!

    init(core: RaftCore) {
        self.core = core
        processor = ReadyProcessor(core: core, storage: InstantDisk(), recovered: HardState(), host: self)
    }

    /// Carries out what the core has ready, and what that causes, until quiet.
    func run() {
        processor.pump()
        while !scheduled.isEmpty { scheduled.removeFirst()() }
    }

    func schedule(_ work: @escaping @Sendable () -> Void) { scheduled.append(work) }
    func send(_ message: Message) { sent.append(message) }
    func install(_ snapshot: SnapshotMetadata, completion: @escaping @Sendable ((any Error)?) -> Void) { completion(nil) }
    func apply(_ entry: Entry) { applied.append(entry) }
    func readIndexesReady(_ readStates: [ReadState]) { self.readStates += readStates }
    func readyProcessed() {}
    func storageFailed(_ reason: String) { fatalError(reason) }
}

/// A disk on which every write is durable the moment it is handed over, and nothing is kept:
/// the tests look at what the cores do, not at what they stored.
private final class InstantDisk: RaftStorage, Sendable {
    var recovered: PersistentState { PersistentState() }
    func persist(_ update: StorageUpdate, completion: @escaping @Sendable ((any Error)?) -> Void) { completion(nil) }
    func compact(through index: UInt64) throws {}
    func beginSnapshot(_ metadata: SnapshotMetadata) throws -> any SnapshotSink { fatalError("no snapshots in TestCluster") }
    func commitSnapshot(_ sink: any SnapshotSink, replacingLog: Bool) throws -> any SnapshotSource { fatalError("no snapshots in TestCluster") }
    func latestSnapshot() throws -> (any SnapshotSource)? { nil }
}

extension Array where Element == UInt8 {
    init(_ text: String) { self = Array(text.utf8) }
}
