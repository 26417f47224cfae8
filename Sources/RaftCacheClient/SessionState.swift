import RaftWire

/// The client's session: opened once (however many writes ask at the same time), then each
/// write numbered; `ackedBelow` tells the cluster every answer below the oldest write still
/// waiting was received, so it may forget them.
actor SessionState {
    private var id: UInt64?
    private var opening: Task<UInt64, any Error>?
    private var next: UInt64 = 1
    private var waiting: Set<UInt64> = []

    /// The tag of the next write, opening the session first if there is none.
    func begin(open: @escaping @Sendable () async throws -> UInt64) async throws -> SessionTag {
        let id = try await currentID(open)
        let sequence = next
        next += 1
        waiting.insert(sequence)
        return SessionTag(id: id, sequence: sequence, ackedBelow: waiting.min() ?? sequence)
    }

    private func currentID(_ open: @escaping @Sendable () async throws -> UInt64) async throws -> UInt64 {
        if let id { return id }
        let task = opening ?? Task { try await open() }
        opening = task
        // Whichever of the writes waiting for the opening resumes first records it; numbering
        // starts over only when a session ends (`expired`), never here, where others may
        // have taken numbers already.
        do {
            let opened = try await task.value
            if id == nil { id = opened }
            if opening == task { opening = nil }
            return id ?? opened
        } catch {
            if opening == task { opening = nil }
            throw error
        }
    }

    /// The write is answered (or given up): its answer need not be kept.
    func finished(_ tag: SessionTag) {
        guard tag.id == id else { return }
        waiting.remove(tag.sequence)
    }

    /// The cluster ended the session: the next write opens a new one.
    func expired(_ tag: SessionTag) {
        guard tag.id == id else { return }
        id = nil
        next = 1
        waiting = []
    }
}
