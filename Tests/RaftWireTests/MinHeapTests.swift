import RaftWire
import Testing

@Suite("Min-heap")
struct MinHeapTests {
    @Test("inserted or heapified at once, entries come out smallest first", arguments: [0, 1, 2, 7, 100, 1_000])
    func order(count: Int) {
        var rng = SplitMix64(seed: UInt64(count))
        let keys = (0..<count).map { _ in UInt64.random(in: 0..<500, using: &rng) }
        var inserted = MinHeap<Int>()
        for (i, key) in keys.enumerated() { inserted.insert(i, key: key) }
        var heapified = MinHeap(keys.enumerated().map { (key: $0.element, value: $0.offset) })
        #expect(heapified.count == count && inserted.minKey == keys.min() && heapified.minKey == keys.min())
        for heap in [inserted, heapified] {
            var heap = heap
            let popped = heap.popAll(through: 250).map { keys[$0] }
            #expect(popped == keys.filter { $0 <= 250 }.sorted())
            #expect(heap.count == keys.filter { $0 > 250 }.count)
        }
        _ = heapified.popAll(through: .max)
        #expect(heapified.isEmpty)
    }
}
