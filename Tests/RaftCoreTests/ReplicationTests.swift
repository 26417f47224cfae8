import RaftCore
import RaftWire
import Testing

private func appendResponse(from: NodeID, term: UInt64, match: UInt64) -> Message {
    Message(from: from, to: "n1", body: .appendEntriesResponse(AppendEntriesResponse(
        term: term, success: true, matchIndex: match, lastLogIndex: match)))
}

@Suite("Replication")
struct ReplicationTests {
    @Test("an entry of an earlier term is not committed by counting replicas")
    func noCommitByCountingOldTerms() {
        // n1's log: [1: config t1, 2: command t2], now at term 2; it wins term 3.
        var state = RaftCore.bootstrapState(servers: ["n1", "n2", "n3"].map { Server(id: $0, address: $0) })
        state.entries.append(Entry(term: 2, index: 2, data: .init("x=1")))
        state.hardState.term = 2
        let leader = RaftCore(options: TestCluster.options("n1"), state: state)
        for _ in 0..<30 where leader.role != .preCandidate { leader.tick() }
        leader.step(Message(from: "n2", to: "n1", body: .requestVoteResponse(RequestVoteResponse(term: 3, voteGranted: true, preVote: true))))
        leader.step(Message(from: "n2", to: "n1", body: .requestVoteResponse(RequestVoteResponse(term: 3, voteGranted: true))))
        #expect(leader.isLeader)
        #expect(leader.term == 3)
        #expect(leader.lastIndex == 3)  // the no-op of term 3
        _ = leader.ready()
        leader.persisted(through: 3, term: 3)
        // A quorum (n1, n2) holds index 2, of term 2: not committed.
        leader.step(appendResponse(from: "n2", term: 3, match: 2))
        #expect(leader.commitIndex == 1)
        // Once the term-3 no-op is on a quorum, it and everything before it commit.
        leader.step(appendResponse(from: "n2", term: 3, match: 3))
        #expect(leader.commitIndex == 3)
    }

    @Test("a follower's conflicting uncommitted entries are replaced by the leader's")
    func conflictTruncation() {
        let cluster = TestCluster(voters: ["n1", "n2", "n3"])
        cluster.elect("n1")
        cluster.isolate("n1")
        // Proposals that only the old leader has.
        for i in 0..<5 { _ = try? cluster["n1"].propose(.init("lost=\(i)")) }
        cluster.deliverAll()
        cluster.elect("n2")
        for i in 0..<3 { _ = try? cluster["n2"].propose(.init("kept=\(i)")) }
        cluster.deliverAll()
        cluster.heal()
        for _ in 0..<4 {
            cluster.tick("n2")
            cluster.deliverAll()
        }
        let n1 = cluster["n1"], n2 = cluster["n2"]
        #expect(n1.lastIndex == n2.lastIndex)
        #expect(n1.entries(from: 1, through: n1.lastIndex) == n2.entries(from: 1, through: n2.lastIndex))
        #expect(!(cluster.applied["n1"] ?? []).contains { String(decoding: $0.data, as: UTF8.self).hasPrefix("lost") })
    }

    @Test("fast backtracking: a follower far behind with conflicts catches up in a few round trips")
    func fastBacktracking() {
        let cluster = TestCluster(voters: ["n1", "n2", "n3"])
        cluster.elect("n1")
        // n3 misses 200 entries written across three terms.
        cluster.isolate("n3")
        for round in 0..<3 {
            let leader = round == 1 ? "n2" : "n1"
            cluster.elect(leader)
            for i in 0..<70 { _ = try? cluster[leader].propose(.init("k\(round)=\(i)")) }
            cluster.deliverAll()
        }
        cluster.heal()
        let leader = cluster.cores.values.first { $0.isLeader }!
        cluster.tick(leader.id, times: 3)
        var rejections = 0
        var rounds = 0
        while !cluster.queue.isEmpty && rounds < 100 {
            rejections += cluster.queue.filter {
                if case .appendEntriesResponse(let r) = $0.body { !r.success && $0.from == "n3" } else { false }
            }.count
            let batch = cluster.queue
            cluster.queue = []
            for message in batch { cluster.cores[message.to]?.step(message) }
            cluster.collect()
            rounds += 1
        }
        #expect(cluster["n3"].lastIndex == leader.lastIndex)
        // One entry back at a time would take over 200 rejections.
        #expect(rejections <= 4)
    }

