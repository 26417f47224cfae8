import Foundation
import RaftWire
import Testing

/// A vector of Tests/Vectors: its envelope (payload empty) and the message it carries.
struct Vector: Sendable, CustomTestStringConvertible {
    let name: String
    let envelope: Envelope
    let message: (any WireMessage)?

    var testDescription: String { name }

    /// The envelope with the encoded message as its payload.
    func expectedEnvelope() throws -> Envelope {
        var envelope = envelope
        envelope.payload = try message?.wireBytes() ?? []
        return envelope
    }
}

private let cluster = Configuration(servers: [
    Server(id: "node-1", address: "localhost:8081"),
    Server(id: "node-2", address: "localhost:8082"),
    Server(id: "node-3", address: "localhost:8083", suffrage: .learner),
])

/// The same values as the NAME.json files, written out in Swift.
let vectors: [Vector] = [
    Vector(
        name: "01-request-vote-request",
        envelope: Envelope(callID: 1, kind: .request, method: Method.requestVote.rawValue, timeoutMs: 3000),
        message: RequestVoteRequest(
            term: 5, candidateID: "node-2", lastLogIndex: 42, lastLogTerm: 4, preVote: true, targetID: "node-1")),
    Vector(
        name: "02-request-vote-response",
        envelope: Envelope(callID: 1, kind: .response),
        message: RequestVoteResponse(term: 4, voteGranted: true, preVote: true)),
    Vector(
        name: "03-append-entries-request",
        envelope: Envelope(callID: 7, kind: .request, method: Method.appendEntries.rawValue, timeoutMs: 3000),
        message: AppendEntriesRequest(
            term: 3, leaderID: "node-1", prevLogIndex: 10, prevLogTerm: 2,
            entries: [
                Entry(term: 3, index: 11, type: .command, data: try! Command(op: .set, key: .init("hello"), value: .init("world")).wireBytes()),
                Entry(term: 3, index: 12, type: .noop),
            ],
            leaderCommit: 10, seq: 99, targetID: "node-2")),
    Vector(
        name: "04-append-entries-response",
        envelope: Envelope(callID: 7, kind: .response),
        message: AppendEntriesResponse(
            term: 3, success: false, rejectIndex: 10, conflictTerm: 1, conflictIndex: 6, lastLogIndex: 10, seq: 99)),
    Vector(
        name: "05-install-snapshot-request",
        envelope: Envelope(callID: 300, kind: .request, method: Method.installSnapshot.rawValue),
        message: InstallSnapshotRequest(
            term: 7, leaderID: "node-1",
            metadata: SnapshotMetadata(
                lastIncludedIndex: 5000, lastIncludedTerm: 7, configuration: cluster, size: 1_048_590),
            offset: 1_048_576, data: .init("snapshot-bytes"), done: true, seq: 1, targetID: "node-3")),
    Vector(
        name: "06-install-snapshot-response",
        envelope: Envelope(callID: 300, kind: .response),
        message: InstallSnapshotResponse(term: 7, nextOffset: 1_048_590, installed: true, seq: 1)),
    Vector(
        name: "07-kv-set-request",
        envelope: Envelope(callID: 2, kind: .request, method: Method.set.rawValue, timeoutMs: 5000),
        message: SetRequest(key: .init("hello"), value: .init("world"))),
    Vector(
        name: "08-kv-set-response",
        envelope: Envelope(callID: 2, kind: .response),
        message: SetResponse(index: 11)),
    Vector(
        name: "09-kv-get-request-stale",
        envelope: Envelope(callID: 3, kind: .request, method: Method.get.rawValue),
        message: GetRequest(key: .init("greeting"), consistency: .stale)),
    Vector(
        name: "10-kv-get-not-found",
        envelope: Envelope(callID: 3, kind: .response, status: .notFound, message: "key not found"),
        message: nil),
    Vector(
        name: "11-unavailable-with-leader-hint",
        envelope: Envelope(callID: 4, kind: .response, status: .unavailable, message: "not the leader"),
        message: ErrorDetail(leaderID: "node-1", leaderAddress: "localhost:8081", retryAfterMs: 100)),
    Vector(
        name: "12-add-voter-request",
        envelope: Envelope(callID: 9, kind: .request, method: Method.addVoter.rawValue),
        message: AddVoterRequest(id: "node-4", address: "localhost:8084")),
    Vector(
        name: "13-heartbeat",
        envelope: Envelope(callID: 8, kind: .request, method: Method.appendEntries.rawValue),
        message: AppendEntriesRequest(
            term: 3, leaderID: "node-1", prevLogIndex: 12, prevLogTerm: 3, leaderCommit: 12, seq: 100,
            targetID: "node-2")),
    Vector(
        name: "14-kv-get-with-token",
        envelope: Envelope(callID: 5, kind: .request, method: Method.get.rawValue, authToken: "read-token-0123456789"),
        message: GetRequest(key: Array("greeting".utf8))),
    Vector(
        name: "15-kv-get-response",
        envelope: Envelope(callID: 5, kind: .response),
        message: GetResponse(value: Array("v1".utf8), appliedIndex: 12, createIndex: 9, modIndex: 11)),
    Vector(
        name: "16-kv-set-if-match",
        envelope: Envelope(callID: 6, kind: .request, method: Method.set.rawValue),
        message: SetRequest(key: Array("hello".utf8), value: Array("world2".utf8), condition: .modIndex(11))),
    Vector(
        name: "17-condition-failed",
        envelope: Envelope(callID: 6, kind: .response, status: .failedPrecondition, message: "condition failed"),
        message: ErrorDetail(currentVersion: KeyVersion(createIndex: 9, modIndex: 12))),
    Vector(
        name: "18-kv-incr-request",
        envelope: Envelope(callID: 10, kind: .request, method: Method.incr.rawValue),
        message: IncrRequest(key: Array("hits".utf8), by: -2)),
    Vector(
        name: "19-kv-set-with-ttl",
        envelope: Envelope(callID: 11, kind: .request, method: Method.set.rawValue),
        message: SetRequest(key: Array("session".utf8), value: Array("s1".utf8), ttlMs: 30_000)),
    Vector(
        name: "20-kv-txn-lock",
        envelope: Envelope(callID: 12, kind: .request, method: Method.txn.rawValue),
        message: TxnRequest(
            compares: [Compare(key: Array("lock".utf8), target: .exists, result: .notEqual)],
            success: [KeyOp(type: .set, key: Array("lock".utf8), value: Array("me".utf8), ttlMs: 10_000)],
            failure: [KeyOp(type: .get, key: Array("lock".utf8))])),
    Vector(
        name: "21-memory-full",
        envelope: Envelope(callID: 13, kind: .response, status: .resourceExhausted, message: "over the memory bound"),
        message: ErrorDetail(limit: "max-memory")),
    Vector(
        name: "22-kv-watch-request",
        envelope: Envelope(callID: 14, kind: .request, method: Method.watch.rawValue),
        message: WatchRequest(prefix: Array("user/".utf8), since: 40)),
    Vector(
        name: "23-kv-watch-response",
        envelope: Envelope(callID: 14, kind: .response, more: true),
        message: WatchResponse(index: 42, events: [
            WatchEvent(kind: .set, key: Array("user/1".utf8), value: Array("alice".utf8), modIndex: 42),
            WatchEvent(kind: .delete, key: Array("user/2".utf8), modIndex: 41),
        ])),
    Vector(
        name: "24-cancel",
        envelope: Envelope(callID: 14, kind: .cancel),
        message: nil),
    Vector(
        name: "25-kv-backup-request",
        envelope: Envelope(callID: 15, kind: .request, method: Method.backup.rawValue, timeoutMs: 3_600_000),
        message: BackupRequest()),
    Vector(
        name: "26-kv-backup-chunk",
        envelope: Envelope(callID: 15, kind: .response, more: true),
        message: BackupChunk(data: Array("RCSNAP01".utf8))),
    Vector(
        name: "27-kv-incr-in-session",
        envelope: Envelope(
            callID: 16, kind: .request, method: Method.incr.rawValue, timeoutMs: 3_000,
            session: SessionTag(id: 42, sequence: 5, ackedBelow: 5)),
        message: IncrRequest(key: Array("visits".utf8), by: 1)),
    Vector(
        name: "28-session-expired",
        envelope: Envelope(callID: 16, kind: .response, status: .failedPrecondition, message: "session 42 does not exist"),
        message: ErrorDetail(session: "expired")),
]

