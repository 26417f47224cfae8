import RaftCore
import RaftWire
import Testing

private func leaseOptions(_ id: NodeID) -> RaftOptions {
    var options = TestCluster.options(id)
    options.leaseDuration = 1_000
    return options
}

@Suite("Leader leases")
struct LeaseTests {
    @Test("a lease read is served at once while a quorum answered a heartbeat sent within the lease")
    func leaseFollowsHeartbeats() throws {
        let cluster = TestCluster(voters: ["n1", "n2", "n3"], options: leaseOptions)
        cluster.elect("n1")
        try cluster["n1"].propose(.init("x=1"))
        cluster.deliverAll()
        let leader = cluster["n1"]
        #expect(leader.leaseRead() == nil)  // No heartbeat round since it was elected.
        leader.now = 5_000
        cluster.tick("n1")
        cluster.deliverAll()
        #expect(leader.leaseRead() == leader.commitIndex)
        leader.now = 5_999
        #expect(leader.leaseRead() == leader.commitIndex)
        leader.now = 6_000
        #expect(leader.leaseRead() == nil)
        // A round nobody answers starts no lease.
        cluster.isolate("n1")
        cluster.tick("n1")
        cluster.deliverAll()
        #expect(leader.leaseRead() == nil)
        cluster.heal()
        leader.now = 6_500
        cluster.tick("n1")
        cluster.deliverAll()
        #expect(leader.leaseRead() == leader.commitIndex)
    }

    @Test("a leader that sent TimeoutNow serves no lease read: its successor need not wait")
    func transferEndsTheLease() throws {
        let cluster = TestCluster(voters: ["n1", "n2", "n3"], options: leaseOptions)
        cluster.elect("n1")
        let leader = cluster["n1"]
        leader.now = 100
        cluster.tick("n1")
        cluster.deliverAll()
        #expect(leader.leaseRead() != nil)
        cluster.cut = [["n1", "n2"]]  // The transfer cannot finish.
        try leader.transferLeadership(to: "n2")
        #expect(leader.leaseRead() == nil)
        cluster.deliverAll()
        cluster.tick("n1")
        cluster.deliverAll()
        #expect(leader.leaseRead() == nil)
    }

    @Test("without a lease duration, or on a follower, there is no lease read")
    func noLease() {
        let cluster = TestCluster(voters: ["n1", "n2", "n3"])
        cluster.elect("n1")
        cluster.tick("n1")
        cluster.deliverAll()
        #expect(cluster["n1"].leaseRead() == nil)
        let leased = TestCluster(voters: ["n1", "n2", "n3"], options: leaseOptions)
        leased.elect("n1")
        leased.tick("n1")
        leased.deliverAll()
        #expect(leased["n2"].leaseRead() == nil)
    }

    @Test("with leases, a server that has just started refuses votes for an election timeout: before it stopped it may have answered a leader")
    func restartedServerWaits() {
        let cluster = TestCluster(voters: ["n1", "n2", "n3"], options: leaseOptions)
        let fresh = cluster["n2"]
        let request = RequestVoteRequest(term: 5, candidateID: "n3", lastLogIndex: 10, lastLogTerm: 4)
        fresh.step(Message(from: "n3", to: "n2", body: .requestVote(request)))
        cluster.collect()
        #expect(cluster.queued { if case .requestVoteResponse(let r) = $0 { !r.voteGranted } else { false } }.count == 1)
        cluster.queue = []
        for _ in 0..<TestCluster.options("n2").electionTicks {
            fresh.tick()
        }
        fresh.step(Message(from: "n3", to: "n2", body: .requestVote(request)))
        cluster.collect()
        #expect(cluster.queued { if case .requestVoteResponse(let r) = $0 { r.voteGranted } else { false } }.count == 1)
    }
}
