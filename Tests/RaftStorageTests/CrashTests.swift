import Foundation
import RaftCore
import RaftStorage
import RaftWire
import Testing

/// The torture child's content for each index (see Sources/raft-storage-torture).
private func expectedData(_ index: UInt64) -> [UInt8] {
    (0..<128).map { UInt8(truncatingIfNeeded: index &* 31 &+ UInt64($0)) }
}

private var tortureBinary: URL {
    URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("raft-storage-torture")
}

/// What must have survived: the last acknowledged batch's end, except where a batch the
/// child had submitted but not seen acknowledged rewrites the log from an earlier index
/// (a cut the storage may have made before the kill).
private func durableFloor(after output: String, previous: UInt64) -> UInt64 {
    var acknowledged = previous
    var outstanding: [UInt64] = []
    for line in output.split(separator: "\n") {
        if line.hasPrefix("write "), let first = UInt64(line.dropFirst(6)) {
            outstanding.append(first)
        } else if line.hasPrefix("ack "), let last = UInt64(line.dropFirst(4)), !outstanding.isEmpty {
            outstanding.removeFirst()
            acknowledged = last
        }
    }
    return min(acknowledged, (outstanding.min() ?? .max) - 1)
}

@Suite("Crash safety with real processes")
struct CrashTests {
    @Test("every acknowledged entry survives SIGKILL at random moments, 60 times")
    func killNine() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        var rng = SystemRandomNumberGenerator()
        var acknowledged: UInt64 = 0
        var kills = 0
        for round in 0..<60 {
            let child = Process()
            child.executableURL = tortureBinary
            child.arguments = ["--dir", dir.path, "--seed", "\(round + 1)"]
            let output = Pipe()
            child.standardOutput = output
            try child.run()
            // Let it get going (opening and recovering included), then kill it mid-write.
            usleep(UInt32.random(in: 20_000...120_000, using: &rng))
            kill(child.processIdentifier, SIGKILL)
            child.waitUntilExit()
            if child.terminationReason == .uncaughtSignal { kills += 1 }
            let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            acknowledged = durableFloor(after: text, previous: acknowledged)

            let storage = try FileStorage(directory: dir.path, options: .init(segmentSize: 256 * 1024))
            let snapshot = storage.recovered.snapshot
            let recovered = storage.recovered.entries
            let last = recovered.last?.index ?? snapshot.lastIncludedIndex
            // Every acknowledged entry is there (in the snapshot or the log); whatever is
            // there is intact and follows the snapshot in order.
            #expect(last >= acknowledged, "round \(round): acknowledged \(acknowledged), recovered up to \(last)")
            acknowledged = min(acknowledged, last)
            #expect(snapshot.lastIncludedIndex <= acknowledged)
            // The hard state of the last acknowledged batch (or a later one) is there too
            // (when the child was killed before any batch, there is none to find).
            let hardState = storage.recovered.hardState
            #expect(acknowledged == 0 || hardState.term >= acknowledged / 1_000 + 1 && hardState.vote == "n1" && hardState.commit >= acknowledged,
                    "round \(round): hard state \(hardState) after acknowledging \(acknowledged); snapshot \(snapshot.lastIncludedIndex), log \(recovered.first?.index ?? 0)...\(last), files \((try? FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()) ?? []), child's last lines \(text.split(separator: "\n").suffix(6))")
            if snapshot.lastIncludedIndex > 0 {
                let data = try #require(try storage.latestSnapshot()).read(offset: 0, count: 1_000)
                #expect(data == expectedData(snapshot.lastIncludedIndex))
            }
            for (offset, entry) in recovered.enumerated() {
                guard entry.index == snapshot.lastIncludedIndex + UInt64(offset) + 1, entry.data == expectedData(entry.index) else {
                    Issue.record("round \(round): entry \(entry.index) at position \(offset) is not what was written")
                    break
                }
            }
            storage.close()
        }
        #expect(kills == 60)
        #expect(acknowledged > 1_000)
    }
}
