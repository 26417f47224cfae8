import ArgumentParser
import RaftSimulation

/// Runs the deterministic cluster simulation over many seeds; `--seed N --verbose` replays one.
@main
struct RaftSimCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "raft-sim",
        abstract: "Runs whole Raft clusters under simulated faults and checks Raft's safety properties.",
        discussion: """
            Each seed decides everything: cluster size, network loss, delays, partitions, crashes, \
            membership changes, transfers, snapshots, reads and writes. A failing seed replays exactly \
            with --seed N (add --verbose to see every event).
            """)

    @Option(help: "Run this one seed.")
    var seed: UInt64?

    @Option(help: "How many seeds to run.")
    var seeds = 1_000

    @Option(help: "The first seed of the range.")
    var first: UInt64 = 1

    @Option(help: "Founding members (3 or 5); 0 lets each seed choose.")
    var nodes = 0

    @Option(help: "Simulated time units with faults per seed.")
    var duration: UInt64 = 5_000

    @Flag(help: "Print every event of the run.")
    var verbose = false

    @Option(help: "A stranger sends messages with extreme fields: always, never, or seed (one seed in three).")
    var hostile = "seed"

    func validate() throws {
        guard ["always", "never", "seed"].contains(hostile) else {
            throw ValidationError("--hostile must be always, never or seed")
        }
    }

    func run() throws {
        let range = seed.map { $0...$0 } ?? first...(first + UInt64(max(seeds, 1)) - 1)
        var failures: [UInt64] = []
        var crashes = 0, crashesLosingWrites = 0, committed: UInt64 = 0, maintenance = 0, sessionIncrements: UInt64 = 0, repeats = 0
        for seed in range {
            let report = Simulation(options: SimulationOptions(
                seed: seed, nodeCount: nodes, duration: duration, verbose: verbose,
                hostile: hostile == "seed" ? nil : hostile == "always")).run()
            crashes += report.crashes
            crashesLosingWrites += report.crashesLosingWrites
            committed += report.committed
            maintenance += report.maintenanceProposals
            sessionIncrements += report.sessionIncrements
            repeats += report.sessionRepeats
            if !report.passed || self.seed != nil || verbose {
                print(report)
            }
            if !report.passed {
                failures.append(seed)
                print("replay: make sim SEED=\(seed)   (or: swift run -c release raft-sim --seed \(seed) --nodes \(nodes) --duration \(duration) --hostile \(hostile) --verbose)")
            }
        }
        print("raft-sim: \(range.count - failures.count) passed, \(failures.count) failed "
            + "(\(committed) entries committed, \(maintenance) of the proposals expiring or evicting keys, \(crashes) crashes, \(crashesLosingWrites) of them losing writes not yet durable; "
            + "\(sessionIncrements) session increments applied once each, \(repeats) retries of them answered as the first)")
        if !failures.isEmpty { throw ExitCode.failure }
    }
}
