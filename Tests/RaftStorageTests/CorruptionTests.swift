import Foundation
import RaftCore
import RaftStorage
import RaftWire
import Testing

@Suite("Corruption and torn writes")
struct CorruptionTests {
    @Test("a flipped byte in the middle of the log refuses to open, naming file and offset")
    func flippedByte() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        do {
            let storage = try open(dir)
            try storage.persist(StorageUpdate(hardState: HardState(term: 1, vote: "", commit: 1), entries: entries(1...100)))
            storage.close()
        }
        let segment = dir.path + "/" + dir.files(withPrefix: "log-")[0]
        let offset = try fileSize(segment) / 2
        try flipByte(in: segment, at: offset)
        #expect {
            _ = try open(dir)
        } throws: { error in
            guard case StorageError.corrupt(let path, let at, _) = error else { return false }
            // The damaged record starts at or before the flipped byte, within one record of it.
            return path == segment && at <= offset && offset - at < 200 && "\(error)".contains(segment)
        }
    }

    @Test("a damaged length in the last segment, with records after it, is corruption, not a torn tail")
    func damagedLength() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        do {
            let storage = try open(dir)
            for start in stride(from: UInt64(1), through: 91, by: 10) {
                try storage.persist(StorageUpdate(entries: entries(start...(start + 9))))
            }
            storage.close()
        }
        let segment = dir.path + "/" + dir.files(withPrefix: "log-")[0]
        // The first entry record follows the 8-byte header and the first batch's hard state
        // (none here): make its length claim far more than the file holds.
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: segment))
        try handle.seek(toOffset: 8 + 2)
        try handle.write(contentsOf: Data([0x40]))
        try handle.close()
        #expect {
            _ = try open(dir)
        } throws: { error in
            guard case StorageError.corrupt(let path, let offset, _) = error else { return false }
            return path == segment && offset == 8
        }
    }

    @Test("a torn record at the end is cut and logged, and appends go on")
    func tornTail() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        do {
            let storage = try open(dir)
            try storage.persist(StorageUpdate(hardState: HardState(term: 1, vote: "", commit: 1), entries: entries(1...10)))
            storage.close()
        }
        let segment = dir.path + "/" + dir.files(withPrefix: "log-")[0]
        let intact = try fileSize(segment)
        // Half a record: a header announcing 200 bytes, then only 30 of them.
        try appendBytes([200, 0, 0, 0, 1, 2, 3, 4] + Array(repeating: 9, count: 30), to: segment)
        let reopened = try open(dir)
        #expect(reopened.recovered.entries.map(\.index) == Array(1...10))
        #expect(try fileSize(segment) == intact)
        try reopened.persist(StorageUpdate(entries: entries(11...12)))
        reopened.close()
        #expect(try open(dir).recovered.entries.map(\.index) == Array(1...12))
    }

    @Test("a torn record in a preallocated (zero-filled) segment is cut; the zeros are free space")
    func tornTailInPreallocatedSegment() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let full = (1...200).map { Entry(term: 1, index: UInt64($0), data: Array(repeating: 0xFF, count: 100)) }
        do {
            let storage = try open(dir, segmentSize: 8_192)
            for batch in stride(from: 0, to: 200, by: 10) {
                try storage.persist(StorageUpdate(hardState: HardState(term: 1, vote: "n1", commit: 1), entries: Array(full[batch..<(batch + 10)])))
            }
            storage.close()
        }
        let segments = dir.files(withPrefix: "log-")
        let last = dir.path + "/" + segments.last!
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: last)))
        #expect(bytes.count == 8_192)  // zero-filled ahead of use
        let used = bytes.lastIndex { $0 != 0 }! + 1
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: last))
        try handle.seek(toOffset: UInt64(used))
        try handle.write(contentsOf: Data([200, 0, 0, 0, 1, 2, 3, 4] + Array(repeating: 9, count: 30)))
        try handle.close()
        let reopened = try open(dir, segmentSize: 8_192)
        #expect(reopened.recovered.entries == full)
        try reopened.persist(StorageUpdate(entries: [Entry(term: 1, index: 201, data: [1])]))
        reopened.close()
        #expect(try open(dir, segmentSize: 8_192).recovered.entries.count == 201)
    }

    @Test("a damaged last record (its checksum fails, nothing after it) is treated as torn")
    func damagedLastRecord() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        do {
            let storage = try open(dir)
            try storage.persist(StorageUpdate(entries: entries(1...10)))
            try storage.persist(StorageUpdate(entries: entries(11...11)))
            storage.close()
        }
        let segment = dir.path + "/" + dir.files(withPrefix: "log-")[0]
        try flipByte(in: segment, at: try fileSize(segment) - 3)
        #expect(try open(dir).recovered.entries.map(\.index) == Array(1...10))
    }

    @Test("a damaged newest snapshot falls back to the previous valid one")
    func damagedSnapshot() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        do {
            let storage = try open(dir, retain: 3)
            try storage.persist(StorageUpdate(entries: entries(1...20)))
            for index in [10, 20] as [UInt64] {
                let sink = try storage.beginSnapshot(SnapshotMetadata(lastIncludedIndex: index, lastIncludedTerm: 1))
                try sink.write(Array(repeating: 7, count: 10_000))
                _ = try storage.commitSnapshot(sink, replacingLog: false)
            }
            storage.close()
        }
        let newest = dir.path + "/" + dir.files(withPrefix: "snapshot-").last!
        try flipByte(in: newest, at: 5_000)
        let reopened = try open(dir, retain: 3)
        #expect(reopened.recovered.snapshot.lastIncludedIndex == 10)
        #expect(try reopened.latestSnapshot()?.metadata.lastIncludedIndex == 10)
        #expect(reopened.recovered.entries.map(\.index) == Array(11...20))
    }
}
