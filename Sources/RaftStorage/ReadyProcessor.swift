import RaftCore
import RaftWire

/// What a `ReadyProcessor` needs of the server it runs in: the real node, a simulated one, or
/// a test's. Every call comes on the thread that owns the core.
public protocol ReadyHost: AnyObject {
    /// Runs `work` on the thread that owns the core, after what is queued there already.
    /// Called from any thread (a storage's completions).
    func schedule(_ work: @escaping @Sendable () -> Void)
    /// Hands a message to the network.
    func send(_ message: Message)
    /// Makes the snapshot the core asks to install durable (it replaces the whole log) and puts
    /// it in force; `completion` once that is done, from any thread.
    func install(_ snapshot: SnapshotMetadata, completion: @escaping @Sendable ((any Error)?) -> Void)
    /// Applies a committed entry to the state machine.
    func apply(_ entry: Entry)
    /// Read indexes the core has confirmed (or failed): each is served once its index is applied.
    func readIndexesReady(_ readStates: [ReadState])
    /// One Ready is on its way: a moment to take a snapshot, or note a new leader.
    func readyProcessed()
    /// The storage failed: the server must stop.
    func storageFailed(_ reason: String)
}

/// Carries out each Ready of a core against a storage, in the order Raft needs, for every kind
/// of server alike (the node, the simulation and the tests run this one order):
/// 1. a snapshot to install first, with the rest of the Ready held until it is in force;
/// 2. messages that claim nothing of this server's disk (a leader's AppendEntries, heartbeats,
///    snapshots) go at once, while its own write runs;
/// 3. committed entries are applied at once: a quorum has them on disk already;
/// 4. entries and a hard state that must be durable (MustSync) go to the storage, and the
///    Ready's other messages (votes, acknowledgements) only once that write and every earlier
///    one are durable; then the core hears the entries are stable.
/// Readies that come together share one write (the storage group-commits what is queued).
/// Touched only on the thread that owns the core.
public final class ReadyProcessor: @unchecked Sendable {
    public let core: RaftCore
    private let storage: any RaftStorage
    private unowned let host: any ReadyHost
    private var mustSync: MustSync
    /// Writes handed to the storage and not yet durable.
    private var writesInFlight = 0
    /// A pump is queued; what arrives before it runs travels in its Ready.
    private var pumpScheduled = false
    /// A snapshot is being installed: no Ready is taken until it is in force.
    private var installing = false
    /// Set once the server stops: nothing more is carried out.
    public private(set) var stopped = false

    /// `recovered`: the hard state the storage held when the core started.
    public init(core: RaftCore, storage: any RaftStorage, recovered: HardState, host: any ReadyHost) {
        self.core = core
        self.storage = storage
        self.host = host
        mustSync = MustSync(recovered: recovered)
    }

    public func stop() {
        stopped = true
    }

    /// Pumps once the thread has run what is already queued, so requests that arrive together
    /// share one Ready: one write, one AppendEntries per follower, one heartbeat round.
    public func schedulePump() {
        guard !pumpScheduled else { return }
        pumpScheduled = true
        host.schedule { [self] in
            pumpScheduled = false
            pump()
        }
    }

    /// Takes every Ready the core has and sets it in motion.
    public func pump() {
        while !stopped && !installing && core.hasReady {
            let ready = core.ready()
            if let snapshot = ready.snapshot {
                // Before this Ready's entries, as Ready requires: the rest waits for it.
                installing = true
                host.install(snapshot) { [self] error in
                    host.schedule { [self] in
                        installing = false
                        guard !stopped else { return }
                        if let error { return failed("cannot install the leader's snapshot: \(error)") }
                        carryOut(ready)
                        pump()
                    }
                }
                return
            }
            carryOut(ready)
        }
    }

    private func carryOut(_ ready: Ready) {
        var late: [Message] = []
        for message in ready.messages {
            if message.mayPrecedePersistence { host.send(message) } else { late.append(message) }
        }
        for entry in ready.committedEntries { host.apply(entry) }
        if !ready.readStates.isEmpty { host.readIndexesReady(ready.readStates) }
        write(ready, then: late)
        host.readyProcessed()
    }

    /// Hands the Ready's entries and hard state to the storage; `messages` go once they - and
    /// every write before them - are durable.
    private func write(_ ready: Ready, then messages: [Message]) {
        let update: StorageUpdate
        if let durable = mustSync.update(entries: ready.entries, hardState: ready.hardState) {
            update = durable
        } else if writesInFlight > 0 && !messages.isEmpty {
            // Nothing to write, but the answers claim what earlier writes are making durable.
            update = StorageUpdate(hardState: nil, entries: [])
        } else {
            for message in messages { host.send(message) }
            return
        }
        let last = ready.entries.last.map { (index: $0.index, term: $0.term) }
        writesInFlight += 1
        storage.persist(update) { [self] error in
            host.schedule { [self] in
                writesInFlight -= 1
                guard !stopped else { return }
                if let error { return failed("cannot persist the Raft log: \(error)") }
                if let last { core.persisted(through: last.index, term: last.term) }
                for message in messages { host.send(message) }
                schedulePump()
            }
        }
    }

    private func failed(_ reason: String) {
        stopped = true
        host.storageFailed(reason)
    }
}
