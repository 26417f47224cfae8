import RaftCore
import RaftWire
import Testing

private func voteRequest(term: UInt64, from: NodeID, lastIndex: UInt64, lastTerm: UInt64, preVote: Bool = false) -> Message {
    Message(from: from, to: "n1", body: .requestVote(RequestVoteRequest(
        term: term, candidateID: from, lastLogIndex: lastIndex, lastLogTerm: lastTerm, preVote: preVote)))
}

private func voteAnswer(_ core: RaftCore, _ message: Message) -> RequestVoteResponse? {
    core.step(message)
    for sent in core.ready().messages {
        if case .requestVoteResponse(let response) = sent.body, sent.to == message.from { return response }
    }
    return nil
}

/// A lone core with log [1: config (term 1), 2: command (term 2)] at term 2.
private func coreWithLog() -> RaftCore {
    var state = RaftCore.bootstrapState(servers: ["n1", "n2", "n3"].map { Server(id: $0, address: $0) })
    state.entries.append(Entry(term: 2, index: 2, data: .init("x=1")))
    state.hardState.term = 2
    return RaftCore(options: TestCluster.options("n1"), state: state)
}

@Suite("Elections")
struct ElectionTests {
    @Test("a vote is refused to a candidate whose log is less up to date")
    func upToDateCheck() {
        // Longer log, older last term: refused.
        #expect(voteAnswer(coreWithLog(), voteRequest(term: 3, from: "n2", lastIndex: 5, lastTerm: 1))?.voteGranted == false)
        // Same last term, shorter log: refused.
        #expect(voteAnswer(coreWithLog(), voteRequest(term: 3, from: "n2", lastIndex: 1, lastTerm: 2))?.voteGranted == false)
        // As up to date: granted.
        #expect(voteAnswer(coreWithLog(), voteRequest(term: 3, from: "n2", lastIndex: 2, lastTerm: 2))?.voteGranted == true)
        // Newer last term wins over a longer log.
        #expect(voteAnswer(coreWithLog(), voteRequest(term: 3, from: "n2", lastIndex: 1, lastTerm: 3))?.voteGranted == true)
    }

    @Test("one vote per term, and it is persisted before it is sent")
    func oneVotePerTerm() {
        let core = coreWithLog()
        core.step(voteRequest(term: 3, from: "n2", lastIndex: 2, lastTerm: 2))
        let ready = core.ready()
        #expect(ready.hardState == HardState(term: 3, vote: "n2", commit: 1))
        #expect(voteAnswer(core, voteRequest(term: 3, from: "n3", lastIndex: 9, lastTerm: 2))?.voteGranted == false)
        // Asking again for the same vote gets it again (a lost answer).
        #expect(voteAnswer(core, voteRequest(term: 3, from: "n2", lastIndex: 2, lastTerm: 2))?.voteGranted == true)
    }

    @Test("a pre-vote changes no term and no vote")
    func preVoteChangesNothing() {
        let core = coreWithLog()
        let answer = voteAnswer(core, voteRequest(term: 3, from: "n2", lastIndex: 2, lastTerm: 2, preVote: true))
        #expect(answer?.voteGranted == true)
        #expect(answer?.preVote == true)
        #expect(core.term == 2)
        #expect(core.vote == "")
    }

    @Test("a new leader appends a no-op of its term and commits it")
    func leaderNoop() {
        let cluster = TestCluster(voters: ["n1", "n2", "n3"])
        cluster.electByTimeout("n1")
        let leader = cluster["n1"]
        #expect(leader.isLeader)
        #expect(leader.lastIndex == 2)
        #expect(leader.commitIndex == 2)
        #expect(cluster.applied["n1"]?.last?.type == .noop)
        #expect(cluster.applied["n1"]?.last?.term == leader.term)
    }

    @Test("an isolated node's pre-votes fail, so its term never grows")
    func isolatedNodeKeepsItsTerm() {
        let cluster = TestCluster(voters: ["n1", "n2", "n3"])
        cluster.elect("n1")
        let term = cluster["n1"].term
        cluster.isolate("n3")
        for _ in 0..<100 {
            cluster.tick("n3")
            cluster.deliverAll()
        }
        #expect(cluster["n3"].term == term)
        #expect(cluster["n3"].role == .preCandidate)
    }

    @Test("a partitioned node that comes back does not unseat a healthy leader")
    func noDisruptionAfterHeal() {
        let cluster = TestCluster(voters: ["n1", "n2", "n3"], options: {
            RaftOptions(id: $0, electionTicks: 10, preVote: false, randomSeed: 7)
        })
        cluster.elect("n1")
        cluster.isolate("n3")
        // Without pre-vote the isolated node bumps its term again and again.
        for _ in 0..<60 {
            cluster.tick("n3")
            cluster.deliverAll()
        }
        #expect(cluster["n3"].term > cluster["n1"].term)
        cluster.heal()
        // Its vote requests reach followers that heard from the leader recently: ignored (CheckQuorum).
        cluster.tick("n3", times: 30)
        cluster.deliverAll()
        #expect(cluster["n1"].isLeader)
        #expect(cluster["n2"].leaderID == "n1")
    }

    @Test("a leader that cannot reach a quorum steps down (CheckQuorum)")
    func checkQuorum() {
        let cluster = TestCluster(voters: ["n1", "n2", "n3"])
        cluster.elect("n1")
        cluster.isolate("n1")
        for _ in 0..<20 {
            cluster.tick("n1")
            cluster.deliverAll()
        }
        #expect(!cluster["n1"].isLeader)
    }

    @Test("a stale leader's AppendEntries is refused, and the answer makes it step down")
    func staleLeader() {
        let cluster = TestCluster(voters: ["n1", "n2", "n3"])
        cluster.elect("n1")
        let oldTerm = cluster["n1"].term
        cluster.isolate("n1")
        cluster.elect("n2")
        #expect(cluster["n2"].term > oldTerm)
        cluster.heal()
        _ = try? cluster["n1"].propose(.init("late=1"))
        cluster.collect()
        let stale = cluster.queued { if case .appendEntries = $0 { true } else { false } }
        #expect(!stale.isEmpty)
        cluster.deliverAll()
        #expect(!cluster["n1"].isLeader)
        #expect(cluster["n1"].term == cluster["n2"].term)
        #expect(!(cluster.applied["n3"] ?? []).contains { $0.data == .init("late=1") })
    }
}
