import RaftCore
import RaftWire

/// A process that is no member of the cluster and sends Raft messages with extreme and
/// random fields: terms and indexes of 0, 1, just past a node's term, past the term leap a
/// core accepts, at and above the wire's limit of 2^63, and anything between; ids that are
/// its own, a member's or made up. Each message passes through the wire codec first, as on
/// a real node, so only what decodes reaches a core.
///
/// In the simulation it leaves out what no Raft cluster can be asked to survive without
/// authentication: a leader's AppendEntries or InstallSnapshot that a core would accept
/// (mutual TLS refuses those from a stranger); its leader messages carry a term that must be
/// refused: stale, leaping too far, or over the wire's limit. The core fuzzer
/// (tools/fuzz/FuzzCore.swift) sets `anyLeaderTerm`: then it may pose as a leader too, and
/// only the absence of traps is checked.
public struct HostileSender {
    public let id: NodeID = "intruder"
    public var anyLeaderTerm = false
    public private(set) var sent = 0
    public private(set) var refusedByWire = 0

    public init(anyLeaderTerm: Bool = false) {
        self.anyLeaderTerm = anyLeaderTerm
    }

    /// A message for `target`, whose current term is `targetTerm` (`openToLeaders`: it takes
    /// a leader's term however far ahead) and whose members are `members`; nil when it did
    /// not survive the wire codec.
    public mutating func message<R: RandomNumberGenerator>(
        to target: NodeID, targetTerm: UInt64, openToLeaders: Bool = false, members: [NodeID], rng: inout R
    ) -> Message? {
        sent += 1
        func any() -> UInt64 { number(near: targetTerm, rng: &rng) }
        func someID() -> NodeID {
            switch Int.random(in: 0..<4, using: &rng) {
            case 0: id
            case 1: members.randomElement(using: &rng) ?? id
            case 2: ""
            default: String(repeating: "x", count: Int.random(in: 1...300, using: &rng))
            }
        }
        let refusedTerm = anyLeaderTerm ? any() : refusedLeaderTerm(targetTerm: targetTerm, open: openToLeaders, rng: &rng)
        // Posing as a member too, where only traps are looked for.
        let sender = anyLeaderTerm && Bool.random(using: &rng) ? (members.randomElement(using: &rng) ?? id) : id
        let body: MessageBody
        switch Int.random(in: 0..<10, using: &rng) {
        case 0:
            body = .requestVote(RequestVoteRequest(
                term: any(), candidateID: sender, lastLogIndex: any(), lastLogTerm: any(),
                preVote: Bool.random(using: &rng), leadershipTransfer: Bool.random(using: &rng),
                targetID: Bool.random(using: &rng) ? target : someID()))
        case 1, 2:
            let prev = any()
            let count = Int.random(in: 0...3, using: &rng)
            let consecutive = Bool.random(using: &rng)
            let entries = (0..<count).map { offset in
                Entry(
                    term: Bool.random(using: &rng) ? refusedTerm : any(),
                    index: consecutive ? prev &+ 1 &+ UInt64(offset) : any(),
                    type: [.command, .configuration, .noop].randomElement(using: &rng)!,
                    data: (0..<Int.random(in: 0...16, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) })
            }
            body = .appendEntries(AppendEntriesRequest(
                term: refusedTerm, leaderID: sender, prevLogIndex: prev, prevLogTerm: any(), entries: entries,
                leaderCommit: any(), seq: any(), targetID: Bool.random(using: &rng) ? target : someID()))
        case 3:
            let metadata = SnapshotMetadata(
                lastIncludedIndex: any(), lastIncludedTerm: any(),
                configuration: Configuration(servers: [Server(id: someID(), address: "nowhere:1")]), size: any())
            body = .installSnapshot(InstallSnapshotRequest(
                term: refusedTerm, leaderID: sender, metadata: metadata, offset: any(), data: [1, 2, 3],
                done: Bool.random(using: &rng), seq: any(), targetID: target))
        case 4:
            body = .timeoutNow(TimeoutNowRequest(term: any(), leaderID: sender, targetID: Bool.random(using: &rng) ? target : someID()))
        case 5:
            body = .readIndex(ReadIndexRequest(requesterID: Bool.random(using: &rng) ? sender : someID()))
        case 6:
            body = .requestVoteResponse(RequestVoteResponse(
                term: any(), voteGranted: Bool.random(using: &rng), preVote: Bool.random(using: &rng)))
        case 7:
            body = .appendEntriesResponse(AppendEntriesResponse(
                term: any(), success: Bool.random(using: &rng), matchIndex: any(), rejectIndex: any(),
                conflictTerm: any(), conflictIndex: any(), lastLogIndex: any(), seq: any()))
        case 8:
            body = .installSnapshotResponse(InstallSnapshotResponse(
                term: any(), nextOffset: any(), installed: Bool.random(using: &rng), seq: any()))
        default:
            body = .readIndexResponse(ReadIndexResponse(term: any(), readIndex: any()))
        }
        guard body.afterWire != nil else {
            refusedByWire += 1
            return nil
        }
        // Context 0: no driver pairs it with a call of its own (a stranger cannot answer
        // calls a node made to its members).
        return Message(from: sender, to: target, context: 0, body: body)
    }

    /// A leader's term that a core must refuse: stale, too far ahead, or over the wire's
    /// limit. A server that is joining or lost (`open`) takes any term under the limit.
    private func refusedLeaderTerm<R: RandomNumberGenerator>(targetTerm: UInt64, open: Bool, rng: inout R) -> UInt64 {
        guard targetTerm > 0 else { return UInt64.random(in: wireNumberLimit...UInt64.max, using: &rng) }
        if open { return Bool.random(using: &rng) ? 0 : UInt64.random(in: wireNumberLimit...UInt64.max, using: &rng) }
        switch Int.random(in: 0..<3, using: &rng) {
        case 0: return UInt64.random(in: 0..<targetTerm, using: &rng)
        case 1: return targetTerm &+ RaftCore.maxTermLeap &+ UInt64.random(in: 1...1_000, using: &rng)
        default: return UInt64.random(in: wireNumberLimit...UInt64.max, using: &rng)
        }
    }

    private func number<R: RandomNumberGenerator>(near term: UInt64, rng: inout R) -> UInt64 {
        switch Int.random(in: 0..<10, using: &rng) {
        case 0: 0
        case 1: 1
        case 2: term
        case 3: term &+ 1
        case 4: Bool.random(using: &rng) ? term &+ RaftCore.maxTermLeap &+ 1 : term &+ UInt64.random(in: 2...RaftCore.maxTermLeap, using: &rng)
        case 5: wireNumberLimit - 1
        case 6: wireNumberLimit
        case 7: .max
        case 8: UInt64.random(in: 0...UInt64.max, using: &rng)
        default: UInt64.random(in: 0...1_000, using: &rng)
        }
    }
}
