import RaftSimulation
import Testing

@Suite("Cluster simulation")
struct SimulationTests {
    /// 200 seeds in `make test`; `make sim SEEDS=N` runs more.
    @Test("safety and liveness hold", arguments: 1...200)
    func seed(_ seed: UInt64) {
        let report = Simulation(options: SimulationOptions(seed: UInt64(seed))).run()
        #expect(report.passed, "\(report)\nreplay: make sim SEED=\(seed)")
    }
}
