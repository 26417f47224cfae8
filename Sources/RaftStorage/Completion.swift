import Dispatch
import Synchronization

/// A one-shot result that a thread can wait for.
final class Completion: Sendable {
    private let semaphore = DispatchSemaphore(value: 0)
    private let result = Mutex<(any Error)?>(nil)

    func finish(_ error: (any Error)?) {
        result.withLock { $0 = error }
        semaphore.signal()
    }

    func wait() throws {
        semaphore.wait()
        if let error = result.withLock({ $0 }) { throw error }
    }
}
