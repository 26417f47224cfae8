import Foundation
import RaftCore
import RaftStorage
import RaftWire
import Testing

@Suite("Backups and replaced state")
struct BackupTests {
    @Test("a snapshot streamed as a file reads back verified, with its metadata and data; a flipped byte fails the check")
    func streamedFileRoundTrip() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let storage = try open(dir)
        let configuration = Configuration(servers: [Server(id: "n1", address: "a:1"), Server(id: "n2", address: "b:2")])
        let sink = try storage.beginSnapshot(SnapshotMetadata(lastIncludedIndex: 70, lastIncludedTerm: 3, configuration: configuration))
        let data = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try sink.write(data)
        let snapshot = try storage.commitSnapshot(sink, replacingLog: false)

        let stream = try SnapshotFileStream(snapshot)
        var file: [UInt8] = []
        var parts = 0
        while let part = try stream.next(chunkSize: 64 << 10) {
            #expect(part.count <= 64 << 10 + 1_024)
            file += part
            parts += 1
        }
        #expect(parts > 4)
        #expect(UInt64(file.count) == stream.length)
        #expect(try stream.next() == nil)

        let path = dir.path + "/copy.backup"
        #expect(FileManager.default.createFile(atPath: path, contents: Data(file)))
        let copy = try FileSnapshot.verified(path: path)
        #expect(copy.metadata == snapshot.metadata)
        var read: [UInt8] = []
        try copy.forEachChunk { read += $0 }
        #expect(read == data)

        file[file.count / 2] ^= 0x40
        #expect(FileManager.default.createFile(atPath: path, contents: Data(file)))
        #expect(throws: StorageError.self) { try FileSnapshot.verified(path: path) }
        storage.close()
    }

    @Test("replaced state: one snapshot with the new configuration, no log, the hard state at its index in the term given")
    func replaceState() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        do {
            let storage = try open(dir, segmentSize: 2_000)
            try storage.persist(StorageUpdate(hardState: HardState(term: 5, vote: "n2", commit: 20), entries: entries(1...40, term: 5)))
            let alone = Configuration(servers: [Server(id: "n1", address: "a:1")])
            // As recover does: a term past the log's, voted for itself.
            try storage.replaceState(snapshot: SnapshotMetadata(lastIncludedIndex: 40, lastIncludedTerm: 5, configuration: alone), term: 6, vote: "n1") { write in
                try write([1, 2, 3])
                try write([4])
            }
            storage.close()
        }
        let reopened = try open(dir)
        #expect(reopened.recovered.snapshot.lastIncludedIndex == 40)
        #expect(reopened.recovered.snapshot.configuration.servers.map(\.id) == ["n1"])
        #expect(reopened.recovered.entries.isEmpty)
        #expect(reopened.recovered.hardState == HardState(term: 6, vote: "n1", commit: 40))
        var data: [UInt8] = []
        try #require(try reopened.latestSnapshot()).forEachChunk { data += $0 }
        #expect(data == [1, 2, 3, 4])
    }
}
