import RaftWire
import Testing

@testable import wire_dump

/// Decodes `bytes` as one raw stream and returns the printed lines.
func dumpLines(_ bytes: [UInt8], format: Dumper.Format = .text, filter: FrameFilter = FrameFilter(), chunk: Int = .max) -> [String] {
    var dumper = Dumper(format: format, summaryOnly: false, filter: filter, output: Output(flushEachLine: false, capture: true))
    let label = StreamLabel(connection: 1, source: "a:1", destination: "b:2")
    var offset = 0
    while offset < bytes.count {
        let end = min(bytes.count, offset + chunk)
        dumper.receive(bytes[offset..<end], on: label, at: nil)
        offset = end
    }
    dumper.finish()
    return dumper.output.captured ?? []
}

@Suite("Decoding the hex test vectors")
struct VectorDecodingTests {
    /// What each vector's line must say, field by field.
    static let expected: [String: [String]] = [
        "01-request-vote-request": ["request #1 Raft/RequestVote 64B", "term=5 candidate=node-2 last_log=42/t4 pre_vote=true target=node-1"],
        "02-request-vote-response": ["response #1 Raft/RequestVote OK 16B", "term=4 granted=true pre_vote=true"],
        "03-append-entries-request": [
            "request #7 Raft/AppendEntries 98B timeout=3000ms",
            "prev=10/t2 entries=2[11..12 t3: set \"hello\" (5B), noop] commit=10 seq=99 target=node-2",
        ],
        "04-append-entries-response": ["response #7 Raft/AppendEntries OK", "success=false reject=10 conflict_term=1 conflict_index=6"],
        "05-install-snapshot-request": [
            "request #300 Raft/InstallSnapshot", "node-3@localhost:8083(learner)", "offset=1048576 data=14B done=true",
        ],
        "06-install-snapshot-response": ["response #300 Raft/InstallSnapshot OK", "next_offset=1048590 installed=true"],
        "07-kv-set-request": ["request #2 KV/Set 44B timeout=5000ms key=\"hello\" value=\"world\""],
        "08-kv-set-response": ["response #2 KV/Set OK 12B index=11"],
        "09-kv-get-request-stale": ["request #3 KV/Get", "key=\"greeting\" consistency=stale"],
        "10-kv-get-not-found": ["response #3 KV/Get NOT_FOUND 25B \"key not found\""],
        "11-unavailable-with-leader-hint": [
            "response #4 ? UNAVAILABLE", "leader=node-1 leader_address=localhost:8081 retry_after_ms=100",
        ],
        "12-add-voter-request": ["request #9 Raft/AddVoter", "id=node-4 address=localhost:8084"],
        "13-heartbeat": ["request #8 Raft/AppendEntries", "entries=0 commit=12"],
        "14-kv-get-with-token": ["request #5 KV/Get", "key=\"greeting\""],
        "15-kv-get-response": ["response #5 KV/Get OK", "value=\"v1\" applied_index=12 create_index=9 mod_index=11"],
        "16-kv-set-if-match": ["request #6 KV/Set", "key=\"hello\" value=\"world2\" if_mod_index=11"],
        "17-condition-failed": ["response #6 KV/Set FAILED_PRECONDITION", "current_version=9/12"],
        "18-kv-incr-request": ["request #10 KV/Incr", "key=\"hits\" by=-2"],
        "19-kv-set-with-ttl": ["request #11 KV/Set", "key=\"session\" value=\"s1\" ttl_ms=30000"],
        "20-kv-txn-lock": [
            "request #12 KV/Txn", "compares=[\"lock\".exists !=] success=[set \"lock\"=\"me\" ttl 10000ms] failure=[get \"lock\"]",
        ],
        "21-memory-full": ["response #13 ? RESOURCE_EXHAUSTED", "\"over the memory bound\" limit=max-memory"],
        "22-kv-watch-request": ["request #14 KV/Watch", "prefix=\"user/\" since=40"],
        "23-kv-watch-response": ["response #14 KV/Watch OK", "more index=42 events=[set \"user/1\"=\"alice\"@42, delete \"user/2\"@41]"],
        "24-cancel": ["cancel #14 KV/Watch"],
        "25-kv-backup-request": ["request #15 KV/Backup"],
        "26-kv-backup-chunk": ["response #15 KV/Backup OK", "more data_bytes=8"],
        "27-kv-incr-in-session": ["request #16 KV/Incr", "session=42#5 acked_below=5", "key=\"visits\" by=1"],
        "28-session-expired": ["response #16 KV/Incr FAILED_PRECONDITION", "\"session 42 does not exist\" session=expired"],
    ]

