import ArgumentParser
import Foundation
import RaftCore
import RaftStorage
import RaftWire
import Synchronization

/// A child process for the crash-safety tests: appends batches of entries to a FileStorage
/// as fast as it can, several in flight at once (so they share syncs), printing
/// "write <first index>" before it submits a batch and "ack <last index>" once the batch is
/// durable - until it is killed. Now and then it saves a
/// snapshot a little behind what is durable and compacts the log, as a node does.
@main
struct StorageTorture: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "raft-storage-torture",
        abstract: "Appends to a raft-cache log until killed, printing what is durable (for crash tests).")

    @Option(help: "The data directory.")
    var dir: String

    @Option(help: "Seed for batch sizes.")
    var seed: UInt64 = 1

    @Option(help: "Segment size in bytes (small, to cross segments often).")
    var segmentSize = 256 * 1024

    /// The bytes entry `index` always holds, so a reader can check every entry it finds.
    static func data(for index: UInt64) -> [UInt8] {
        (0..<128).map { UInt8(truncatingIfNeeded: index &* 31 &+ UInt64($0)) }
    }

    static func term(for index: UInt64) -> UInt64 { index / 1_000 + 1 }

    func run() throws {
        let storage = try FileStorage(directory: dir, options: .init(segmentSize: segmentSize))
        var next = (storage.recovered.entries.last?.index ?? storage.recovered.snapshot.lastIncludedIndex) + 1
        var rng = SplitMix64(seed: seed)
        let inFlight = DispatchSemaphore(value: 8)
        // The last index acknowledged, and the first index of each batch submitted and not yet
        // acknowledged: a snapshot stays below those too, as in Raft a snapshot holds only
        // committed entries, which no later append rewrites (a batch in flight may rewrite
        // from below what is durable).
        let acknowledged = Mutex<(durable: UInt64, inFlight: [UInt64])>((0, []))
        // The newest snapshot's index: entries up to it are never rewritten.
        var covered = storage.recovered.snapshot.lastIncludedIndex
        var batches = 0
        while true {
            batches += 1
            let snapshotIndex = acknowledged.withLock { min($0.durable, ($0.inFlight.min() ?? .max) - 1) } / 100 * 100
            if batches % 25 == 0, snapshotIndex > covered {
                let sink = try storage.beginSnapshot(
                    SnapshotMetadata(lastIncludedIndex: snapshotIndex, lastIncludedTerm: Self.term(for: snapshotIndex)))
                try sink.write(Self.data(for: snapshotIndex))
                _ = try storage.commitSnapshot(sink, replacingLog: false)
                try storage.compact(through: snapshotIndex)
                covered = snapshotIndex
            }
            // Now and then the batch rewrites the last few entries (same content): the log is
            // cut and appended to, as when a follower's suffix is replaced - never at or below
            // the snapshot, as in Raft, where a snapshot holds only committed entries.
            if batches % 7 == 0 && next > 10 {
                next = max(next - UInt64.random(in: 1...8, using: &rng), covered + 1)
            }
            let count = UInt64.random(in: 1...64, using: &rng)
            let entries = (next..<(next + count)).map {
                Entry(term: Self.term(for: $0), index: $0, type: .command, data: Self.data(for: $0))
            }
            let last = next + count - 1
            next += count
            inFlight.wait()
            FileHandle.standardOutput.write(Data("write \(entries[0].index)\n".utf8))
            acknowledged.withLock { $0.inFlight.append(entries[0].index) }
            let update = StorageUpdate(hardState: HardState(term: Self.term(for: last), vote: "n1", commit: last), entries: entries)
            storage.persist(update) { error in
                if let error {
                    FileHandle.standardError.write(Data("error: \(error)\n".utf8))
                    Foundation.exit(1)
                }
                // Completions come in submission order; unbuffered, so a kill loses no ack line.
                // Said before a snapshot may cover it: killed between the two, the child must not
                // leave a snapshot past the last acknowledgement the test has read.
                FileHandle.standardOutput.write(Data("ack \(last)\n".utf8))
                acknowledged.withLock {
                    $0.durable = last
                    $0.inFlight.removeFirst()
                }
                inFlight.signal()
            }
        }
    }
}
