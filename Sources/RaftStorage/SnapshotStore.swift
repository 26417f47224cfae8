import CRC32C
import Logging
import RaftWire

#if canImport(Glibc)
import Glibc
#endif

/// Snapshot files in the data directory, `snapshot-<index>-<term>.snap`:
///
///     "RCSNAP01", u32 metadata length, SnapshotMetadata (protobuf), the data,
///     then a trailer: u64 data length, u32 CRC-32C of everything before the trailer.
///
/// Written to a `.tmp` file, synced, renamed, and the directory synced; the newest
/// `retain` are kept. Data goes in and out in chunks, never whole.
final class SnapshotStore: Sendable {
    static let magic = Array("RCSNAP01".utf8)
    static let trailerLength = 12

    let directory: String
    let retain: Int
    private let logger: Logger

    init(directory: String, retain: Int, logger: Logger) {
        self.directory = directory
        self.retain = max(1, retain)
        self.logger = logger
    }

    static func fileName(_ metadata: SnapshotMetadata) -> String {
        "snapshot-\(pad(metadata.lastIncludedIndex))-\(pad(metadata.lastIncludedTerm)).snap"
    }

    private static func pad(_ value: UInt64) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits
    }

    private func snapshotFiles() throws -> [String] {
        try Directory.list(directory).filter { $0.hasPrefix("snapshot-") && $0.hasSuffix(".snap") }.sorted()
    }

    /// The newest snapshot whose checksum holds; damaged newer ones are logged and skipped.
    func newestValid() throws -> FileSnapshot? {
        for name in try snapshotFiles().reversed() {
            let path = directory + "/" + name
            do {
                return try FileSnapshot(path: path, verify: true)
            } catch let error as StorageError {
                logger.error("skipping a damaged snapshot; falling back to an older one", metadata: [
                    "file": "\(path)", "error": "\(error)"])
            }
        }
        return nil
    }

    func writer(for metadata: SnapshotMetadata) throws -> FileSnapshotWriter {
        try FileSnapshotWriter(store: self, metadata: metadata)
    }

    /// Leftovers of snapshot writes that never finished (at open, before any new one starts).
    static func removeUnfinished(in directory: String) throws {
        for name in try Directory.list(directory) where name.hasPrefix("snapshot-") && name.hasSuffix(".tmp") {
            try Directory.remove(directory + "/" + name)
        }
    }

    /// Keeps the newest `retain` snapshots.
    func removeOld() throws {
        let files = try snapshotFiles()
        guard files.count > retain else { return }
        for name in files.dropLast(retain) { try Directory.remove(directory + "/" + name) }
        try Directory.sync(directory)
    }
}

public final class FileSnapshotWriter: SnapshotSink, @unchecked Sendable {
    public let metadata: SnapshotMetadata
    private let store: SnapshotStore
    private let file: POSIXFile
    private let finalPath: String
    private var crc: UInt32 = 0
    private var dataLength: UInt64 = 0
    private var headerLength = 0
    private var written = 0
    private var writtenBack = 0
    private var finished = false
    /// Written back to the disk every so often as it grows (see POSIXFile.startWriteBack).
    static let writeBackBytes = 4 << 20

    init(store: SnapshotStore, metadata: SnapshotMetadata) throws {
        self.store = store
        self.metadata = metadata
        finalPath = store.directory + "/" + SnapshotStore.fileName(metadata)
        // A name of its own: two writers of the same snapshot never share a file.
        let unique = "\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        file = try POSIXFile(path: finalPath.dropLast(5) + "-\(unique).tmp", flags: O_RDWR | O_CREAT | O_EXCL)
        var header = SnapshotStore.magic
        let encoded = try metadata.wireBytes()
        header.appendLittleEndian(UInt32(encoded.count))
        header += encoded
        try put(header)
        headerLength = header.count
        dataLength = 0
    }

    private func put(_ bytes: [UInt8]) throws {
        bytes.withUnsafeBytes { crc = raftcache_crc32c(crc, $0.baseAddress, $0.count) }
        try file.write(bytes)
        written += bytes.count
        if written - writtenBack >= Self.writeBackBytes {
            file.startWriteBack(offset: writtenBack, length: written - writtenBack)
            writtenBack = written
        }
    }

