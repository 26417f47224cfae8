import Foundation
import RaftCore
import RaftStorage
import RaftWire
import Testing

@Suite("File storage")
struct FileStorageTests {
    @Test("entries and hard state survive reopening")
    func roundTrip() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        do {
            let storage = try open(dir)
            try storage.persist(StorageUpdate(hardState: HardState(term: 3, vote: "n2", commit: 7), entries: entries(1...10)))
            try storage.persist(StorageUpdate(entries: entries(11...12, term: 3)))
            storage.close()
        }
        let reopened = try open(dir)
        #expect(reopened.recovered.hardState == HardState(term: 3, vote: "n2", commit: 7))
        #expect(reopened.recovered.entries == entries(1...10) + entries(11...12, term: 3))
    }

    @Test("entries replacing a suffix cut the log first, within a segment and across segments")
    func truncation() throws {
        for segmentSize in [64 << 20, 2_000] {
            let dir = TemporaryDirectory()
            defer { dir.remove() }
            do {
                let storage = try open(dir, segmentSize: segmentSize)
                try storage.persist(StorageUpdate(hardState: HardState(term: 1, vote: "n1", commit: 2), entries: entries(1...60)))
                try storage.persist(StorageUpdate(hardState: HardState(term: 2, vote: "", commit: 2), entries: entries(21...25, term: 2)))
                storage.close()
            }
            let reopened = try open(dir, segmentSize: segmentSize)
            #expect(reopened.recovered.entries == entries(1...20) + entries(21...25, term: 2))
            #expect(reopened.recovered.hardState == HardState(term: 2, vote: "", commit: 2))
            // And it keeps going after the cut.
            try reopened.persist(StorageUpdate(entries: entries(26...30, term: 2)))
            reopened.close()
            #expect(try open(dir, segmentSize: segmentSize).recovered.entries.map(\.index) == Array(1...30))
        }
    }

    @Test("many segments: written, reopened, compacted")
    func manySegments() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let storage = try open(dir, segmentSize: 4_096)
        for start in stride(from: UInt64(1), through: 991, by: 10) {
            try storage.persist(StorageUpdate(hardState: HardState(term: 1, vote: "n1", commit: start), entries: entries(start...(start + 9))))
        }
        let segmentCount = dir.files(withPrefix: "log-").count
        #expect(segmentCount > 20)
        let sink = try storage.beginSnapshot(SnapshotMetadata(lastIncludedIndex: 500, lastIncludedTerm: 1))
        _ = try storage.commitSnapshot(sink, replacingLog: false)
        try storage.compact(through: 500)
        let remaining = dir.files(withPrefix: "log-").count
        #expect(remaining < segmentCount)
        #expect(remaining > 1)
        storage.close()
        // Reopened with the snapshot through 500, the log continues after it.
        let reopened = try open(dir, segmentSize: 4_096)
        #expect(reopened.recovered.snapshot.lastIncludedIndex == 500)
        #expect(reopened.recovered.entries.map(\.index) == Array(501...1_000))
        #expect(reopened.recovered.hardState.commit == 991)
    }

    @Test("a log that starts after its snapshot ends (entries lost) refuses to open")
    func missingEntries() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        do {
            let storage = try open(dir, segmentSize: 4_096)
            for start in stride(from: UInt64(1), through: 291, by: 10) {
                try storage.persist(StorageUpdate(entries: entries(start...(start + 9))))
            }
            // Compacted as if a snapshot covered it, but there is none.
            try storage.compact(through: 200)
            storage.close()
        }
        #expect(throws: StorageError.self) { _ = try open(dir, segmentSize: 4_096) }
    }

    @Test("after close, writes fail instead of being acknowledged")
    func closed() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let storage = try open(dir)
        try storage.persist(StorageUpdate(entries: entries(1...3)))
        storage.close()
        #expect(throws: StorageError.self) { try storage.persist(StorageUpdate(entries: entries(4...5))) }
        #expect(try open(dir).recovered.entries.count == 3)
    }

    @Test("writes submitted while a sync runs share the next one (group commit)")
    func groupCommit() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let storage = try open(dir)
        let before = storage.logSyncCount
        let group = DispatchGroup()
        for start in stride(from: UInt64(1), through: 1_991, by: 10) {
            group.enter()
            storage.persist(StorageUpdate(entries: entries(start...(start + 9)))) { error in
                #expect(error == nil)
                group.leave()
            }
        }
        group.wait()
        let syncs = storage.logSyncCount - before
        #expect(syncs < 200)
        storage.close()
        #expect(try open(dir).recovered.entries.map(\.index) == Array(1...2_000))
    }

    @Test("a second process (or opener) of the same directory fails at once, naming the holder")
    func directoryLock() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let storage = try open(dir)
        #expect {
            _ = try open(dir)
        } throws: { error in
            guard case StorageError.locked(let path, let holder) = error else { return false }
            return path == dir.path && holder.contains("pid")
        }
        storage.close()
        _ = try open(dir)
    }

    @Test("snapshots: written in chunks, read back in chunks, the newest kept, the log beside them cut")
    func snapshots() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let storage = try open(dir, retain: 2)
        try storage.persist(StorageUpdate(hardState: HardState(term: 1, vote: "", commit: 30), entries: entries(1...30)))
        let configuration = Configuration(servers: [Server(id: "n1", address: "a:1")])
        for index in [10, 20, 30] as [UInt64] {
            let sink = try storage.beginSnapshot(SnapshotMetadata(lastIncludedIndex: index, lastIncludedTerm: 1, configuration: configuration))
            for chunk in 0..<5 { try sink.write(Array(repeating: UInt8(chunk), count: 100_000)) }
            _ = try storage.commitSnapshot(sink, replacingLog: false)
            try storage.compact(through: index)
        }
        #expect(dir.files(withPrefix: "snapshot-").count == 2)
        let latest = try #require(try storage.latestSnapshot())
        #expect(latest.metadata.lastIncludedIndex == 30)
        #expect(latest.size == 500_000)
        var chunks: [[UInt8]] = []
        try latest.forEachChunk(size: 100_000) { chunks.append($0) }
        #expect(chunks == (0..<5).map { Array(repeating: UInt8($0), count: 100_000) })
        storage.close()
        #expect(dir.files(withPrefix: "snapshot-").allSatisfy { $0.hasSuffix(".snap") })
        let reopened = try open(dir)
        #expect(reopened.recovered.snapshot.lastIncludedIndex == 30)
        #expect(reopened.recovered.snapshot.configuration == configuration)
        #expect(reopened.recovered.entries.isEmpty)
    }

    @Test("a snapshot from the leader replaces a log that does not hold its last entry")
    func snapshotReplacesLog() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let storage = try open(dir)
        try storage.persist(StorageUpdate(hardState: HardState(term: 1, vote: "", commit: 5), entries: entries(1...10)))
        let sink = try storage.beginSnapshot(SnapshotMetadata(lastIncludedIndex: 50, lastIncludedTerm: 4))
        try sink.write([1, 2, 3])
        _ = try storage.commitSnapshot(sink, replacingLog: true)
        try storage.persist(StorageUpdate(hardState: HardState(term: 4, vote: "", commit: 51), entries: entries(51...52, term: 4)))
        storage.close()
        let reopened = try open(dir)
        #expect(reopened.recovered.snapshot.lastIncludedIndex == 50)
        #expect(reopened.recovered.entries.map(\.index) == [51, 52])
        #expect(reopened.recovered.hardState.commit == 51)
    }

    @Test("a log whose entry at the snapshot index has another term is discarded on open")
    func divergentLogDiscarded() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let storage = try open(dir)
        try storage.persist(StorageUpdate(entries: entries(1...10, term: 1)))
        // A crash between saving a leader's snapshot and discarding the log leaves both.
        let sink = try storage.beginSnapshot(SnapshotMetadata(lastIncludedIndex: 5, lastIncludedTerm: 2))
        _ = try storage.commitSnapshot(sink, replacingLog: false)
        storage.close()
        let reopened = try open(dir)
        #expect(reopened.recovered.snapshot.lastIncludedIndex == 5)
        #expect(reopened.recovered.entries.isEmpty)
    }

    @Test("the in-memory storage keeps what the file storage keeps")
    func memoryStorageAgrees() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let file = try open(dir)
        let memory = MemoryStorage()
        let updates = [
            StorageUpdate(hardState: HardState(term: 1, vote: "n1", commit: 0), entries: entries(1...20)),
            StorageUpdate(hardState: HardState(term: 2, vote: "n3", commit: 12), entries: entries(15...18, term: 2)),
            StorageUpdate(entries: entries(19...19, term: 2)),
        ]
        for update in updates {
            try file.persist(update)
            try memory.persist(update)
        }
        file.close()
        let reopened = try open(dir)
        #expect(reopened.recovered == memory.crashed().recovered)
    }
}
