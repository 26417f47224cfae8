import RaftCore
import RaftWire
import Testing

@Suite("Robustness")
struct RobustnessTests {
    @Test("a request addressed to another server, or claiming another sender, is dropped")
    func misaddressed() {
        let cluster = TestCluster(voters: ["n1", "n2", "n3"])
        let n1 = cluster["n1"]
        n1.step(Message(from: "n2", to: "n1", body: .requestVote(RequestVoteRequest(
            term: 5, candidateID: "n2", lastLogIndex: 9, lastLogTerm: 9, targetID: "n7"))))
        n1.step(Message(from: "n2", to: "n1", body: .requestVote(RequestVoteRequest(
            term: 5, candidateID: "n3", lastLogIndex: 9, lastLogTerm: 9, targetID: "n1"))))
        #expect(n1.term == 1)
        #expect(n1.ready().messages.isEmpty)
    }

    @Test("AppendEntries whose entries do not follow on from the previous index are dropped")
    func malformedEntries() {
        let cluster = TestCluster(voters: ["n1", "n2"])
        let n2 = cluster["n2"]
        n2.step(Message(from: "n1", to: "n2", body: .appendEntries(AppendEntriesRequest(
            term: 2, leaderID: "n1", prevLogIndex: 1, prevLogTerm: 1, entries: [Entry(term: 2, index: 3)]))))
        #expect(n2.lastIndex == 1)
        n2.step(Message(from: "n1", to: "n2", body: .appendEntries(AppendEntriesRequest(
            term: 2, leaderID: "n1", prevLogIndex: 1, prevLogTerm: 1, entries: [Entry(term: 3, index: 2)]))))
        #expect(n2.lastIndex == 1)
        #expect(n2.term == 1)
    }

    @Test("an answer to an old term's request confirms no read")
    func staleAnswerConfirmsNothing() {
        let cluster = TestCluster(voters: ["n1", "n2", "n3"])
        cluster.elect("n2")
        cluster.elect("n1")
        let n1 = cluster["n1"]
        // n2 answers a late AppendEntries of its own old leadership: term 3 now, seq 0.
        cluster["n2"].step(Message(from: "n2x", to: "n2", body: .appendEntries(AppendEntriesRequest(
            term: 2, leaderID: "n2x", prevLogIndex: 0, seq: UInt64.max - 1))))
        let answer = cluster["n2"].ready().messages.first { $0.to == "n2x" }
        guard case .appendEntriesResponse(let response)? = answer?.body else {
            Issue.record("no answer to the stale request")
            return
        }
        #expect(response.seq == 0)
        #expect(response.term == n1.term)
        // Even a forged high seq in this term does not pass for one sent after the read.
        cluster.isolate("n1")
        n1.readIndex(context: 1)
        _ = n1.ready()
        #expect(cluster.readStates["n1", default: []].isEmpty)
    }

    @Test("a read asked of the leader fails when the leader changes, instead of hanging")
    func forwardedReadFails() {
        let cluster = TestCluster(voters: ["n1", "n2", "n3"])
        cluster.elect("n1")
        cluster.cut = [["n2", "n1"]]
        cluster["n2"].readIndex(context: 5)
        cluster.deliverAll()
        #expect(cluster.readStates["n2", default: []].isEmpty)
        cluster.tick("n2", times: 10)
        #expect(cluster.readStates["n2"] == [ReadState(context: 5, index: 0)])
    }

    @Test("no change may leave the cluster without a voter")
    func noVotersLeft() {
        let cluster = TestCluster(voters: ["n1"], learners: ["n2"])
        cluster.elect("n1")
        #expect(throws: RaftError.noVotersLeft) { try cluster["n1"].proposeMembership(.remove(id: "n1")) }
        #expect(throws: RaftError.noVotersLeft) {
            try cluster["n1"].proposeMembership(.addLearner(id: "n1", address: "n1:1"))
        }
    }

    @Test("a server re-added at a new address with an empty log is caught up from scratch")
    func newAddressNewProcess() throws {
        let cluster = TestCluster(voters: ["n1", "n2", "n3"])
        cluster.elect("n1")
        for i in 0..<10 { try cluster["n1"].propose(.init("k=\(i)")) }
        cluster.deliverAll()
        // n3 comes back as a new process, empty, at another address.
        cluster.cores["n3"] = RaftCore(options: TestCluster.options("n3"), state: PersistentState())
        try cluster["n1"].proposeMembership(.addVoter(id: "n3", address: "n3:2"))
        for _ in 0..<5 {
            cluster.tick("n1")
            cluster.deliverAll()
        }
        #expect(cluster["n3"].lastIndex == cluster["n1"].lastIndex)
        #expect(cluster["n1"].configuration.servers.last == Server(id: "n3", address: "n3:2", suffrage: .voter))
    }
}
