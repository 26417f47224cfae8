import CacheStore
import RaftCore
import RaftStorage
import RaftWire

/// What a simulated server tells the simulation, which checks it.
protocol SimNodeObserver: AnyObject {
    func sent(_ message: Message, by node: SimNode)
    func applied(_ entry: Entry, outcome: CacheStore.Outcome, by node: SimNode)
    func installed(_ state: SimStateMachine, by node: SimNode)
    func served(_ read: ReadState, by node: SimNode)
}

/// One simulated server: a RaftCore whose Readies the production ReadyProcessor carries out,
/// against a disk with latency (SimDisk), and a state machine. A crash throws away everything
/// but what the disk made durable.
final class SimNode: ReadyHost {
    let id: NodeID
    private(set) var address: String
    private(set) var core: RaftCore?
    private var processor: ReadyProcessor?
    private(set) var storage: SimDisk
    private(set) var stateMachine = SimStateMachine()
    /// Snapshot data that arrived with an InstallSnapshot, until the core says to install it.
    private var receivedSnapshots: [UInt64: [UInt8]] = [:]
    /// Reads waiting for the state machine to reach their index.
    private var readsToServe: [ReadState] = []
    /// Work the processor asked to run later on this server's "thread", in order.
    private var scheduled: [@Sendable () -> Void] = []
    private let options: RaftOptions
    private var incarnation: UInt64 = 0
    private unowned let observer: any SimNodeObserver
    /// Entries applied since `run` last began, and whether any was of an earlier term.
    private(set) var appliedInRun = 0
    private(set) var appliedEarlierTermInRun = false

    var isUp: Bool { core != nil }

    init(id: NodeID, address: String, disk: SimDisk, options: RaftOptions, observer: any SimNodeObserver) {
        self.id = id
        self.address = address
        storage = disk
        self.options = options
        self.observer = observer
        start()
    }

    /// What the disk holds durably.
    var disk: PersistentState { storage.durable.persisted }
    var snapshotIndex: UInt64 { disk.snapshot.lastIncludedIndex }

    private var snapshotData: [UInt8] {
        guard let snapshot = try? storage.latestSnapshot() else { return SimStateMachine().serialized() }
        return (try? snapshot.read(offset: 0, count: Int(snapshot.size))) ?? []
    }

    func start() {
        incarnation += 1
        var options = options
        options.randomSeed = options.randomSeed &+ incarnation &* 0x9E37_79B9
        stateMachine = SimStateMachine(snapshot: snapshotData)
        let core = RaftCore(options: options, state: storage.recovered)
        self.core = core
        processor = ReadyProcessor(core: core, storage: storage, recovered: storage.recovered.hardState, host: self)
        readsToServe = []
        receivedSnapshots = [:]
        scheduled = []
    }

    /// The server comes back as a new process with an empty disk.
    func wipe(newAddress: String) {
        crash()
        address = newAddress
        storage = SimDisk(MemoryStorage(), latency: storage.latency, seed: options.randomSeed &+ incarnation)
        start()
    }

    func crash() {
        processor?.stop()
        processor = nil
        core = nil
        storage = storage.crashed()
        readsToServe = []
        receivedSnapshots = [:]
        scheduled = []
    }

    /// Carries out everything the core has ready, and the work that causes, until quiet.
    func run() {
        appliedInRun = 0
        appliedEarlierTermInRun = false
        processor?.pump()
        while isUp && !scheduled.isEmpty {
            scheduled.removeFirst()()
        }
    }

    /// The disk makes the writes due by `now` durable; the work that causes runs.
    func diskTime(_ now: UInt64) {
        storage.now = now
        guard isUp else { return }
        storage.completeDue()
    }

    /// Snapshots the state machine at its applied index and compacts the log.
    func takeSnapshot() {
        guard let core, stateMachine.appliedIndex > snapshotIndex,
            let metadata = core.snapshotMetadata(at: stateMachine.appliedIndex)
        else { return }
        do {
            let sink = try storage.beginSnapshot(metadata)
            try sink.write(stateMachine.serialized())
            _ = try storage.commitSnapshot(sink, replacingLog: false)
            try storage.compact(through: metadata.lastIncludedIndex)
        } catch {
            fatalError("\(id): memory storage failed: \(error)")
        }
        core.compact(to: metadata)
    }

    func stash(snapshotOf message: Message) {
        if case .installSnapshot(let request) = message.body {
            receivedSnapshots[request.metadata.lastIncludedIndex] = request.data
        }
    }

    // MARK: ReadyHost

    func schedule(_ work: @escaping @Sendable () -> Void) {
        scheduled.append(work)
    }

    func send(_ message: Message) {
        var message = message
        if case .installSnapshot(var request) = message.body {
            precondition(request.metadata.lastIncludedIndex == snapshotIndex)
            request.data = snapshotData
            message.body = .installSnapshot(request)
        }
        observer.sent(message, by: self)
    }

    func install(_ snapshot: SnapshotMetadata, completion: @escaping @Sendable ((any Error)?) -> Void) {
        guard let data = receivedSnapshots[snapshot.lastIncludedIndex] else {
            fatalError("\(id): asked to install snapshot \(snapshot.lastIncludedIndex) that never arrived")
        }
        do {
            let sink = try storage.beginSnapshot(snapshot)
            try sink.write(data)
            _ = try storage.commitSnapshot(sink, replacingLog: true)
        } catch {
            fatalError("\(id): memory storage failed: \(error)")
        }
        stateMachine = SimStateMachine(snapshot: data)
        observer.installed(stateMachine, by: self)
        completion(nil)
    }

    func apply(_ entry: Entry) {
        let outcome = stateMachine.apply(entry)
        appliedInRun += 1
        if let core, entry.term < core.term { appliedEarlierTermInRun = true }
        observer.applied(entry, outcome: outcome, by: self)
    }

    func readIndexesReady(_ readStates: [ReadState]) {
        readsToServe += readStates
    }

    func readyProcessed() {
        receivedSnapshots = [:]
        readsToServe.removeAll { read in
            guard !read.succeeded || read.index <= stateMachine.appliedIndex else { return false }
            observer.served(read, by: self)
            return true
        }
    }

    func storageFailed(_ reason: String) {
        fatalError("\(id): \(reason)")
    }
}