    @Test("every vector file has its expectation")
    func everyVectorIsChecked() throws {
        #expect(try VectorFiles.names == Self.expected.keys.sorted())
    }

    @Test("all vectors in one stream, in any read sizes, decode field by field", arguments: [1, 3, 7, 64, Int.max])
    func decodeAll(chunk: Int) throws {
        let names = try VectorFiles.names
        let stream = try names.flatMap(VectorFiles.bytes)
        let lines = dumpLines(stream, chunk: chunk)
        #expect(lines.count == names.count)
        for (name, line) in zip(names, lines) {
            for part in Self.expected[name] ?? [] {
                #expect(line.contains(part), "\(name): \(line)")
            }
        }
    }

    @Test("JSON lines carry the decoded message and the paired method")
    func json() throws {
        let stream = try VectorFiles.bytes("03-append-entries-request") + VectorFiles.bytes("04-append-entries-response")
        let lines = dumpLines(stream, format: .json)
        #expect(lines.count == 2)
        #expect(lines[0].contains(#""entries":{"count":2,"first_index":11,"last_index":12,"terms":[3]"#))
        #expect(lines[0].contains(#"{"index":11,"term":3,"type":"command","op":"set","key":"hello","value_size":5}"#))
        #expect(lines[1].contains(#""kind":"response","call_id":7,"method":"/raftcache.Raft/AppendEntries""#))
    }

    @Test("a bearer token is never printed")
    func tokenNotShown() throws {
        let frame = try VectorFiles.bytes("14-kv-get-with-token")
        for format in [Dumper.Format.text, .json] {
            let lines = dumpLines(frame, format: format)
            #expect(!lines.isEmpty)
            #expect(!lines.contains { $0.contains("read-token") })
        }
    }

    @Test("--no-heartbeats hides the empty AppendEntries and its response")
    func heartbeats() throws {
        let response = try Frame.encode(Envelope.response(callID: 8, AppendEntriesResponse(term: 3, success: true)))
        let stream = try VectorFiles.bytes("13-heartbeat") + response + VectorFiles.bytes("03-append-entries-request")
        let lines = dumpLines(stream, filter: FrameFilter(hideHeartbeats: true))
        #expect(lines.count == 1)
        #expect(lines.first?.contains("#7") == true)
        #expect(dumpLines(stream).count == 3)
    }
}

@Suite("Bytes that are not frames")
struct BadInputTests {
    @Test("a length prefix over the limit is reported with its offset and bytes, then the stream is skipped")
    func badLength() throws {
        let good = try VectorFiles.bytes("07-kv-set-request")
        let lines = dumpLines(good + [0xff, 0xff, 0xff, 0xff, 1, 2, 3] + good)
        #expect(lines.count == 3)
        #expect(lines[1].contains("PROBLEM at offset \(good.count): length prefix 4294967295 is over the limit"))
        #expect(lines[1].contains("bytes: ff ff ff ff 01 02 03"))
        #expect(lines[2].contains("skipped"))
    }

    @Test("random bytes never crash and memory stays bounded by the frame limit")
    func randomBytes() {
        var random = SplitMix64(seed: 42)
        for _ in 0..<200 {
            let bytes = (0..<Int(random.next() % 2000)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            _ = dumpLines(bytes, chunk: Int(random.next() % 100) + 1)
        }
        var framer = StreamFramer(maxLength: 1000)
        _ = framer.append([0, 0, 3, 0xe8])
        _ = framer.append([UInt8](repeating: 7, count: 999))
        #expect(framer.bufferedByteCount == 1003)
        let events = framer.append([7, 0, 1, 0, 0, 9])
        #expect(events.count == 2)
        if case .problem(let problem) = events.last {
            #expect(problem.offset == 1004)
            #expect(problem.reason.contains("65536"))
        } else {
            Issue.record("expected a problem after the frame, got \(events)")
        }
        #expect(framer.abandoned)
        #expect(framer.bufferedByteCount == 0)
    }
}
