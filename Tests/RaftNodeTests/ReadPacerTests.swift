import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
@testable import RaftNode
import Testing

@Suite("Read pacer")
struct ReadPacerTests {
    /// Hands `count` results of `bytes` each to `pacer`; what has been handed out so far.
    private static func ask(_ pacer: ReadPacer, _ results: Range<Int>, bytes: Int, into handed: NIOLockedValueBox<[Int]>) {
        for i in results {
            pacer.paced(i, bytes: bytes).whenSuccess { value in handed.withLockedValue { $0.append(value) } }
        }
    }

    @Test("reads past a slice's bytes wait for a later turn of the loop, in order, a slice a turn")
    func slices() {
        let loop = EmbeddedEventLoop()
        let pacer = ReadPacer(loop: loop, sliceBytes: 100)
        let handed = NIOLockedValueBox<[Int]>([])
        Self.ask(pacer, 0..<5, bytes: 60, into: handed)
        // The second passes the slice and still goes whole; the rest wait.
        #expect(handed.withLockedValue { $0 } == [0, 1])
        // Not within the turn that filled the slice, nor before the gap.
        loop.run()
        #expect(handed.withLockedValue { $0 } == [0, 1])
        loop.advanceTime(by: ReadPacer.gap - .nanoseconds(1))
        #expect(handed.withLockedValue { $0 } == [0, 1])
        loop.advanceTime(by: .nanoseconds(1))
        #expect(handed.withLockedValue { $0 } == [0, 1, 2, 3])
        // A read asked for meanwhile waits behind those already waiting.
        Self.ask(pacer, 5..<6, bytes: 1, into: handed)
        loop.advanceTime(by: ReadPacer.gap)
        #expect(handed.withLockedValue { $0 } == [0, 1, 2, 3, 4, 5])
        // Room again in the slice after it: at once.
        Self.ask(pacer, 6..<7, bytes: 1, into: handed)
        #expect(handed.withLockedValue { $0 } == [0, 1, 2, 3, 4, 5, 6])
        try? loop.syncShutdownGracefully()
    }

    @Test("a read handed out now makes no future; one behind waiting reads waits its turn")
    func handOut() {
        let loop = EmbeddedEventLoop()
        let pacer = ReadPacer(loop: loop, sliceBytes: 100)
        let handed = NIOLockedValueBox<[Int]>([])
        guard case .now(0) = pacer.handOut(0, bytes: 150) else { Issue.record("the first read of a slice waited"); return }
        guard case .later(let second) = pacer.handOut(1, bytes: 1) else { Issue.record("a read past the slice went at once"); return }
        second.whenSuccess { value in handed.withLockedValue { $0.append(value) } }
        Self.ask(pacer, 2..<3, bytes: 1, into: handed)
        loop.run()
        loop.advanceTime(by: ReadPacer.gap)
        #expect(handed.withLockedValue { $0 } == [1, 2])
        try? loop.syncShutdownGracefully()
    }

    @Test("small reads never wait for long, and what waits is handed out when the node stops")
    func smallAndStopping() {
        let loop = EmbeddedEventLoop()
        let pacer = ReadPacer(loop: loop, sliceBytes: 1 << 20)
        let handed = NIOLockedValueBox<[Int]>([])
        Self.ask(pacer, 0..<1_000, bytes: 100, into: handed)
        #expect(handed.withLockedValue { $0.count } == 1_000)
        // A value larger than a slice goes whole, and what comes after it waits.
        Self.ask(pacer, 1_000..<1_003, bytes: .max, into: handed)
        #expect(handed.withLockedValue { $0.count } == 1_001)
        pacer.releaseAll()
        #expect(handed.withLockedValue { $0 } == Array(0..<1_003))
        loop.run()
        loop.advanceTime(by: ReadPacer.gap)
        #expect(handed.withLockedValue { $0 } == Array(0..<1_003))
        try? loop.syncShutdownGracefully()
    }
}
