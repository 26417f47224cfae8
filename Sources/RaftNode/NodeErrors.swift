import CacheStore
import RaftCore
import RaftWire

/// Every refusal of the node, as the call error both protocols answer with: this is the one
/// table (HTTP turns the status code into its own status, the binary protocol sends it as is).
extension RPCError {
    /// No leader is known (an election is under way, or this node is cut off).
    static let noLeader = RPCError(.unavailable, "no leader is known; try again shortly", detail: ErrorDetail(retryAfterMs: 200))
    static let timedOut = RPCError(.deadlineExceeded, "timed out waiting for the cluster")
    static let shuttingDown = RPCError(.unavailable, "the node is shutting down", detail: ErrorDetail(retryAfterMs: 500))
    /// The write was overtaken by a leader change and did not commit.
    static let lost = RPCError(.aborted, "the write was lost in a leader change; it was not applied")

    /// This node is not the leader; `leader` is, at `address` (nil: not in the configuration).
    static func notLeader(_ leader: NodeID, address: String?) -> RPCError {
        RPCError(
            .unavailable, "not the leader (the leader is \(leader) at \(address ?? "unknown"))",
            detail: ErrorDetail(leaderID: leader, leaderAddress: address ?? "", retryAfterMs: 100))
    }

    /// Not possible now; trying again shortly may work (a leadership transfer under way).
    static func unavailable(_ reason: String) -> RPCError {
        RPCError(.unavailable, reason, detail: ErrorDetail(retryAfterMs: 500))
    }

    /// The request itself is wrong.
    static func invalid(_ reason: String) -> RPCError { RPCError(.invalidArgument, reason) }
    /// Refused in the cluster's current state (another membership change pending).
    static func rejected(_ reason: String) -> RPCError { RPCError(.failedPrecondition, reason) }
    static func unexpected(_ reason: String) -> RPCError { RPCError(.internal, reason) }
    /// A write's condition did not hold when it was applied; `current`: the key's version then
    /// (nil: it did not exist).
    static func conditionFailed(_ condition: WriteCondition, current: KeyVersion?) -> RPCError {
        let found = current.map { "the key was last set by entry \($0.modIndex) (created by \($0.createIndex))" }
            ?? "the key does not exist"
        let wanted = switch condition {
        case .modIndex(let index): "it must have been last set by entry \(index)"
        case .absent: "it must not exist"
        case .none: "it has no condition"
        }
        return RPCError(
            .failedPrecondition, "condition failed: \(found); \(wanted)",
            detail: ErrorDetail(currentVersion: current ?? KeyVersion(createIndex: 0, modIndex: 0)))
    }

    /// A session's write that was not applied; the detail's `session` says why.
    static func sessionRefused(_ why: CacheStore.SessionRefusal, session: SessionTag?) -> RPCError {
        let id = session.map { "session \($0.id)" } ?? "the session"
        if why == .tooManySessions {
            return RPCError(
                .resourceExhausted,
                "\(ClientSessionLimits.maxSessions) client sessions are open, the most a cluster keeps; try again once idle ones end (--session-timeout)",
                detail: ErrorDetail(retryAfterMs: 5_000, limit: "client-sessions"))
        }
        let (name, message) = switch why {
        case .unknownSession: ("expired", "\(id) does not exist: it expired (idle past the leader's --session-timeout) or was never opened; open a new one")
        case .alreadyAcknowledged:
            ("acknowledged", "\(id) was told its answer to sequence \(session?.sequence ?? 0) was received (acked_below); it is not applied again")
        case .tooManyUnacknowledged, .tooManySessions:
            ("full", "\(id) keeps \(ClientSessionLimits.maxAnswers) answers its client has not acknowledged; send acked_below")
        }
        return RPCError(.failedPrecondition, message, detail: ErrorDetail(session: name))
    }

    /// The memory bound does not allow the write (HTTP 507).
    static func memoryFull(used: UInt64, bound: MemoryBound) -> RPCError {
        let why = bound.policy == .noEviction
            ? "the write would pass the memory bound (eviction policy noeviction)"
            : "eviction (\(bound.policy.rawValue)) cannot keep the map within the memory bound: nothing it may evict, or it is behind"
        return RPCError(
            .resourceExhausted, "\(why): \(used) of \(bound.maxBytes) bytes in use; raise --max-memory or delete keys",
            detail: ErrorDetail(limit: "max-memory"))
    }

    /// The node stopped itself (its storage failed); it serves nothing more.
    static func stopped(_ reason: String) -> RPCError { RPCError(.unavailable, "the node has stopped: \(reason)") }

    /// A refusal of the core; `address` finds a member's binary address.
    init(_ error: RaftError, address: (NodeID) -> String?) {
        switch error {
        case .notLeader(let leader?): self = .notLeader(leader, address: address(leader))
        case .notLeader(nil): self = .noLeader
        case .transferInProgress: self = .unavailable("a leadership transfer is in progress; try again shortly")
        case .membershipChangeInProgress, .noVotersLeft, .replacesLeader: self = .rejected(error.description)
        case .unknownServer, .invalidTransferTarget: self = .invalid(error.description)
        }
    }

    /// The leader a follower's refusal names, where its address is known: a write may be
    /// forwarded there.
    var leader: (id: NodeID, address: String)? {
        guard status == .unavailable, let detail, !detail.leaderID.isEmpty, !detail.leaderAddress.isEmpty else { return nil }
        return (detail.leaderID, detail.leaderAddress)
    }
}