/// Decodes `bytes` as the type of `like` and compares.
private func decodesTo(_ bytes: [UInt8], _ like: some WireMessage) throws -> Bool {
    func check<M: WireMessage>(_ expected: M) throws -> Bool { try M(wireBytes: bytes) == expected }
    return try check(like)
}

@Suite("Hex test vectors")
struct VectorTests {
    @Test("every vector file has a Swift twin")
    func everyFileIsChecked() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: vectorsDirectory.path)
            .filter { $0.hasSuffix(".hex") }.map { String($0.dropLast(4)) }.sorted()
        #expect(files == vectors.map(\.name))
        #expect(files.count >= 6)
    }

    @Test("decoding the frame gives the expected values", arguments: vectors)
    func decode(_ vector: Vector) throws {
        var decoder = FrameDecoder()
        decoder.append(try vectorBytes(vector.name))
        let envelope = try #require(try decoder.next())
        #expect(decoder.bufferedByteCount == 0)
        var header = envelope
        header.payload = []
        #expect(header == vector.envelope)
        if let message = vector.message {
            #expect(try decodesTo(envelope.payload, message))
        } else {
            #expect(envelope.payload.isEmpty)
        }
    }

    @Test("encoding the values gives the frame byte for byte", arguments: vectors)
    func encode(_ vector: Vector) throws {
        #expect(try Frame.encode(vector.expectedEnvelope()) == vectorBytes(vector.name))
    }

    @Test("the method's declared types decode the payload", arguments: vectors.filter { $0.envelope.kind == .request })
    func methodTypes(_ vector: Vector) throws {
        let method = try #require(Method(rawValue: vector.envelope.method))
        let payload = try vector.expectedEnvelope().payload
        let decoded = try method.requestType.init(wireBytes: payload)
        #expect(try decoded.wireBytes() == payload)
    }
}
