import RaftCore
import RaftWire

/// Decides what of each Ready must reach the disk before its answers go, as etcd's MustSync
/// does: the entries, and a hard state whose term or vote changed. A change of the commit
/// index alone rides with the next such write instead of costing a sync of its own (a
/// restarted server learns the commit index again from its leader).
public struct MustSync: Sendable {
    private var newest: HardState
    private var termOrVoteUnwritten = false

    public init(recovered: HardState) {
        newest = recovered
    }

    /// The update to write for a Ready's entries and hard state, or nil when nothing in it
    /// must be durable.
    public mutating func update(entries: [Entry], hardState: HardState?) -> StorageUpdate? {
        if let hardState {
            termOrVoteUnwritten = termOrVoteUnwritten || hardState.term != newest.term || hardState.vote != newest.vote
            newest = hardState
        }
        guard !entries.isEmpty || termOrVoteUnwritten else { return nil }
        termOrVoteUnwritten = false
        return StorageUpdate(hardState: newest, entries: entries)
    }
}
