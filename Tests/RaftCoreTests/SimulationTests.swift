import RaftSimulation
import Testing

@Suite("Cluster simulation")
struct SimulationTests {
    /// 200 seeds in `make test` (a stranger sends hostile messages in one in three);
    /// `make sim SEEDS=N` runs more.
    @Test("safety and liveness hold", arguments: 1...200)
    func seed(_ seed: UInt64) {
        let report = Simulation(options: SimulationOptions(seed: UInt64(seed))).run()
        #expect(report.passed, "\(report)\nreplay: make sim SEED=\(seed)")
    }

    /// A stranger sends extreme and random fields at any step: no core traps, safety holds,
    /// and the cluster is live once it stops.
    @Test("safety and liveness hold with a hostile sender", arguments: 1_001...1_100)
    func hostileSeed(_ seed: UInt64) {
        let report = Simulation(options: SimulationOptions(seed: UInt64(seed), hostile: true)).run()
        #expect(report.passed, "\(report)\nreplay: raft-sim --seed \(seed) --hostile always --verbose")
        #expect(report.hostileMessages > 0)
    }
}
