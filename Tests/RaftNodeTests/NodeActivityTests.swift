@testable import RaftNode
import Testing

@Suite("Node activity")
struct NodeActivityTests {
    @Test("one sample a second: entries applied and reads answered in it; skipped seconds as zeros; bounded")
    func samples() {
        let activity = NodeActivity()
        activity.tick(nowMs: 10_000, appliedIndex: 100)  // The first tick only starts counting.
        activity.readsAnswered(3)
        activity.tick(nowMs: 10_500, appliedIndex: 105)  // Same second: nothing yet.
        #expect(activity.series().writesPerSecond.isEmpty)
        activity.tick(nowMs: 11_000, appliedIndex: 120)
        activity.readsAnswered(2)
        activity.tick(nowMs: 14_200, appliedIndex: 130)  // Seconds 12 and 13 had no tick.
        let series = activity.series()
        #expect(series.writesPerSecond == [20, 0, 0, 10])
        #expect(series.readsPerSecond == [3, 0, 0, 2])

        activity.tick(nowMs: 1_000_000, appliedIndex: 130)
        #expect(activity.series().writesPerSecond.count == NodeActivity.samplesKept)
        for change in 1...30 { activity.leaderChanged(.init(timeMs: UInt64(change), term: UInt64(change), leaderID: "n")) }
        #expect(activity.series().leaderChanges.map(\.term) == Array(11...30))
    }
}
