/// A binary min-heap of (key, value) pairs, ordered by key: deadlines in nanoseconds, or log
/// indexes. Thousands of calls waiting each with a timer of NIO's own made the event loop
/// spend its time keeping that timer heap (and cancelling a timer searches it); this one
/// holds plain values, and entries whose work is done are skipped when they come up. It is
/// inlinable so that users specialize it: unspecialized, each swap of a generic element
/// allocated.
public struct MinHeap<Value>: Sendable where Value: Sendable {
    @usableFromInline var items: [(key: UInt64, value: Value)] = []

    @inlinable public init() {}

    /// A heap of `items`, made in linear time.
    @inlinable public init(_ items: [(key: UInt64, value: Value)]) {
        self.items = items
        for parent in stride(from: items.count / 2 - 1, through: 0, by: -1) { siftDown(from: parent) }
    }

    @inlinable public var isEmpty: Bool { items.isEmpty }
    @inlinable public var count: Int { items.count }
    /// The smallest key, if any.
    @inlinable public var minKey: UInt64? { items.first?.key }

    @inlinable public mutating func insert(_ value: Value, key: UInt64) {
        items.append((key, value))
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard items[child].key < items[parent].key else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    /// Removes and returns every entry whose key is at most `key`, smallest first.
    @inlinable public mutating func popAll(through key: UInt64) -> [Value] {
        var popped: [Value] = []
        while let first = items.first, first.key <= key {
            popped.append(first.value)
            removeFirst()
        }
        return popped
    }

    @inlinable public mutating func removeAll() {
        items.removeAll()
    }

    @inlinable mutating func removeFirst() {
        let last = items.removeLast()
        guard !items.isEmpty else { return }
        items[0] = last
        siftDown(from: 0)
    }

    @inlinable mutating func siftDown(from start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < items.count && items[left].key < items[smallest].key { smallest = left }
            if right < items.count && items[right].key < items[smallest].key { smallest = right }
            guard smallest != parent else { return }
            items.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
