import RaftCore
import RaftWire
import Testing

/// What a core does with messages no member would send: terms that leap ahead, a
/// stranger's TimeoutNow or transfer vote, acknowledgements of entries never sent.
@Suite("Hostile input")
struct HostileInputTests {
    @Test("a term more than 2^20 ahead is dropped, whatever the message")
    func termLeap() {
        let cluster = TestCluster(voters: ["n1", "n2", "n3"])
        cluster.elect("n1")
        let n2 = cluster["n2"]
        let term = n2.term
        let leap = term + RaftCore.maxTermLeap + 1
        n2.step(Message(from: "x", to: "n2", body: .appendEntries(AppendEntriesRequest(term: leap, leaderID: "x"))))
        n2.step(Message(from: "x", to: "n2", body: .requestVote(RequestVoteRequest(
            term: leap, candidateID: "x", lastLogIndex: wireNumberLimit - 1, lastLogTerm: wireNumberLimit - 1))))
        n2.step(Message(from: "n1", to: "n2", body: .appendEntriesResponse(AppendEntriesResponse(term: wireNumberLimit - 1))))
        #expect(n2.term == term)
        #expect(n2.leaderID == "n1")
        #expect(n2.ready().messages.isEmpty)
        // A stranger moves no term at all, however small the step.
        n2.step(Message(from: "x", to: "n2", body: .appendEntries(AppendEntriesRequest(term: term + 1, leaderID: "x"))))
        n2.step(Message(from: "x", to: "n2", body: .requestVote(RequestVoteRequest(
            term: term + 1, candidateID: "x", lastLogIndex: 100, lastLogTerm: term))))
        #expect(n2.term == term)
        // A member just inside the bound moves it (one posing as a member: mutual TLS stops that).
        n2.step(Message(from: "n3", to: "n2", body: .appendEntries(AppendEntriesRequest(
            term: term + RaftCore.maxTermLeap, leaderID: "n3"))))
        #expect(n2.term == term + RaftCore.maxTermLeap)
    }

    @Test("a server that has heard no leader for four election timeouts takes a leader's term however far ahead")
    func lostServerCatchesUp() {
        let cluster = TestCluster(voters: ["n1", "n2", "n3"])
        cluster.elect("n1")
        let n2 = cluster["n2"]
        let far = n2.term + RaftCore.maxTermLeap * 3
        let heartbeat = Message(from: "n3", to: "n2", body: .appendEntries(AppendEntriesRequest(term: far, leaderID: "n3")))
        n2.step(heartbeat)
        #expect(n2.term < far)
        for _ in 0..<40 { n2.tick() }
        #expect(n2.takesAnyLeaderTerm)
        n2.step(heartbeat)
        #expect(n2.term == far)
        #expect(n2.leaderID == "n3")
    }

    @Test("a server that knows no cluster takes its first term from a leader's AppendEntries only")
    func firstTerm() {
        let fresh = RaftCore(options: TestCluster.options("n4"), state: PersistentState())
        let far = RaftCore.maxTermLeap * 4
        fresh.step(Message(from: "x", to: "n4", body: .requestVote(RequestVoteRequest(term: far, candidateID: "x"))))
        fresh.step(Message(from: "x", to: "n4", body: .timeoutNow(TimeoutNowRequest(term: far, leaderID: "x"))))
        #expect(fresh.term == 0)
        fresh.step(Message(from: "n1", to: "n4", body: .appendEntries(AppendEntriesRequest(term: far, leaderID: "n1"))))
        #expect(fresh.term == far)
        #expect(fresh.leaderID == "n1")
    }

    @Test("TimeoutNow is obeyed from the current leader in its term, from no one else")
    func timeoutNowOnlyFromLeader() {
        let cluster = TestCluster(voters: ["n1", "n2", "n3"])
        cluster.elect("n1")
        let n2 = cluster["n2"]
        let term = n2.term
        for (from, requestTerm) in [("n3", term), ("x", term), ("x", term + 1), ("n1", term + 1)] {
            n2.step(Message(from: from, to: "n2", body: .timeoutNow(TimeoutNowRequest(term: requestTerm, leaderID: from))))
            #expect(n2.role == .follower, "TimeoutNow from \(from) at term \(requestTerm)")
            #expect(n2.term == term)
        }
        n2.step(Message(from: "n1", to: "n2", body: .timeoutNow(TimeoutNowRequest(term: term, leaderID: "n1"))))
        #expect(n2.role == .candidate)
    }

    @Test("a transfer vote from a non-voter does not unseat a leader that is heard from")
    func strangerTransferVote() {
        let cluster = TestCluster(voters: ["n1", "n2", "n3"], learners: ["n4"])
        cluster.elect("n1")
        let n2 = cluster["n2"]
        let term = n2.term
        // n4 is a member (a learner), so its term counts; a transfer vote it is not.
        n2.step(Message(from: "n4", to: "n2", body: .requestVote(RequestVoteRequest(
            term: term + 1, candidateID: "n4", lastLogIndex: 100, lastLogTerm: term + 1, leadershipTransfer: true))))
        #expect(n2.term == term)
        #expect(n2.leaderID == "n1")
        guard case .requestVoteResponse(let answer)? = n2.ready().messages.first?.body else {
            Issue.record("no answer to the vote request")
            return
        }
        #expect(!answer.voteGranted)
    }

    @Test("an acknowledgement of entries the leader never had is dropped")
    func ackBeyondLog() {
        let cluster = TestCluster(voters: ["n1", "n2", "n3"])
        cluster.elect("n1")
        let n1 = cluster["n1"]
        let before = n1.followers.first { $0.id == "n2" }
        n1.step(Message(from: "n2", to: "n1", body: .appendEntriesResponse(AppendEntriesResponse(
            term: n1.term, success: true, matchIndex: n1.lastIndex + 1_000, lastLogIndex: n1.lastIndex + 1_000))))
        #expect(n1.followers.first { $0.id == "n2" } == before)
        #expect(n1.commitIndex <= n1.lastIndex)
    }
}
