import RaftWire

extension RaftCore {
    /// The metadata a snapshot of the state machine at `index` must carry: the term of
    /// that entry and the configuration in force there. nil unless the index has been
    /// applied and is still in the log.
    public func snapshotMetadata(at index: UInt64) -> SnapshotMetadata? {
        guard index <= appliedIndex, index >= log.snapshotIndex, let entryTerm = log.term(at: index) else { return nil }
        if index == log.snapshotIndex { return log.snapshot }
        return SnapshotMetadata(
            lastIncludedIndex: index, lastIncludedTerm: entryTerm,
            configuration: log.configuration(atOrBefore: index).configuration)
    }

    /// Tells the core the state machine is saved in a snapshot through
    /// `metadata.lastIncludedIndex`: the entries it covers are dropped from memory, and a
    /// follower that needs them gets this snapshot instead.
    /// Returns storage holding the dropped entries: releasing it frees them (the driver may
    /// do that off its event loop).
    @discardableResult
    public func compact(to metadata: SnapshotMetadata) -> [Entry] {
        guard metadata.lastIncludedIndex > log.snapshotIndex else { return [] }
        precondition(metadata.lastIncludedIndex <= appliedIndex, "cannot compact entries not yet applied")
        return log.compact(to: metadata)
    }

    // MARK: Follower

    /// A snapshot from the leader waits in the next Ready to be installed.
    public var installPending: Bool { snapshotToInstall != nil }

    /// Whether a snapshot from the leader would replace this server's log: it is past the
    /// commit index and the log does not already hold its last entry.
    public func needsSnapshot(_ metadata: SnapshotMetadata) -> Bool {
        metadata.lastIncludedIndex > commitIndex && !log.matches(index: metadata.lastIncludedIndex, term: metadata.lastIncludedTerm)
    }

    /// A whole snapshot from the leader (the driver has assembled its chunks).
    func handleInstallSnapshot(_ request: InstallSnapshotRequest, from message: Message) {
        leaderID = request.leaderID
        ticksWithoutLeader = 0
        resetElectionTimer()
        let metadata = request.metadata
        let index = metadata.lastIncludedIndex
        if request.done && index > commitIndex {
            if !needsSnapshot(metadata) {
                // The log already holds it: the snapshot only tells us it is committed.
                commitIndex = index
            } else {
                log.restore(metadata)
                stableIndex = min(stableIndex, index)
                commitIndex = index
                appliedIndex = index
                snapshotToInstall = metadata
                refreshConfiguration()
            }
        }
        send(.installSnapshotResponse(InstallSnapshotResponse(
            term: term, nextOffset: request.offset + UInt64(request.data.count), installed: request.done,
            seq: request.seq)), to: message.from, context: message.context)
    }

    // MARK: Leader

    /// The driver reports that a snapshot stream to `peer` is making progress (a chunk was
    /// acknowledged), so the leader does not give up on it and start over.
    public func snapshotProgressed(to peer: NodeID) {
        guard case .snapshot = progress[peer]?.state else { return }
        progress[peer]!.snapshotTicks = 0
        progress[peer]!.recentActive = true
    }

    func handleInstallSnapshotResponse(_ response: InstallSnapshotResponse, from peer: NodeID) {
        guard var state = progress[peer] else { return }
        state.recentActive = true
        state.ackedSeq = max(state.ackedSeq, response.seq)
        if case .snapshot(let index, let seq) = state.state, response.installed, response.seq == seq {
            _ = state.update(match: index)
            state.becomeProbe()
        }
        progress[peer] = state
        releaseConfirmedReads()
        maybeCommit()
    }
}
