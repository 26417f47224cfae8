import RaftWire
import Testing

private func roundTrips<M: WireMessage>(_ message: M) throws -> Bool {
    try M(wireBytes: message.wireBytes()) == message
}

private let longText = String(repeating: "ñ-節點-🚀", count: 2_000)
private let big = UInt64.max
/// Raft's numbers stop below 2^63 (Protos/README.md, "Numbers").
private let raftBig = wireNumberLimit - 1
private let maximalConfiguration = Configuration(
    servers: (0..<100).map { Server(id: "node-\($0)-\(longText.prefix(50))", address: "[::1]:\(1000 + $0)", suffrage: $0 % 3 == 0 ? .learner : .voter) })

private let maximalResult = KeyOpResult(found: true, value: Array(longText.utf8), createIndex: raftBig, modIndex: raftBig, ttlMs: raftBig)
private let maximalTxn = TxnRequest(
    compares: CompareTarget.allCases.flatMap { target in
        CompareResult.allCases.map { Compare(key: Array(longText.utf8), target: target, result: $0, value: [0, 1], modIndex: raftBig) }
    },
    success: KeyOpType.allCases.map { KeyOp(type: $0, key: Array(longText.utf8), value: Array(repeating: 9, count: 1_000), ttlMs: raftBig) },
    failure: [KeyOp(), KeyOp(type: .set, key: [0], value: [], ttlMs: 1)])

/// Every message with every field at its largest, longest or non-default value.
let maximalMessages: [any WireMessage] = [
    Envelope(callID: big, kind: .cancel, method: longText, timeoutMs: .max, status: StatusCode(rawValue: 999), message: longText, payload: Array(repeating: 0xFF, count: 70_000), hops: .max, authToken: longText, more: true,
             session: SessionTag(id: raftBig, sequence: raftBig, ackedBelow: raftBig)),
    ErrorDetail(leaderID: longText, leaderAddress: longText, retryAfterMs: .max, currentVersion: KeyVersion(createIndex: raftBig, modIndex: raftBig), limit: longText, oldestIndex: raftBig, session: longText),
    Entry(term: raftBig, index: raftBig, type: .configuration, data: Array(repeating: 0, count: 65_536)),
    Server(id: longText, address: longText, suffrage: .learner),
    maximalConfiguration,
    RequestVoteRequest(term: raftBig, candidateID: longText, lastLogIndex: raftBig, lastLogTerm: raftBig, preVote: true, leadershipTransfer: true, targetID: longText),
    RequestVoteResponse(term: raftBig, voteGranted: true, preVote: true),
    AppendEntriesRequest(term: raftBig, leaderID: longText, prevLogIndex: raftBig, prevLogTerm: raftBig, entries: [Entry(term: raftBig, index: raftBig, type: .noop, data: [1, 2, 3])], leaderCommit: raftBig, seq: raftBig, targetID: longText),
    AppendEntriesResponse(term: raftBig, success: true, matchIndex: raftBig, rejectIndex: raftBig, conflictTerm: raftBig, conflictIndex: raftBig, lastLogIndex: raftBig, seq: raftBig),
    SnapshotMetadata(lastIncludedIndex: raftBig, lastIncludedTerm: raftBig, configuration: maximalConfiguration, size: raftBig),
    InstallSnapshotRequest(term: raftBig, leaderID: longText, metadata: SnapshotMetadata(lastIncludedIndex: raftBig, lastIncludedTerm: raftBig, configuration: maximalConfiguration, size: raftBig), offset: raftBig, data: Array(repeating: 7, count: 1 << 20), done: true, seq: raftBig, targetID: longText),
    InstallSnapshotResponse(term: raftBig, nextOffset: raftBig, installed: true, seq: raftBig),
    TimeoutNowRequest(term: raftBig, leaderID: longText, targetID: longText),
    TimeoutNowResponse(term: raftBig),
    ReadIndexRequest(requesterID: longText),
    ReadIndexResponse(term: raftBig, readIndex: raftBig),
    AddVoterRequest(id: longText, address: longText, learner: true),
    RemoveServerRequest(id: longText),
    MembershipResponse(index: raftBig, configuration: maximalConfiguration),
    TransferLeadershipRequest(targetID: longText),
    TransferLeadershipResponse(leaderID: longText, term: raftBig),
    GetRequest(key: Array(longText.utf8), consistency: .lease),
    GetResponse(value: Array(repeating: 0, count: 100_000), appliedIndex: big, leaderContactAgeMs: big, createIndex: raftBig, modIndex: raftBig, ttlMs: raftBig),
    SetRequest(key: [0, 0xFF, 0], value: Array(repeating: 0xAB, count: 1 << 20), condition: .modIndex(raftBig), ttlMs: raftBig),
    SetResponse(index: big),
    DeleteRequest(key: Array(longText.utf8), condition: .modIndex(raftBig)),
    DeleteResponse(index: big),
    StatusRequest(),
    StatusResponse(nodeID: longText, role: .learner, term: big, leaderID: longText, leaderAddress: longText, members: maximalConfiguration.servers, commitIndex: big, appliedIndex: big, lastLogIndex: big, snapshotIndex: big,
                   snapshot: SnapshotStatus(index: big, term: big, sizeBytes: big, ageMs: big, receivingIndex: big, receivedBytes: big),
                   followers: [FollowerStatus(id: longText, matchIndex: big, nextIndex: big, lag: big, state: longText), FollowerStatus()],
                   keys: big, bytes: big, digest: big, leaderContactAgeMs: big, memoryUsedBytes: big, maxMemoryBytes: big,
                   evictionPolicy: longText, expiredKeys: big, evictedKeys: big, expiringKeys: big, clientSessions: big),
    Command(op: .txn, key: Array(longText.utf8), value: [0], condition: .absent, by: .min, nowMs: raftBig, ttlMs: raftBig,
            keys: [[], Array(longText.utf8), [0, 0]], modIndexes: [0, raftBig, 1], txn: maximalTxn, onlyExpiring: true,
            session: SessionTag(id: raftBig, sequence: raftBig, ackedBelow: raftBig), sessionIDs: [1, raftBig]),
    WatchRequest(key: Array(longText.utf8), prefix: [0, 0xFF], since: raftBig, keysOnly: true),
    WatchResponse(index: raftBig, events: WatchEventKind.allCases.map { WatchEvent(kind: $0, key: [0xFF, 0], value: Array(longText.utf8), modIndex: raftBig) }),
    WatchEvent(kind: .evict, key: Array(longText.utf8), value: [1], modIndex: raftBig),
    SetTTLRequest(key: Array(longText.utf8), ttlMs: raftBig),
    SetTTLResponse(index: big),
    maximalTxn,
    TxnResponse(succeeded: true, results: [maximalResult, KeyOpResult()], index: big),
    BatchRequest(ops: maximalTxn.success, consistency: .stale),
    BatchResponse(results: [KeyOpResult(), maximalResult], index: big),
    Compare(key: [0xFF], target: .modIndex, result: .greater, value: Array(longText.utf8), modIndex: raftBig),
    KeyOp(type: .delete, key: [0], value: [1], ttlMs: raftBig),
    maximalResult,
    IncrRequest(key: Array(longText.utf8), by: .min),
    IncrResponse(value: .max, index: raftBig),
    KeyVersion(createIndex: raftBig, modIndex: raftBig),
    SnapshotRequest(),
    SnapshotStatus(index: big, term: big, sizeBytes: big, ageMs: big, receivingIndex: big, receivedBytes: big),
    BackupRequest(),
    BackupChunk(data: Array(repeating: 0xEE, count: 1 << 20)),
    OpenSessionRequest(),
    OpenSessionResponse(sessionID: raftBig, timeoutMs: raftBig),
]

