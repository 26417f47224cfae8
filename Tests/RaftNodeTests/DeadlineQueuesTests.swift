@testable import RaftNode
import Testing

@Suite("Deadline queues")
struct DeadlineQueuesTests {
    @Test("values come due at their deadlines, whatever their timeout, each once")
    func due() {
        var queues = DeadlineQueues<String>()
        queues.insert("a", timeout: 100, now: 0)
        queues.insert("slow", timeout: 1_000, now: 10)
        queues.insert("b", timeout: 100, now: 50)
        queues.insert("c", timeout: 100, now: 200)
        #expect(queues.popAll(through: 99).isEmpty)
        #expect(queues.popAll(through: 150) == ["a", "b"])
        #expect(queues.popAll(through: 150).isEmpty)
        #expect(Set(queues.popAll(through: 1_010)) == ["c", "slow"])
        // A deadline past the clock's end is never due, and traps nothing.
        queues.insert("never", timeout: .max, now: 5)
        #expect(queues.popAll(through: .max - 1).isEmpty)
        queues.removeAll()
        #expect(queues.popAll(through: .max).isEmpty)
    }

    @Test("a long queue is taken in parts and keeps its order")
    func longQueue() {
        var queues = DeadlineQueues<Int>()
        for i in 0..<10_000 { queues.insert(i, timeout: 5, now: UInt64(i)) }
        var taken: [Int] = []
        for now in stride(from: UInt64(0), through: 10_010, by: 7) { taken += queues.popAll(through: now) }
        #expect(taken == Array(0..<10_000))
    }
}
