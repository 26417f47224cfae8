import CoreMetrics

/// The counters of what happens in a node's Raft and snapshots, made once per node.
public struct NodeEventMetrics: Sendable {
    public let proposals = NodeMetric.proposals.counter()
    public let leaderChanges = NodeMetric.leaderChanges.counter()
    public let electionsStarted = NodeMetric.electionsStarted.counter()
    public let snapshots = NodeMetric.snapshots.counter()
    public let snapshotDuration = NodeMetric.snapshotDuration.timer()
    public let snapshotsSent = NodeMetric.snapshotTransfers.counter([("direction", "sent")])
    public let snapshotsReceived = NodeMetric.snapshotTransfers.counter([("direction", "received")])

    public init() {}
}
