import Logging
import RaftCore
import RaftWire

extension FileStorage {
    /// Makes this directory's state one snapshot, `metadata` with the data `data` writes,
    /// replacing the log: a node started on it resumes from there as a member of the
    /// snapshot's configuration. `term`: the hard state's term (at least the snapshot's).
    /// What restore and recover write; the storage must not be serving a node.
    public func replaceState(
        snapshot metadata: SnapshotMetadata, term: UInt64, data: (_ write: ([UInt8]) throws -> Void) throws -> Void
    ) throws {
        let sink = try beginSnapshot(metadata)
        do {
            try data { try sink.write($0) }
        } catch {
            sink.abort()
            throw error
        }
        _ = try commitSnapshot(sink, replacingLog: true)
        let hardState = HardState(term: max(term, metadata.lastIncludedTerm), vote: "", commit: metadata.lastIncludedIndex)
        try persist(StorageUpdate(hardState: hardState))
    }
}
