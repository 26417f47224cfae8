import RaftWire

/// Client sessions (the Raft thesis, 6.3): a client opens one (an entry; its id is the entry's
/// index), then tags each write with the session and a sequence number. The first entry of a
/// (session, sequence) is applied and its answer kept; a repeat (a retry whose first try did
/// commit) is answered with that answer and changes nothing. The client says which answers it
/// holds (`ackedBelow`), so they are forgotten; a session keeps at most `maxAnswers`. The
/// leader ends sessions idle past its timeout with an entry. All of it is decided by the
/// entries alone, the same on every replica, and travels in snapshots.
public enum ClientSessionLimits {
    /// Answers one session keeps before it refuses new writes (its client must acknowledge).
    public static let maxAnswers = 4_096
    /// Sessions open at once: opening more is refused until idle ones end, so opening
    /// sessions in a loop cannot grow a node without bound.
    public static let maxSessions = 100_000
}

struct ClientSessions {
    struct Session: Equatable {
        /// The log clock of its last entry (Unix milliseconds).
        var lastActive: UInt64
        /// Sequences below this were acknowledged by the client: never applied again.
        var ackedBelow: UInt64 = 0
        /// The answers the client may still ask for again, by sequence.
        var answers: [UInt64: Answer] = [:]
    }

    /// An applied write's answer: its entry's index and what applying it did.
    struct Answer: Equatable {
        var index: UInt64
        var outcome: CacheStore.Outcome
    }

    static let maxAnswers = ClientSessionLimits.maxAnswers

    var table: [UInt64: Session] = [:]

    /// What to do with a tagged write.
    enum Admission {
        case apply
        case repeated(Answer)
        case refused(CacheStore.SessionRefusal)
    }

    /// Opens a session; false (opening none) when `maxSessions` are open.
    mutating func open(id: UInt64, now: UInt64) -> Bool {
        guard table.count < ClientSessionLimits.maxSessions else { return false }
        table[id] = Session(lastActive: now)
        return true
    }

    /// Whether the write tagged `tag` is applied, answered as before, or refused; it counts
    /// as the session's activity in every case but an unknown session.
    mutating func admit(_ tag: SessionTag, now: UInt64) -> Admission {
        guard var session = table[tag.id] else { return .refused(.unknownSession) }
        session.lastActive = max(session.lastActive, now)
        if tag.ackedBelow > session.ackedBelow {
            session.ackedBelow = tag.ackedBelow
            session.answers = session.answers.filter { $0.key >= tag.ackedBelow }
        }
        defer { table[tag.id] = session }
        guard tag.sequence >= 1, tag.sequence >= session.ackedBelow else { return .refused(.alreadyAcknowledged) }
        if let answer = session.answers[tag.sequence] { return .repeated(answer) }
        guard session.answers.count < Self.maxAnswers else { return .refused(.tooManyUnacknowledged) }
        return .apply
    }

    /// Keeps the answer of a write `admit` let through.
    mutating func record(_ tag: SessionTag, _ answer: Answer) {
        table[tag.id]?.answers[tag.sequence] = answer
    }

    /// Ends those of `ids` idle for `idleMs` by `now`; how many ended.
    mutating func expire(_ ids: [UInt64], idleMs: UInt64, now: UInt64) -> Int {
        var ended = 0
        for id in ids {
            guard let session = table[id], session.lastActive <= now - min(now, idleMs) else { continue }
            table[id] = nil
            ended += 1
        }
        return ended
    }

    /// A fingerprint of every session and the indexes of its answers: replicas at the same
    /// applied index have the same one (the simulation compares them).
    var digest: UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        func mix(_ value: UInt64) { hash = (hash ^ value) &* 0x100_0000_01B3 }
        for (id, session) in table.sorted(by: { $0.key < $1.key }) {
            mix(id)
            mix(session.lastActive)
            mix(session.ackedBelow)
            for (sequence, answer) in session.answers.sorted(by: { $0.key < $1.key }) {
                mix(sequence)
                mix(answer.index)
            }
        }
        return hash
    }

    /// Sessions idle for `idleMs` by `now`, up to `limit`: what the leader proposes to end.
    func idle(idleMs: UInt64, now: UInt64, limit: Int) -> [UInt64] {
        let cutoff = now - min(now, idleMs)
        return Array(table.lazy.filter { $0.value.lastActive <= cutoff }.map(\.key).prefix(limit))
    }
}
