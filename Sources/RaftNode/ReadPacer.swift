import NIOCore

/// Hands read results to their callers a slice of bytes at a time, so the loop polls its
/// sockets between slices. One quorum round may confirm hundreds of reads at once, and one
/// turn of the loop may read hundreds of stale reads; answered together, their values (copied
/// into answers, then into sockets) hold the loop for as long as the copying takes - a third
/// of a second for 400 values of 1 MiB - and every request waiting to be read or refused
/// waits with them.
///
/// NIO runs a task queued by a task, and a scheduled task already due, in the same turn
/// without polling; so the next slice is scheduled a gap after the one before has ended (its
/// answers written), which is still in the future when the loop looks. On the loop only.
final class ReadPacer {
    /// Bytes of values one slice hands out (about two milliseconds of copying): the first read
    /// of a slice goes whatever its size.
    static let sliceBytes = 2 << 20
    /// The pause between slices; it costs large reads queued behind a slice about 5% of their
    /// rate, and nothing to reads that find room.
    static let gap = TimeAmount.microseconds(100)

    private let loop: any EventLoop
    private let sliceBytes: Int
    private var left: Int
    /// Results past the slice, oldest first, with their bytes and how each is handed out.
    private var waiting = CircularBuffer<(bytes: Int, release: () -> Void)>()
    private var nextSliceDue = false

    init(loop: any EventLoop, sliceBytes: Int = ReadPacer.sliceBytes) {
        self.loop = loop
        self.sliceBytes = sliceBytes
        left = sliceBytes
    }

    /// `result` (whose values hold `bytes`), now if the slice has room and nothing waits,
    /// else once the slices before it are handed out.
    func paced<Result: Sendable>(_ result: Result, bytes: Int) -> EventLoopFuture<Result> {
        handOutNow(bytes: bytes) ? loop.makeSucceededFuture(result) : queued(result, bytes: bytes)
    }

    /// `paced`, without making a future for a result that goes now.
    func handOut<Result: Sendable>(_ result: Result, bytes: Int) -> Paced<Result> {
        handOutNow(bytes: bytes) ? .now(result) : .later(queued(result, bytes: bytes))
    }

    /// Whether `bytes` more may be handed out now (then they are counted).
    private func handOutNow(bytes: Int) -> Bool {
        guard waiting.isEmpty, left > 0 else { return false }
        take(bytes)
        return true
    }

    /// Counts `bytes` handed out against the slice (a read larger than a slice ends it).
    private func take(_ bytes: Int) {
        left = left &- min(bytes, sliceBytes)
    }

    private func queued<Result: Sendable>(_ result: Result, bytes: Int) -> EventLoopFuture<Result> {
        let promise = loop.makePromise(of: Result.self)
        waiting.append((bytes, { promise.succeed(result) }))
        if !nextSliceDue {
            nextSliceDue = true
            // Once the task that filled this slice has ended.
            let pacer = NIOLoopBound(self, eventLoop: loop)
            loop.execute { pacer.value.scheduleNextSlice() }
        }
        return promise.futureResult
    }

    /// Hands out whatever waits, at once (the node stops).
    func releaseAll() {
        while let next = waiting.popFirst() { next.release() }
        left = sliceBytes
    }

    private func scheduleNextSlice() {
        let pacer = NIOLoopBound(self, eventLoop: loop)
        loop.scheduleTask(in: Self.gap) { pacer.value.nextSlice() }
    }

    private func nextSlice() {
        left = sliceBytes
        while left > 0, let next = waiting.popFirst() {
            take(next.bytes)
            next.release()
        }
        if waiting.isEmpty {
            nextSliceDue = false
        } else {
            scheduleNextSlice()
        }
    }
}

/// A value now, or a future of it: what a caller may answer at once without making a future.
public enum Paced<Value: Sendable>: Sendable {
    case now(Value)
    case later(EventLoopFuture<Value>)

    public func map<NewValue: Sendable>(_ transform: @escaping @Sendable (Value) -> NewValue) -> Paced<NewValue> {
        switch self {
        case .now(let value): .now(transform(value))
        case .later(let future): .later(future.map(transform))
        }
    }
}