    @Test("proposals made together travel in one AppendEntries, within the byte limit and the in-flight window")
    func batching() throws {
        let cluster = TestCluster(voters: ["n1", "n2"], options: {
            RaftOptions(id: $0, electionTicks: 10, maxInflightMessages: 3, maxMessageBytes: 1_000, randomSeed: 1)
        })
        cluster.elect("n1")
        let leader = cluster["n1"]
        for i in 0..<5 { try leader.propose(.init("small=\(i)")) }
        cluster.collect()
        let appends = cluster.queued { if case .appendEntries(let r) = $0 { !r.entries.isEmpty } else { false } }
        #expect(appends.count == 1)
        cluster.deliverAll()
        // 40 entries of 100 bytes: 1,000 bytes a message at most, and no more than 3 in flight.
        for i in 0..<40 { try leader.propose(Array(repeating: UInt8(i), count: 100)) }
        cluster.collect()
        let batch = cluster.queued { if case .appendEntries(let r) = $0 { !r.entries.isEmpty } else { false } }
        #expect(batch.count == 3)
        for message in batch {
            guard case .appendEntries(let request) = message.body else { continue }
            #expect(request.entries.reduce(0) { $0 + $1.data.count } <= 1_000)
        }
        cluster.deliverAll()
        #expect(cluster["n2"].lastIndex == leader.lastIndex)
        #expect(leader.commitIndex == leader.lastIndex)
    }

    @Test("entry bytes in flight to a follower stay within the byte window: a slow follower costs the leader that much")
    func byteWindow() throws {
        let cluster = TestCluster(voters: ["n1", "n2"], options: {
            RaftOptions(id: $0, electionTicks: 10, maxInflightMessages: 64, maxMessageBytes: 1_000, maxInflightBytes: 2_500, randomSeed: 1)
        })
        cluster.elect("n1")
        let leader = cluster["n1"]
        cluster.deliverAll()
        // 40 entries of 500 bytes, one a message (two, with their framing, pass 1,000 bytes):
        // five messages fill the 2,500 bytes, far below 64 messages.
        for i in 0..<40 { try leader.propose(Array(repeating: UInt8(i), count: 500)) }
        cluster.collect()
        let first = cluster.queued { if case .appendEntries(let r) = $0 { !r.entries.isEmpty } else { false } }
        let bytes = first.reduce(0) { sum, message in
            guard case .appendEntries(let request) = message.body else { return sum }
            return sum + request.entries.reduce(0) { $0 + $1.data.count }
        }
        #expect(first.count == 5 && bytes == 2_500)
        // Answers open the window again, until the follower has everything.
        cluster.deliverAll()
        #expect(cluster["n2"].lastIndex == leader.lastIndex)
        #expect(leader.commitIndex == leader.lastIndex)
    }

    @Test("a learner receives the log but never counts toward a quorum")
    func learnerDoesNotCount() throws {
        let cluster = TestCluster(voters: ["n1", "n2"], learners: ["n3"])
        cluster.elect("n1")
        let before = cluster["n1"].commitIndex
        cluster.isolate("n2")
        cluster.heal()
        cluster.cut = [["n1", "n2"], ["n2", "n1"]]
        try cluster["n1"].propose(.init("x=1"))
        cluster.deliverAll()
        #expect(cluster["n3"].lastIndex == cluster["n1"].lastIndex)
        #expect(cluster["n1"].commitIndex == before)
        // A learner never campaigns.
        cluster.tick("n3", times: 100)
        #expect(cluster["n3"].role == .follower)
        cluster.heal()
        // The lost AppendEntries is sent again after a few heartbeats without progress.
        for _ in 0..<4 {
            cluster.tick("n1")
            cluster.deliverAll()
        }
        #expect(cluster["n1"].commitIndex == cluster["n1"].lastIndex)
    }

    @Test("a leader counts its own entries toward a commit only once they are durable")
    func leaderWaitsForItsOwnDisk() throws {
        let cluster = TestCluster(voters: ["n1", "n2", "n3"])
        cluster.elect("n1")
        let leader = cluster["n1"]
        let (index, term) = try leader.propose(.init("x=1"))
        let ready = leader.ready()
        #expect(ready.entries.last?.index == index)
        // n2 acknowledges; with n1's own copy not yet durable there is no quorum.
        leader.step(Message(from: "n2", to: "n1", body: .appendEntriesResponse(AppendEntriesResponse(
            term: term, success: true, matchIndex: index, lastLogIndex: index))))
        #expect(leader.commitIndex < index)
        // AppendEntries may go out before the leader's own write finishes; answers may not.
        #expect(ready.messages.allSatisfy { $0.mayPrecedePersistence })
        leader.persisted(through: index, term: term)
        #expect(leader.commitIndex == index)
    }

    @Test("followers learn the commit index from the leader and apply in order")
    func followersApply() throws {
        let cluster = TestCluster(voters: ["n1", "n2", "n3"])
        cluster.elect("n1")
        for i in 0..<10 { try cluster["n1"].propose(.init("k=\(i)")) }
        cluster.deliverAll()
        cluster.tick("n1")
        cluster.deliverAll()
        for id in ["n2", "n3"] {
            let indexes = cluster.applied[id]!.map(\.index)
            #expect(indexes == Array(1...cluster["n1"].lastIndex))
        }
    }
}
