import RaftCore
import RaftWire

/// One simulated server: a RaftCore, what it has persisted ("disk"), and its state machine.
/// A crash throws away everything but the disk.
final class SimNode {
    let id: NodeID
    private(set) var address: String
    private(set) var core: RaftCore?
    var disk: PersistentState
    var snapshotData: [UInt8] = SimStateMachine().serialized()
    var stateMachine = SimStateMachine()
    /// Snapshot data that arrived with an InstallSnapshot, until the core says to install it.
    var receivedSnapshots: [UInt64: [UInt8]] = [:]
    /// Reads waiting for the state machine to reach their index.
    var readsToServe: [ReadState] = []
    private let options: RaftOptions
    private var incarnation: UInt64 = 0

    var isUp: Bool { core != nil }

    init(id: NodeID, address: String, state: PersistentState, options: RaftOptions) {
        self.id = id
        self.address = address
        self.disk = state
        self.options = options
        start()
    }

    func start() {
        incarnation += 1
        var options = options
        options.randomSeed = options.randomSeed &+ incarnation &* 0x9E37_79B9
        stateMachine = SimStateMachine(snapshot: snapshotData)
        core = RaftCore(options: options, state: disk)
        readsToServe = []
        receivedSnapshots = [:]
    }

    /// The server comes back as a new process with an empty disk.
    func wipe(newAddress: String) {
        crash()
        address = newAddress
        disk = PersistentState()
        snapshotData = SimStateMachine().serialized()
        start()
    }

    func crash() {
        core = nil
        readsToServe = []
        receivedSnapshots = [:]
    }

    /// Snapshots the state machine at its applied index and compacts the log.
    func takeSnapshot() {
        guard let core, stateMachine.appliedIndex > disk.snapshot.lastIncludedIndex,
            let metadata = core.snapshotMetadata(at: stateMachine.appliedIndex)
        else { return }
        snapshotData = stateMachine.serialized()
        disk.snapshot = metadata
        disk.entries.removeAll { $0.index <= metadata.lastIncludedIndex }
        core.compact(to: metadata)
    }

    /// Carries out one Ready in the order Raft requires: persist, send, apply.
    func process(_ ready: Ready, send: (Message) -> Void, applied: (Entry) -> Void, installed: (SimStateMachine) -> Void,
                 readServed: (ReadState) -> Void) {
        if let snapshot = ready.snapshot {
            guard let data = receivedSnapshots[snapshot.lastIncludedIndex] else {
                fatalError("\(id): asked to install snapshot \(snapshot.lastIncludedIndex) that never arrived")
            }
            disk.snapshot = snapshot
            disk.entries = []
            snapshotData = data
            stateMachine = SimStateMachine(snapshot: data)
            installed(stateMachine)
        }
        receivedSnapshots = [:]
        if let first = ready.entries.first {
            disk.entries.removeAll { $0.index >= first.index }
            precondition(
                first.index == disk.snapshot.lastIncludedIndex + UInt64(disk.entries.count) + 1,
                "\(id): entries to persist from \(first.index) leave a gap on disk")
            disk.entries.append(contentsOf: ready.entries)
        }
        if let hardState = ready.hardState { disk.hardState = hardState }

        for var message in ready.messages {
            if case .installSnapshot(var request) = message.body {
                precondition(request.metadata.lastIncludedIndex == disk.snapshot.lastIncludedIndex)
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
