// libFuzzer entry point for RaftCore under hostile input. Built by tools/fuzz/build into
// .fuzz/fuzz-core (RaftWire and RaftCore as modules, this file with the simulation's
// HostileSender), under AddressSanitizer.
//
// The input's bytes make every choice of a run: a three-voter cluster of cores ticks,
// delivers, drops, proposes, reads, changes membership and compacts, while messages with
// extreme and random fields - terms and indexes of 0, 1, near the term leap, at and above
// 2^63 - arrive from a stranger or from someone posing as a member, each through the wire
// codec first as on a node. Properties: nothing traps, and every core's commit index stays
// within its log.

import RaftCore
import RaftWire

/// Random numbers read from the fuzzer's input, eight bytes at a time. Past its end they
/// come from a fixed generator: all zeros would hold `random(in:)` in its rejection loop.
struct InputBytes: RandomNumberGenerator {
    let bytes: UnsafeRawBufferPointer
    private(set) var position = 0
    private var afterEnd = SplitMix64(seed: 1)

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    var exhausted: Bool { position >= bytes.count }

    mutating func next() -> UInt64 {
        guard !exhausted else { return afterEnd.next() }
        var value: UInt64 = 0
        for _ in 0..<8 {
            value = value << 8 | UInt64(position < bytes.count ? bytes[position] : 0)
            position += 1
        }
        return value
    }
}

let voters: [NodeID] = ["n1", "n2", "n3"]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCore(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = InputBytes(UnsafeRawBufferPointer(start: data, count: size))
    let state = RaftCore.bootstrapState(servers: voters.map { Server(id: $0, address: "\($0):1") })
    var cores: [NodeID: RaftCore] = [:]
    for id in voters {
        cores[id] = RaftCore(
            options: RaftOptions(id: id, electionTicks: 10, heartbeatTicks: 1, maxInflightMessages: 4, maxMessageBytes: 256,
                                 leaseDuration: 80, randomSeed: UInt64(id.utf8.last!)),
            state: state)
    }
    var queue: [Message] = []
    var sender = HostileSender(anyLeaderTerm: true)
    var now: UInt64 = 0

    func collect() {
        for id in voters {
            let core = cores[id]!
            while core.hasReady {
                let ready = core.ready()
                if let last = ready.entries.last { core.persisted(through: last.index, term: last.term) }
                queue += ready.messages
                if queue.count > 1_000 { queue.removeFirst(queue.count - 1_000) }
            }
            guard core.commitIndex <= core.lastIndex else {
                fatalError("\(id): commit index \(core.commitIndex) past the log's end \(core.lastIndex)")
            }
        }
    }

    var steps = 0
    while !input.exhausted && steps < 2_000 {
        steps += 1
        let core = cores[voters.randomElement(using: &input)!]!
        switch Int.random(in: 0..<10, using: &input) {
        case 0, 1:
            now += 10
            core.now = now
            core.tick()
        case 2 where !queue.isEmpty:
            let message = queue.remove(at: Int.random(in: 0..<queue.count, using: &input))
            cores[message.to]?.step(message)
        case 3 where !queue.isEmpty:
            queue.remove(at: Int.random(in: 0..<queue.count, using: &input))
        case 4:
            _ = try? core.propose([UInt8](repeating: 7, count: Int.random(in: 0...64, using: &input)))
        case 5, 6:
            let members = core.configuration.servers.map(\.id)
            if let message = sender.message(to: core.id, targetTerm: core.term, members: members, rng: &input) {
                core.step(message)
            }
        case 7:
            core.readIndex(context: UInt64(steps))
            core.now = now
            _ = core.leaseRead()
        case 8:
            let someone = ["n1", "n2", "n3", "n4", "intruder"].randomElement(using: &input)!
            let change: MembershipChange = Bool.random(using: &input)
                ? .remove(id: someone) : .addVoter(id: someone, address: "\(someone):2")
            _ = try? core.proposeMembership(change)
        default:
            if Bool.random(using: &input) {
                core.campaignNow()
            } else if let metadata = core.snapshotMetadata(at: core.appliedIndex) {
                core.compact(to: metadata)
            }
        }
        collect()
    }
    return 0
}
