import Connections
import RaftWire
import Testing

@Suite("the admission bounds a node's connections share")
struct AdmissionTests {
    @Test("writes past --max-writes-in-flight are refused, naming the flag, until one is answered")
    func writeBound() {
        let gate = AdmissionGate(limits: AdmissionLimits(maxWritesInFlight: 2, maxBytesInFlight: 1 << 20))
        #expect(gate.admit(bytes: 10, isWrite: true) == nil)
        #expect(gate.admit(bytes: 10, isWrite: true) == nil)
        let refusal = gate.admit(bytes: 10, isWrite: true)
        #expect(refusal?.status == .unavailable)
        #expect(refusal?.detail?.limit == "max-writes-in-flight")
        #expect(refusal?.message.contains("--max-writes-in-flight") == true)
        // A refusal holds nothing.
        #expect(gate.held.writes == 2 && gate.held.bytes == 20)
        // Reads do not take a write.
        #expect(gate.admit(bytes: 0, isWrite: false) == nil)
        gate.release(bytes: 10, isWrite: true)
        #expect(gate.admit(bytes: 10, isWrite: true) == nil)
    }

    @Test("bytes past --max-bytes-in-flight are refused, but a request alone always fits")
    func byteBound() {
        let gate = AdmissionGate(limits: AdmissionLimits(maxWritesInFlight: 100, maxBytesInFlight: 1_000))
        #expect(gate.admit(bytes: 5_000, isWrite: true) == nil)
        #expect(gate.admit(bytes: 1, isWrite: true)?.detail?.limit == "max-bytes-in-flight")
        gate.release(bytes: 5_000, isWrite: true)
        #expect(gate.admit(bytes: 600, isWrite: true) == nil)
        // A chunked body growing takes more as it comes.
        #expect(gate.take(bytes: 300) == nil)
        #expect(gate.take(bytes: 300)?.detail?.limit == "max-bytes-in-flight")
        #expect(gate.held.bytes == 900 && gate.held.writes == 1)
    }

    @Test("reads are refused while answers wait past --max-answer-bytes; writes are not")
    func answerBound() {
        let gate = AdmissionGate(limits: AdmissionLimits(maxWritesInFlight: 100, maxBytesInFlight: 1 << 20, maxAnswerBytes: 1_000))
        gate.answerQueued(bytes: 1_500)
        #expect(gate.admit(bytes: 0, isWrite: false)?.detail?.limit == "max-answer-bytes")
        #expect(gate.admit(bytes: 10, isWrite: true) == nil)
        gate.answerSent(bytes: 1_500)
        #expect(gate.admit(bytes: 0, isWrite: false) == nil)
        // Reads admitted together: their answers are held to the bound as they are queued,
        // except the first, which goes whatever its size.
        #expect(gate.answerQueued(bytes: 1_500, isRead: true) == nil)
        #expect(gate.answerQueued(bytes: 1, isRead: true)?.detail?.limit == "max-answer-bytes")
        gate.answerSent(bytes: 1_500)
        #expect(gate.answerQueued(bytes: 600, isRead: true) == nil)
        #expect(gate.answerQueued(bytes: 400, isRead: true) == nil)
        #expect(gate.answerQueued(bytes: 1, isRead: true)?.detail?.limit == "max-answer-bytes")
        #expect(gate.held.answerBytes == 1_000)
    }

    @Test("writes are refused while the log's backlog or its bytes not in a snapshot are past their bounds")
    func logBounds() {
        let gate = AdmissionGate(limits: AdmissionLimits(maxWritesInFlight: 100, maxBytesInFlight: 1 << 20, maxApplyBacklog: 10), maxLogBytes: 4_000)
        gate.publish(backlog: 11, logBytes: 0)
        #expect(gate.admit(bytes: 1, isWrite: true)?.detail?.limit == "max-apply-backlog")
        gate.publish(backlog: 0, logBytes: 4_001)
        #expect(gate.admit(bytes: 1, isWrite: true)?.detail?.limit == "snapshot-mib")
        #expect(gate.admit(bytes: 0, isWrite: false) == nil)
        gate.publish(backlog: 10, logBytes: 4_000)
        #expect(gate.admit(bytes: 1, isWrite: true) == nil)
    }

    @Test("the retry advice grows while refusals outnumber admitted writes, stays within its bounds, and falls back")
    func advice() {
        let gate = AdmissionGate(limits: AdmissionLimits(maxWritesInFlight: 1, maxBytesInFlight: 1 << 20))
        func advised() -> UInt32 { gate.admit(bytes: 1, isWrite: true)?.detail?.retryAfterMs ?? 0 }
        #expect(gate.admit(bytes: 1, isWrite: true) == nil)
        let first = (0..<100).map { _ in advised() }
        #expect(first.allSatisfy { (50...150).contains($0) })
        for _ in 0..<20 {
            for _ in 0..<100 { _ = advised() }
            gate.adjustAdvice()
        }
        let crowded = (0..<100).map { _ in advised() }
        #expect(crowded.allSatisfy { (2_500...7_500).contains($0) })
        for _ in 0..<20 { gate.adjustAdvice() }
        #expect((50...150).contains(advised()))
    }
}
