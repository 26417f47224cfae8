import Foundation
import NIOCore
import RaftNode
import RaftWire

/// The JSON of a node's status (GET /api/v1/status) and of the whole cluster as one node
/// sees it (GET /api/v1/cluster, the live page's data).
public enum StatusJSON {
    public static func role(_ role: Role) -> String {
        switch role {
        case .leader: "leader"
        case .candidate: "candidate"
        case .preCandidate: "pre-candidate"
        case .follower: "follower"
        case .learner: "learner"
        }
    }

    public static func suffrage(_ suffrage: Suffrage) -> String {
        switch suffrage {
        case .voter: "voter"
        case .learner: "learner"
        case .staging: "staging"
        }
    }

    public static func object(_ status: StatusResponse) -> [String: Any] {
        let members: [[String: String]] = status.members.map { member in
            ["id": member.id, "address": member.address, "suffrage": suffrage(member.suffrage)]
        }
        let followers: [[String: Any]] = status.followers.map { follower in
            ["id": follower.id, "match_index": follower.matchIndex, "next_index": follower.nextIndex,
             "lag": follower.lag, "state": follower.state]
        }
        return [
            "node_id": status.nodeID, "role": role(status.role), "term": status.term, "leader_id": status.leaderID,
            "leader_address": status.leaderAddress, "commit_index": status.commitIndex,
            "applied_index": status.appliedIndex, "last_log_index": status.lastLogIndex,
            "snapshot_index": status.snapshotIndex, "members": members, "snapshot": object(status.snapshot),
            "followers": followers, "keys": status.keys, "bytes": status.bytes,
            // As a string: JSON numbers lose precision past 2^53.
            "digest": String(status.digest, radix: 16), "leader_contact_age_ms": status.leaderContactAgeMs,
            "client_sessions": status.clientSessions,
            "memory": [
                "used_bytes": status.memoryUsedBytes, "max_bytes": status.maxMemoryBytes,
                "eviction_policy": status.evictionPolicy.isEmpty ? "none" : status.evictionPolicy,
                "expiring_keys": status.expiringKeys, "expired_keys": status.expiredKeys, "evicted_keys": status.evictedKeys,
            ] as [String: Any],
        ]
    }

    public static func object(_ snapshot: SnapshotStatus) -> [String: Any] {
        var body: [String: Any] = [
            "index": snapshot.index, "term": snapshot.term, "size_bytes": snapshot.sizeBytes, "age_ms": snapshot.ageMs,
        ]
        if snapshot.receivingIndex > 0 {
            body["receiving"] = ["index": snapshot.receivingIndex, "received_bytes": snapshot.receivedBytes]
        }
        return body
    }

    /// Every member as `nodeID` sees it: its own status, the others' as they answered, each
    /// follower's lag from the leader's view (when the leader answered), and this node's
    /// activity and the leader changes it saw.
    static func cluster(_ members: [RaftNode.MemberStatus], nodeID: String, activity: NodeActivity.Series, nowMs: UInt64) -> [String: Any] {
        let own = members.first { $0.server.id == nodeID }.flatMap { try? $0.status.get() }
        let leaderID = own?.leaderID ?? ""
        let leader = members.first { $0.server.id == leaderID }.flatMap { try? $0.status.get() }
        let lags = Dictionary(leader?.followers.map { ($0.id, $0.lag) } ?? [], uniquingKeysWith: { first, _ in first })
        let rows: [[String: Any]] = members.map { member in
            var row: [String: Any] = [
                "id": member.server.id, "address": member.server.address, "suffrage": suffrage(member.server.suffrage),
            ]
            switch member.status {
            case .success(let status):
                row["reachable"] = true
                row["role"] = role(status.role)
                row["term"] = status.term
                row["commit_index"] = status.commitIndex
                row["applied_index"] = status.appliedIndex
                row["last_log_index"] = status.lastLogIndex
                row["keys"] = status.keys
                row["bytes"] = status.bytes
                row["leader_contact_age_ms"] = status.leaderContactAgeMs
                row["snapshot"] = [
                    "index": status.snapshot.index, "term": status.snapshot.term, "size_bytes": status.snapshot.sizeBytes,
                    "age_ms": status.snapshot.ageMs, "receiving_index": status.snapshot.receivingIndex,
                    "received_bytes": status.snapshot.receivedBytes,
                ]
                row["lag"] = member.server.id == leaderID && leader != nil ? 0 : lags[member.server.id].map { $0 as Any } ?? NSNull()
            case .failure(let error):
                row["reachable"] = false
                // NIO's account of a failed connection runs long; the start says what happened.
                row["error"] = error.message.count > 160 ? error.message.prefix(157) + "..." : error.message
            }
            return row
        }
        return [
            "node_id": nodeID, "time_ms": nowMs, "leader_id": leaderID, "term": own?.term ?? 0, "members": rows,
            "activity": [
                "interval_ms": activity.intervalMs, "writes_per_s": activity.writesPerSecond, "reads_per_s": activity.readsPerSecond,
            ] as [String: Any],
            "leader_changes": activity.leaderChanges.map { ["time_ms": $0.timeMs, "term": $0.term, "leader_id": $0.leaderID] as [String: Any] },
        ]
    }
}
