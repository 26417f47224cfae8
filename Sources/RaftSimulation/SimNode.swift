import RaftCore
import RaftStorage
import RaftWire

/// One simulated server: a RaftCore, its storage (a MemoryStorage, the "disk"), and its
/// state machine. A crash throws away everything but what the storage made durable.
final class SimNode {
    let id: NodeID
    private(set) var address: String
    private(set) var core: RaftCore?
    private(set) var storage: MemoryStorage
    var stateMachine = SimStateMachine()
    /// Snapshot data that arrived with an InstallSnapshot, until the core says to install it.
    var receivedSnapshots: [UInt64: [UInt8]] = [:]
    /// Reads waiting for the state machine to reach their index.
    var readsToServe: [ReadState] = []
    private let options: RaftOptions
    private var incarnation: UInt64 = 0
    /// As the real node: a commit index that alone changed is not written on its own.
    private var mustSync = MustSync(recovered: HardState())

    var isUp: Bool { core != nil }

    init(id: NodeID, address: String, state: PersistentState, options: RaftOptions) {
        self.id = id
        self.address = address
        storage = MemoryStorage(state)
        self.options = options
        start()
    }

    var disk: PersistentState { storage.persisted }
    var snapshotIndex: UInt64 { storage.persisted.snapshot.lastIncludedIndex }

    private var snapshotData: [UInt8] {
        guard let snapshot = try? storage.latestSnapshot() else { return SimStateMachine().serialized() }
        return (try? snapshot.read(offset: 0, count: Int(snapshot.size))) ?? []
    }

    func start() {
        incarnation += 1
        var options = options
        options.randomSeed = options.randomSeed &+ incarnation &* 0x9E37_79B9
        storage = storage.crashed()
        stateMachine = SimStateMachine(snapshot: snapshotData)
        core = RaftCore(options: options, state: storage.recovered)
        mustSync = MustSync(recovered: storage.recovered.hardState)
        readsToServe = []
        receivedSnapshots = [:]
    }

    /// The server comes back as a new process with an empty disk.
    func wipe(newAddress: String) {
        crash()
        address = newAddress
        storage = MemoryStorage()
        start()
    }

    func crash() {
        core = nil
        readsToServe = []
        receivedSnapshots = [:]
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

    /// Carries out one Ready in the order Raft requires: persist what must be durable, send, apply.
    func process(_ ready: Ready, send: (Message) -> Void, applied: (Entry) -> Void, installed: (SimStateMachine) -> Void,
                 readServed: (ReadState) -> Void) {
        do {
            if let snapshot = ready.snapshot {
                guard let data = receivedSnapshots[snapshot.lastIncludedIndex] else {
                    fatalError("\(id): asked to install snapshot \(snapshot.lastIncludedIndex) that never arrived")
                }
                let sink = try storage.beginSnapshot(snapshot)
                try sink.write(data)
                _ = try storage.commitSnapshot(sink, replacingLog: true)
                stateMachine = SimStateMachine(snapshot: data)
                installed(stateMachine)
            }
            receivedSnapshots = [:]
            if let update = mustSync.update(entries: ready.entries, hardState: ready.hardState) {
                try storage.persist(update)
            }
            if let last = ready.entries.last { core?.persisted(through: last.index, term: last.term) }
        } catch {
            fatalError("\(id): memory storage failed: \(error)")
        }

        for var message in ready.messages {
            if case .installSnapshot(var request) = message.body {
                precondition(request.metadata.lastIncludedIndex == snapshotIndex)
                request.data = snapshotData
                message.body = .installSnapshot(request)
            }
            send(message)
        }
        for entry in ready.committedEntries {
            stateMachine.apply(entry)
            applied(entry)
        }
        readsToServe += ready.readStates
        readsToServe.removeAll { read in
            guard !read.succeeded || read.index <= stateMachine.appliedIndex else { return false }
            readServed(read)
            return true
        }
    }

    func stash(snapshotOf message: Message) {
        if case .installSnapshot(let request) = message.body {
            receivedSnapshots[request.metadata.lastIncludedIndex] = request.data
        }
    }
}