    public func write(_ chunk: [UInt8]) throws {
        try put(chunk)
        dataLength += UInt64(chunk.count)
    }

    public var size: UInt64 { dataLength }

    public func read(offset: UInt64, count: Int) throws -> [UInt8] {
        guard offset < dataLength else { return [] }
        return try file.read(count: Int(min(UInt64(count), dataLength - offset)), at: headerLength + Int(offset))
    }

    /// Makes the snapshot durable and visible under its final name.
    func commit() throws -> FileSnapshot {
        precondition(!finished, "a snapshot is committed once")
        finished = true
        var trailer: [UInt8] = []
        trailer.appendLittleEndian(dataLength)
        trailer.appendLittleEndian(crc)
        try file.write(trailer)
        try file.sync()
        file.close()
        try Directory.rename(file.path, to: finalPath)
        try Directory.sync(store.directory)
        try store.removeOld()
        return try FileSnapshot(path: finalPath, verify: false)
    }

    public func abort() {
        guard !finished else { return }
        finished = true
        file.close()
        try? Directory.remove(file.path)
    }
}

/// A snapshot file on disk, read in chunks.
public final class FileSnapshot: SnapshotSource, @unchecked Sendable {
    public let metadata: SnapshotMetadata
    public let size: UInt64
    let path: String
    private let dataOffset: Int
    private let file: POSIXFile

    init(path: String, verify: Bool) throws {
        self.path = path
        file = try POSIXFile(path: path, flags: O_RDONLY)
        let total = try file.size()
        let head = try file.read(count: min(total, 4096), at: 0)
        guard head.count >= 12, Array(head.prefix(8)) == SnapshotStore.magic else {
            throw StorageError.corrupt(path: path, offset: 0, reason: "not a snapshot (bad header)")
        }
        let metadataLength = head.withUnsafeBytes { Int($0.loadLittleEndian(at: 8, as: UInt32.self)) }
        dataOffset = 12 + metadataLength
        guard total >= dataOffset + SnapshotStore.trailerLength else {
            throw StorageError.corrupt(path: path, offset: 8, reason: "snapshot is cut short")
        }
        var metadataBytes = Array(head.dropFirst(12).prefix(metadataLength))
        if metadataBytes.count < metadataLength {
            metadataBytes = try file.read(count: metadataLength, at: 12)
        }
        let trailer = try file.read(count: SnapshotStore.trailerLength, at: total - SnapshotStore.trailerLength)
        let (length, expected) = trailer.withUnsafeBytes {
            ($0.loadLittleEndian(at: 0) as UInt64, $0.loadLittleEndian(at: 8, as: UInt32.self))
        }
        guard length == UInt64(total - dataOffset - SnapshotStore.trailerLength) else {
            throw StorageError.corrupt(path: path, offset: total - SnapshotStore.trailerLength, reason: "snapshot length does not match its trailer")
        }
        size = length
        do {
            metadata = try SnapshotMetadata(wireBytes: metadataBytes)
        } catch {
            throw StorageError.corrupt(path: path, offset: 12, reason: "snapshot metadata does not decode")
        }
        if verify {
            var crc: UInt32 = 0
            var offset = 0
            let end = total - SnapshotStore.trailerLength
            while offset < end {
                let chunk = try file.read(count: min(1 << 20, end - offset), at: offset)
                chunk.withUnsafeBytes { crc = raftcache_crc32c(crc, $0.baseAddress, $0.count) }
                offset += chunk.count
            }
            guard crc == expected else {
                throw StorageError.corrupt(path: path, offset: dataOffset, reason: "snapshot checksum mismatch")
            }
        }
    }

    public var writtenAtMs: UInt64? {
        var info = stat()
        guard fstat(file.fd, &info) == 0 else { return nil }
        return UInt64(info.st_mtim.tv_sec) * 1_000 + UInt64(info.st_mtim.tv_nsec) / 1_000_000
    }

    public func read(offset: UInt64, count: Int) throws -> [UInt8] {
        let available = Int(min(UInt64(count), size - min(offset, size)))
        return try file.read(count: available, at: dataOffset + Int(offset))
    }
}
