import CRC32C
import RaftWire

/// A snapshot written out in the snapshot file format (SnapshotStore: header, metadata, the
/// data, a trailer with the length and a CRC-32C), chunk by chunk, from any stored snapshot:
/// what a backup is. `FileSnapshot.verified(path:)` reads one back. One reader at a time.
public final class SnapshotFileStream: @unchecked Sendable {
    private let source: any SnapshotSource
    private var header: [UInt8]?
    private var offset: UInt64 = 0
    private var crc: UInt32 = 0
    private var finished = false

    /// The whole file's length.
    public let length: UInt64

    public init(_ source: any SnapshotSource) throws {
        self.source = source
        var header = SnapshotStore.magic
        let metadata = try source.metadata.wireBytes()
        header.appendLittleEndian(UInt32(metadata.count))
        header += metadata
        self.header = header
        length = UInt64(header.count) + source.size + UInt64(SnapshotStore.trailerLength)
    }

    public var metadata: SnapshotMetadata { source.metadata }

    /// The next part of the file, at most about `chunkSize` bytes; nil after the trailer.
    public func next(chunkSize: Int = 1 << 20) throws -> [UInt8]? {
        if let header {
            self.header = nil
            return checksummed(header)
        }
        if offset < source.size {
            let chunk = try source.read(offset: offset, count: chunkSize)
            guard !chunk.isEmpty else { throw StorageError.unusable("the snapshot ended at \(offset) of \(source.size) bytes") }
            offset += UInt64(chunk.count)
            return checksummed(chunk)
        }
        guard !finished else { return nil }
        finished = true
        var trailer: [UInt8] = []
        trailer.appendLittleEndian(source.size)
        trailer.appendLittleEndian(crc)
        return trailer
    }

    private func checksummed(_ bytes: [UInt8]) -> [UInt8] {
        bytes.withUnsafeBytes { crc = raftcache_crc32c(crc, $0.baseAddress, $0.count) }
        return bytes
    }
}

extension FileSnapshot {
    /// A snapshot file anywhere (a backup), its checksum checked whole.
    public static func verified(path: String) throws -> FileSnapshot {
        try FileSnapshot(path: path, verify: true)
    }
}