/// Every message type with all fields at their defaults.
let emptyMessages: [any WireMessage] = [
    Envelope(), ErrorDetail(), Entry(), Server(), Configuration(), RequestVoteRequest(), RequestVoteResponse(),
    AppendEntriesRequest(), AppendEntriesResponse(), SnapshotMetadata(), InstallSnapshotRequest(),
    InstallSnapshotResponse(), TimeoutNowRequest(), TimeoutNowResponse(), ReadIndexRequest(), ReadIndexResponse(),
    AddVoterRequest(), RemoveServerRequest(), MembershipResponse(), TransferLeadershipRequest(),
    TransferLeadershipResponse(), GetRequest(), GetResponse(), SetRequest(), SetResponse(), DeleteRequest(),
    DeleteResponse(), StatusRequest(), StatusResponse(), Command(), IncrRequest(), IncrResponse(), KeyVersion(createIndex: 0, modIndex: 0),
    SetTTLRequest(), SetTTLResponse(), TxnRequest(), TxnResponse(), BatchRequest(), BatchResponse(), Compare(), KeyOp(), KeyOpResult(),
    WatchRequest(), WatchResponse(), WatchEvent(), SnapshotRequest(), SnapshotStatus(), BackupRequest(), BackupChunk(),
    OpenSessionRequest(), OpenSessionResponse(),
]

@Suite("Round trips")
struct RoundTripTests {
    @Test("every message type is covered")
    func coverage() {
        let names = Set(maximalMessages.map { String(describing: type(of: $0)) })
        #expect(names.count == maximalMessages.count)
        #expect(Set(emptyMessages.map { String(describing: type(of: $0)) }) == names)
        // Every request and response type of every method is among them.
        for method in Method.allCases {
            #expect(names.contains(String(describing: method.requestType)))
            #expect(names.contains(String(describing: method.responseType)))
        }
    }

    @Test("empty messages", arguments: emptyMessages.indices)
    func empty(_ i: Int) throws {
        #expect(try roundTrips(emptyMessages[i]))
    }

    @Test("maximal messages", arguments: maximalMessages.indices)
    func maximal(_ i: Int) throws {
        #expect(try roundTrips(maximalMessages[i]))
    }

    @Test("ten thousand entries in one AppendEntries")
    func manyEntries() throws {
        let entries = (1...10_000).map { (i: Int) -> Entry in
            let type: EntryType = i % 50 == 0 ? .noop : .command
            return Entry(term: UInt64(i / 100 + 1), index: UInt64(i), type: type, data: Array("value-\(i)".utf8))
        }
        let request = AppendEntriesRequest(term: 101, leaderID: "node-1", prevLogIndex: 0, entries: entries, leaderCommit: 9_000)
        let decoded = try AppendEntriesRequest(wireBytes: request.wireBytes())
        #expect(decoded.entries.count == 10_000)
        #expect(decoded == request)
    }

    @Test("a frame near the size limit")
    func largeFrame() throws {
        let payload = try SetRequest(key: .init("k"), value: Array(repeating: 0x5A, count: Frame.defaultMaxLength - 64)).wireBytes()
        let envelope = Envelope(callID: 1, kind: .request, method: Method.set.rawValue, payload: payload)
        var decoder = FrameDecoder()
        decoder.append(try Frame.encode(envelope))
        #expect(try decoder.next() == envelope)
    }

    @Test("a command decodes from an entry's data")
    func commandInEntry() throws {
        let command = Command(op: .set, key: .init("k"), value: .init("v"))
        let entry = try Entry(wireBytes: Entry(term: 1, index: 1, data: command.wireBytes()).wireBytes())
        #expect(try Command(wireBytes: entry.data) == command)
    }
}
