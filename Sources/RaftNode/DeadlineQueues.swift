/// Deadlines of waiters, one first-in-first-out queue for each timeout. Waiters that share a
/// timeout expire in the order they began, so adding one and expiring one cost O(1) - a heap
/// of every write's deadline cost log n swaps through megabytes of memory for each. Meant for
/// a handful of distinct timeouts (the node's own settings), not one per caller.
struct DeadlineQueues<Value> {
    private struct Queue {
        var timeout: UInt64
        var items: [(deadline: UInt64, value: Value)] = []
        /// Items before it have been taken.
        var head = 0

        mutating func popAll(through now: UInt64, into due: inout [Value]) {
            while head < items.count, items[head].deadline <= now {
                due.append(items[head].value)
                head += 1
            }
            // Taken items are dropped once they are at least half the array: amortized O(1).
            if head == items.count {
                items.removeAll(keepingCapacity: true)
                head = 0
            } else if head >= 1024, head * 2 >= items.count {
                items.removeFirst(head)
                head = 0
            }
        }
    }

    private var queues: [Queue] = []

    /// `value` expires `timeout` nanoseconds after `now` (monotonic uptime nanoseconds).
    mutating func insert(_ value: Value, timeout: UInt64, now: UInt64) {
        let (deadline, overflow) = now.addingReportingOverflow(timeout)
        guard let index = queues.firstIndex(where: { $0.timeout == timeout }) else {
            queues.append(Queue(timeout: timeout, items: [(overflow ? .max : deadline, value)]))
            return
        }
        // A queue must stay in order; the monotonic clock keeps it so, and this makes sure.
        let last = queues[index].items.last?.deadline ?? 0
        queues[index].items.append((max(overflow ? .max : deadline, last), value))
    }

    /// Removes and returns every value whose deadline is at most `now`.
    mutating func popAll(through now: UInt64) -> [Value] {
        var due: [Value] = []
        for index in queues.indices {
            queues[index].popAll(through: now, into: &due)
        }
        return due
    }

    mutating func removeAll() {
        queues.removeAll()
    }
}
