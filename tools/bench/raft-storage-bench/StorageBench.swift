import ArgumentParser
import Foundation
import RaftCore
import RaftStorage
import RaftWire

#if canImport(Glibc)
import Glibc
#endif

/// Measures the durable log on this disk: the raw fsync rate, appends at several batch
/// sizes with a sync per batch, and the time to open (recover) a large log. All in one
/// run, in one directory, so the figures compare.
@main
struct StorageBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "raft-storage-bench",
        abstract: "Benchmarks raft-cache's log against the raw fsync rate of the same disk.")

    @Option(help: "Directory to benchmark in (created; its contents are removed).")
    var dir = ".bench/storage"

    @Option(help: "Seconds per measurement.")
    var seconds = 3.0

    @Option(help: "Size of the log whose opening is timed, in MB (0 to skip).")
    var recoverMB = 1_024

    @Option(help: "Entry size in bytes.")
    var entrySize = 128

    func run() throws {
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }

        let fsyncRate = try rawFsyncRate(preallocated: false)
        let overwriteRate = try rawFsyncRate(preallocated: true)
        print("raw fsync, 4 KiB appended + fdatasync:         \(format(fsyncRate)) per second, \(format(1_000 / fsyncRate)) ms each")
        print("raw fsync, 4 KiB into a zero-filled file + fdatasync: \(format(overwriteRate)) per second")
        print("(costs below are in raw fsyncs of the first kind)")
        print("")
        print("batch  entries/s     MB/s   batches/s  syncs/batch  cost (raw fsyncs per batch)")
        for batch in [1, 16, 256] {
            let result = try appendRate(batch: batch)
            let cost = fsyncRate / result.batchesPerSecond
            print(
                pad(String(batch), 5), pad(format(result.entriesPerSecond), 10), pad(format(result.megabytesPerSecond), 8),
                pad(format(result.batchesPerSecond), 11), pad(format(result.syncsPerBatch), 12), pad(format(cost), 10))
        }
        if recoverMB > 0 {
            print("")
            let (size, seconds) = try recoveryTime(megabytes: recoverMB)
            print("open and recover a \(format(Double(size) / 1e6)) MB log: \(format(seconds)) s (median of 3)")
        }
    }

    private func rawFsyncRate(preallocated: Bool) throws -> Double {
        let path = dir + "/fsync-probe"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw ValidationError("cannot create \(path)") }
        defer { close(fd) }
        let block = [UInt8](repeating: 0xAB, count: 4_096)
        if preallocated {
            let zeros = [UInt8](repeating: 0, count: 1 << 20)
            for _ in 0..<256 { _ = zeros.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } }
            fsync(fd)
            lseek(fd, 0, SEEK_SET)
        }
        let start = Date()
        var count = 0
        while Date().timeIntervalSince(start) < seconds {
            _ = block.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            fdatasync(fd)
            count += 1
        }
        return Double(count) / Date().timeIntervalSince(start)
    }

    private struct AppendResult {
        var entriesPerSecond: Double
        var megabytesPerSecond: Double
        var batchesPerSecond: Double
        var syncsPerBatch: Double
    }

    /// One batch at a time, each waited for: the cost of a durable batch, no overlap.
    private func appendRate(batch: Int) throws -> AppendResult {
        let path = dir + "/append-\(batch)"
        let storage = try FileStorage(directory: path)
        defer { storage.close() }
        let data = [UInt8](repeating: 0x42, count: entrySize)
        var next: UInt64 = 1
        var batches = 0
        let syncsBefore = storage.logSyncCount
        let start = Date()
        while Date().timeIntervalSince(start) < seconds {
            let entries = (next..<(next + UInt64(batch))).map { Entry(term: 1, index: $0, data: data) }
            try storage.persist(StorageUpdate(hardState: HardState(term: 1, vote: "n1", commit: next), entries: entries))
            next += UInt64(batch)
            batches += 1
        }
        let elapsed = Date().timeIntervalSince(start)
        let entries = Double(batches * batch)
        return AppendResult(
            entriesPerSecond: entries / elapsed, megabytesPerSecond: entries * Double(entrySize) / elapsed / 1e6,
            batchesPerSecond: Double(batches) / elapsed,
            syncsPerBatch: Double(storage.logSyncCount - syncsBefore) / Double(batches))
    }

    private func recoveryTime(megabytes: Int) throws -> (Int, Double) {
        let path = dir + "/recover"
        let data = [UInt8](repeating: 0x42, count: entrySize)
        var written = 0
        do {
            let storage = try FileStorage(directory: path)
            var next: UInt64 = 1
            while written < megabytes * 1_000_000 {
                let entries = (next..<(next + 4_096)).map { Entry(term: 1, index: $0, data: data) }
                try storage.persist(StorageUpdate(hardState: HardState(term: 1, vote: "n1", commit: next), entries: entries))
                next += 4_096
                written += 4_096 * (entrySize + 26)
            }
            storage.close()
        }
        let onDisk = try FileManager.default.contentsOfDirectory(atPath: path).reduce(0) { total, name in
            total + ((try? FileManager.default.attributesOfItem(atPath: path + "/" + name)[.size] as? Int) ?? 0)
        }
        // Three opens; the median is reported (the first also competes with the writeback
        // of what was just written).
        var times: [Double] = []
        for _ in 0..<3 {
            let start = Date()
            let storage = try FileStorage(directory: path)
            times.append(Date().timeIntervalSince(start))
            guard let last = storage.recovered.entries.last?.index, last > 0 else { throw ValidationError("recovered nothing") }
            storage.close()
        }
        print("  (opens: \(times.map { format($0) }.joined(separator: ", ")) s)")
        return (onDisk, times.sorted()[1])
    }

    private func format(_ value: Double) -> String {
        value >= 100 ? String(Int(value.rounded())) : String(format: "%.2f", value)
    }

    private func pad(_ text: String, _ width: Int) -> String {
        String(repeating: " ", count: max(0, width - text.count)) + text
    }
}
