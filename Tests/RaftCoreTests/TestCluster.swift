import RaftCore
import RaftWire

/// A few RaftCores wired together by hand: the test decides what is delivered, dropped or
/// ticked. Ready outputs are "persisted" (kept) and their messages queued.
final class TestCluster {
    var cores: [NodeID: RaftCore] = [:]
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
    }

    static func options(_ id: NodeID) -> RaftOptions {
        RaftOptions(id: id, electionTicks: 10, heartbeatTicks: 1, maxInflightMessages: 4, maxMessageBytes: 1 << 20,
                    randomSeed: id.utf8.reduce(0) { $0 &* 31 &+ UInt64($1) })
    }

    subscript(_ id: NodeID) -> RaftCore { cores[id]! }

    /// Takes every node's Ready: keeps what was applied, queues the messages.
    func collect() {
        for id in cores.keys.sorted() {
            let core = cores[id]!
            while core.hasReady {
                let ready = core.ready()
                if let last = ready.entries.last { core.persisted(through: last.index, term: last.term) }
                applied[id, default: []] += ready.committedEntries
                readStates[id, default: []] += ready.readStates
                queue += ready.messages
            }
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

extension Array where Element == UInt8 {
    init(_ text: String) { self = Array(text.utf8) }
}
