import Logging
#if canImport(Glibc)
import Glibc
#endif
import RaftCore
import RaftWire

extension FileStorage {
    /// Makes this directory's state one snapshot, `metadata` with the data `data` writes,
    /// replacing the log: a node started on it resumes from there as a member of the
    /// snapshot's configuration, in term `term` (at least the snapshot's) having voted for
    /// `vote`. What restore and recover write; the storage must not be serving a node.
    ///
    /// The term is made durable first, so a crash midway leaves either the old state or the
    /// new snapshot, never a snapshot of a term the hard state has not reached.
    public func replaceState(
        snapshot metadata: SnapshotMetadata, term: UInt64, vote: NodeID = "", data: (_ write: ([UInt8]) throws -> Void) throws -> Void
    ) throws {
        let term = max(term, metadata.lastIncludedTerm)
        try persist(StorageUpdate(hardState: HardState(term: term, vote: vote, commit: recovered.hardState.commit)))
        let sink = try beginSnapshot(metadata)
        do {
            try data { try sink.write($0) }
        } catch {
            sink.abort()
            throw error
        }
        _ = try commitSnapshot(sink, replacingLog: true)
        try persist(StorageUpdate(hardState: HardState(term: term, vote: vote, commit: metadata.lastIncludedIndex)))
    }
}

extension FileStorage {
    /// Builds a new data directory at `path` (missing or empty) through `body`, out of sight:
    /// in a sibling that takes `path`'s name only once it is whole and synced, so a crash
    /// midway leaves `path` as it was and a second try starts over.
    public static func prepareDirectory(at path: String, _ body: (FileStorage) throws -> Void) throws {
        var target = path
        while target.count > 1 && target.hasSuffix("/") { target.removeLast() }
        let staging = target + ".preparing"
        // The leftovers of an attempt that crashed: a directory of plain files.
        if let leftovers = try? Directory.list(staging) {
            for name in leftovers { try Directory.remove(staging + "/" + name) }
            rmdir(staging)
        }
        let storage = try FileStorage(directory: staging)
        do {
            try body(storage)
            storage.close()
        } catch {
            storage.close()
            throw error
        }
        // rename(2) replaces an empty directory.
        try Directory.rename(staging, to: target)
        let parent = target.contains("/") ? String(target[..<target.lastIndex(of: "/")!]) : "."
        try Directory.sync(parent.isEmpty ? "/" : parent)
    }
}
