import RaftCore
import RaftWire
import Testing

private func joiner(_ id: NodeID) -> RaftCore {
    RaftCore(options: TestCluster.options(id), state: PersistentState())
}

@Suite("Membership, transfers, reads and snapshots")
struct MembershipTests {
    @Test("an added server joins as staging and is promoted to voter once caught up")
    func stagingPromotion() throws {
        let cluster = TestCluster(voters: ["n1", "n2", "n3"])
        cluster.elect("n1")
        for i in 0..<20 { try cluster["n1"].propose(.init("k=\(i)")) }
        cluster.deliverAll()
        cluster.cores["n4"] = joiner("n4")
        try cluster["n1"].proposeMembership(.addVoter(id: "n4", address: "n4:1"))
        #expect(cluster["n1"].configuration.servers.last == Server(id: "n4", address: "n4:1", suffrage: .staging))
        for _ in 0..<5 {
            cluster.tick("n1")
            cluster.deliverAll()
        }
        #expect(cluster["n1"].configuration.servers.last?.suffrage == .voter)
        #expect(cluster["n4"].lastIndex == cluster["n1"].lastIndex)
        #expect(cluster["n4"].configuration == cluster["n1"].configuration)
    }

    @Test("one membership change at a time")
    func oneChangeAtATime() throws {
        let cluster = TestCluster(voters: ["n1", "n2", "n3"])
        cluster.elect("n1")
        cluster.isolate("n1")
        try cluster["n1"].proposeMembership(.addLearner(id: "n9", address: "n9:1"))
        #expect(throws: RaftError.membershipChangeInProgress) {
            try cluster["n1"].proposeMembership(.remove(id: "n2"))
        }
        #expect(throws: RaftError.notLeader(leader: "n1")) {
            try cluster["n2"].proposeMembership(.remove(id: "n3"))
        }
    }

    @Test("a join with a known id at a new address replaces that server, unless it is the leader itself")
    func joinReplaces() throws {
        let cluster = TestCluster(voters: ["n1", "n2", "n3"])
        cluster.elect("n1")
        let before = cluster["n1"].configuration
        // The same id at the same address: already in force, nothing appended.
        let (index, _) = try cluster["n1"].proposeMembership(.addVoter(id: "n2", address: "n2:1"))
        #expect(cluster["n1"].configuration == before)
        #expect(index < cluster["n1"].lastIndex + 1)
        #expect(throws: RaftError.replacesLeader("n1")) {
            try cluster["n1"].proposeMembership(.addVoter(id: "n1", address: "elsewhere:1"))
        }
        try cluster["n1"].proposeMembership(.addVoter(id: "n2", address: "n2-new:1"))
        #expect(cluster["n1"].configuration.servers.contains(Server(id: "n2", address: "n2-new:1", suffrage: .staging)))
        #expect(!cluster["n1"].configuration.servers.contains { $0.address == "n2:1" })
    }

    @Test("a leader that removes itself steps down once the change commits, and never campaigns")
    func leaderRemovesItself() throws {
        let cluster = TestCluster(voters: ["n1", "n2", "n3"])
        cluster.elect("n1")
        try cluster["n1"].proposeMembership(.remove(id: "n1"))
        cluster.deliverAll()
        #expect(!cluster["n1"].isLeader)
        #expect(cluster["n1"].suffrage == nil)
        cluster.tick("n1", times: 100)
        #expect(cluster["n1"].role == .follower)
        cluster.elect("n2")
        #expect(cluster["n2"].isLeader)
        #expect(cluster["n2"].configuration.servers.map(\.id) == ["n2", "n3"])
    }

    @Test("leadership transfer: the target wins at once, and proposals wait meanwhile")
    func transfer() throws {
        let cluster = TestCluster(voters: ["n1", "n2", "n3"])
        cluster.elect("n1")
        cluster.isolate("n3")
        try cluster["n1"].propose(.init("x=1"))
        cluster.collect()
        try cluster["n1"].transferLeadership(to: "n3")
        #expect(throws: RaftError.transferInProgress) { try cluster["n1"].propose(.init("y=1")) }
        cluster.deliverAll()
        #expect(cluster["n1"].isLeader)
        cluster.heal()
        // The lost entries reach n3 after a few heartbeats; then it is told to campaign.
        for _ in 0..<4 {
            cluster.tick("n1")
            cluster.deliverAll()
        }
        #expect(cluster["n3"].isLeader)
        #expect(!cluster["n1"].isLeader)
    }

    @Test("a transfer that cannot finish is abandoned after an election timeout")
    func transferTimesOut() throws {
        let cluster = TestCluster(voters: ["n1", "n2", "n3"])
        cluster.elect("n1")
        cluster.isolate("n3")
        try cluster["n1"].transferLeadership(to: "n3")
        for _ in 0..<12 {
            cluster.tick("n1")
            cluster.deliverAll()
        }
        #expect(cluster["n1"].isLeader)
        #expect(!cluster["n1"].transferInProgress)
        try cluster["n1"].propose(.init("y=1"))
    }

    @Test("ReadIndex: released only after a quorum confirms leadership; followers ask the leader")
    func readIndex() throws {
        let cluster = TestCluster(voters: ["n1", "n2", "n3"])
        cluster.elect("n1")
        try cluster["n1"].propose(.init("x=1"))
        cluster.deliverAll()
        let commit = cluster["n1"].commitIndex
        cluster.isolate("n1")
        cluster["n1"].readIndex(context: 7)
        cluster.deliverAll()
        #expect(cluster.readStates["n1", default: []].isEmpty)
        cluster.heal()
        cluster.deliverAll()
        cluster.tick("n1")
        cluster.deliverAll()
        #expect(cluster.readStates["n1"] == [ReadState(context: 7, index: commit)])

        cluster["n2"].readIndex(context: 8)
        cluster.deliverAll()
        cluster.tick("n1")
        cluster.deliverAll()
        #expect(cluster.readStates["n2"] == [ReadState(context: 8, index: commit)])
    }

    @Test("reads waiting on a leader that loses leadership fail")
    func readFailsOnStepDown() {
        let cluster = TestCluster(voters: ["n1", "n2", "n3"])
        cluster.elect("n1")
        cluster.isolate("n1")
        cluster["n1"].readIndex(context: 1)
        for _ in 0..<20 {
            cluster.tick("n1")
            cluster.deliverAll()
        }
        #expect(cluster.readStates["n1"] == [ReadState(context: 1, index: 0)])
    }

    @Test("a follower behind the compacted log is sent a snapshot; installing it resets its log")
    func snapshotCatchUp() throws {
        let cluster = TestCluster(voters: ["n1", "n2", "n3"])
        cluster.elect("n1")
        cluster.isolate("n3")
        for i in 0..<30 { try cluster["n1"].propose(.init("k=\(i)")) }
        cluster.deliverAll()
        let leader = cluster["n1"]
        let metadata = try #require(leader.snapshotMetadata(at: leader.appliedIndex))
        leader.compact(to: metadata)
        #expect(leader.snapshotIndex == metadata.lastIncludedIndex)
        cluster.heal()
        cluster.tick("n1")
        var installs: [InstallSnapshotRequest] = []
        for _ in 0..<20 {
            installs += cluster.queue.compactMap { if case .installSnapshot(let r) = $0.body { r } else { nil } }
            let batch = cluster.queue
            cluster.queue = []
            for message in batch { cluster.cores[message.to]?.step(message) }
            while cluster["n3"].hasReady {
                let ready = cluster["n3"].ready()
                if let snapshot = ready.snapshot { #expect(snapshot == metadata) }
                cluster.queue += ready.messages
            }
            cluster.collect()
        }
        #expect(installs.count == 1)
        #expect(installs.first?.metadata.configuration.servers.count == 3)
        #expect(cluster["n3"].snapshotIndex == metadata.lastIncludedIndex)
        #expect(cluster["n3"].lastIndex == leader.lastIndex)
        #expect(cluster["n3"].configuration == leader.configuration)
    }
}
