import CoreMetrics

/// Every metric a node exports, by its Prometheus name, with its help text and kind. Code
/// records through swift-metrics (`Counter`, `Timer`, `Recorder`) under these names; the
/// Prometheus backend takes help texts and histogram buckets from here, and the README lists
/// them. Counters end in `_total`, units are in the names (seconds, bytes, entries).
public enum NodeMetric: String, CaseIterable, Sendable {
    // Raft, read from the node's state at each scrape.
    case isLeader = "raft_cache_is_leader"
    case term = "raft_cache_term"
    case commitIndex = "raft_cache_commit_index"
    case appliedIndex = "raft_cache_applied_index"
    case lastLogIndex = "raft_cache_last_log_index"
    case snapshotIndex = "raft_cache_snapshot_index"
    case members = "raft_cache_members"
    case followerLag = "raft_cache_follower_lag_entries"
    // Raft events.
    case leaderChanges = "raft_cache_leader_changes_total"
    case electionsStarted = "raft_cache_elections_started_total"
    case proposals = "raft_cache_proposals_total"
    case appendBatch = "raft_cache_append_batch_entries"
    case appendDuration = "raft_cache_log_append_duration_seconds"
    case fsyncDuration = "raft_cache_fsync_duration_seconds"
    // Snapshots.
    case snapshots = "raft_cache_snapshots_total"
    case snapshotDuration = "raft_cache_snapshot_duration_seconds"
    case snapshotSize = "raft_cache_snapshot_size_bytes"
    case snapshotTransfers = "raft_cache_snapshot_transfers_total"
    // Requests and connections.
    case httpRequests = "raft_cache_http_requests_total"
    case httpDuration = "raft_cache_http_request_duration_seconds"
    case rpcRequests = "raft_cache_rpc_requests_total"
    case rpcDuration = "raft_cache_rpc_request_duration_seconds"
    case connections = "raft_cache_connections"
    // The map.
    case keys = "raft_cache_keys"
    case dataBytes = "raft_cache_data_bytes"
    case memoryUsed = "raft_cache_memory_used_bytes"
    case memoryMax = "raft_cache_memory_max_bytes"
    case expiringKeys = "raft_cache_expiring_keys"
    case expiredKeys = "raft_cache_expired_keys_total"
    case evictedKeys = "raft_cache_evicted_keys_total"
    case clientSessions = "raft_cache_client_sessions"
    // Admission (Limits and overload in the README), read from the node at each scrape.
    case writesInFlight = "raft_cache_writes_in_flight"
    case requestBytesInFlight = "raft_cache_request_bytes_in_flight"
    case answerBytesWaiting = "raft_cache_answer_bytes_waiting"
    case admissionRefusals = "raft_cache_admission_refusals_total"

    public enum Kind: Sendable, Equatable {
        case counter, gauge
        /// A histogram of durations, its bucket bounds in seconds.
        case durations([Double])
        /// A histogram of values (counts, sizes).
        case values([Double])
    }

    public var name: String { rawValue }

    /// From 100 µs to 10 s: a write's fsync to a request that waited out a deadline.
    static let latencyBuckets = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    public var kind: Kind {
        switch self {
        case .leaderChanges, .electionsStarted, .proposals, .snapshots, .snapshotTransfers, .httpRequests, .rpcRequests,
            .expiredKeys, .evictedKeys, .admissionRefusals:
            .counter
        case .appendDuration, .fsyncDuration, .httpDuration, .rpcDuration: .durations(Self.latencyBuckets)
        case .snapshotDuration: .durations([0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300])
        case .appendBatch: .values([1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096])
        default: .gauge
        }
    }

    public var help: String {
        switch self {
        case .isLeader: "1 on the node that is the leader, 0 on the others."
        case .term: "The Raft term this node is in."
        case .commitIndex: "The highest log index this node knows to be committed."
        case .appliedIndex: "The highest log index applied to this node's map."
        case .lastLogIndex: "The last index in this node's log."
        case .snapshotIndex: "The index of this node's newest snapshot."
        case .members: "Members of the cluster's configuration (voters and learners)."
        case .followerLag: "On the leader: entries each follower's log is behind the leader's."
        case .leaderChanges: "Times this node saw the leader change (including to none)."
        case .electionsStarted: "Elections this node started as a candidate (pre-votes are not counted)."
        case .proposals: "Entries this node proposed as leader."
        case .appendBatch: "Entries written to the log per append."
        case .appendDuration: "Time to write and sync one append to the log."
        case .fsyncDuration: "Time of one fsync of the log."
        case .snapshots: "Snapshots this node took."
        case .snapshotDuration: "Time to write a snapshot."
        case .snapshotSize: "Size of this node's newest snapshot."
        case .snapshotTransfers: "Snapshots sent to followers and received from the leader, whole."
        case .httpRequests: "HTTP requests answered, by route, method and status code."
        case .httpDuration: "Time from an HTTP request's last byte to its answer, by route."
        case .rpcRequests: "Binary-protocol calls (not streams) answered, by method and status code."
        case .rpcDuration: "Time from a binary call's arrival to its answer, by method."
        case .connections: "Open client and peer connections, by port (http, raft)."
        case .keys: "Keys in the map."
        case .dataBytes: "Bytes of the map's keys and values."
        case .memoryUsed: "Memory the map counts toward --max-memory (keys, values, overhead per key)."
        case .memoryMax: "The --max-memory bound (0: none)."
        case .expiringKeys: "Keys that have a time to live."
        case .expiredKeys: "Keys removed by expiry since this process started."
        case .evictedKeys: "Keys removed by eviction since this process started."
        case .clientSessions: "Client sessions open (exactly-once writes)."
        case .writesInFlight: "Client writes this node holds, received and not yet answered (bound: --max-writes-in-flight)."
        case .requestBytesInFlight: "Bytes of client requests this node holds (bound: --max-bytes-in-flight)."
        case .answerBytesWaiting: "Bytes of answers waiting for their readers (bound: --max-answer-bytes)."
        case .admissionRefusals: "Requests refused because the node was overloaded, by the limit that refused them."
        }
    }

    // What code records through (swift-metrics, with whatever backend the process chose).

    public func counter(_ dimensions: [(String, String)] = []) -> Counter {
        Counter(label: rawValue, dimensions: dimensions)
    }

    public func timer(_ dimensions: [(String, String)] = []) -> Timer {
        Timer(label: rawValue, dimensions: dimensions)
    }

    public func recorder(_ dimensions: [(String, String)] = []) -> Recorder {
        Recorder(label: rawValue, dimensions: dimensions, aggregate: true)
    }

    public func gauge(_ dimensions: [(String, String)] = []) -> Gauge {
        Gauge(label: rawValue, dimensions: dimensions)
    }
}
