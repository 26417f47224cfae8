import RaftWire

/// What the driver must do after giving the core input, in this order:
/// 1. persist `snapshot` (discarding the whole stored log), then `entries` (first
///    truncating the stored log from `entries.first.index`), then `hardState`; fsync;
///    then tell the core with `persisted(through:term:)` (the last entry's index and term);
/// 2. send `messages` (a leader's AppendEntries, heartbeats, snapshots and TimeoutNow may
///    go before step 1 finishes: see `Message.mayPrecedePersistence`);
/// 3. restore the state machine from `snapshot`, apply `committedEntries` in order;
/// 4. serve each of `readStates` once the state machine has applied its index.
public struct Ready: Sendable {
    public var hardState: HardState?
    public var snapshot: SnapshotMetadata?
    public var entries: [Entry] = []
    public var messages: [Message] = []
    public var committedEntries: [Entry] = []
    public var readStates: [ReadState] = []

    public var isEmpty: Bool {
        hardState == nil && snapshot == nil && entries.isEmpty && messages.isEmpty && committedEntries.isEmpty
            && readStates.isEmpty
    }
}
