/// Which frames to print: `--method`, `--node`, `--call-id`, `--no-heartbeats`.
struct FrameFilter: Sendable {
    var methodSuffixes: [String] = []
    var nodes: [String] = []
    var callIDs: Set<UInt64> = []
    var hideHeartbeats = false

    func accepts(_ record: FrameRecord) -> Bool {
        if hideHeartbeats && record.isHeartbeat { return false }
        if !callIDs.isEmpty && !callIDs.contains(record.envelope.callID) { return false }
        if !methodSuffixes.isEmpty && !methodSuffixes.contains(where: { record.method.hasSuffix($0) }) { return false }
        return acceptsStream(record.label)
    }

    func acceptsStream(_ label: StreamLabel) -> Bool {
        nodes.isEmpty || nodes.contains { node in label.endpoints.contains { Self.endpoint($0, matches: node) } }
    }

    /// `node` is `host:port`, a bare port, or a bare host.
    static func endpoint(_ endpoint: String, matches node: String) -> Bool {
        if endpoint == node { return true }
        if !node.isEmpty && node.allSatisfy(\.isNumber) { return endpoint.hasSuffix(":" + node) }
        if node.hasPrefix("localhost:") { return endpoint == "127.0.0.1" + node.dropFirst("localhost".count) }
        return !node.contains(":") && endpoint.hasPrefix(node + ":")
    }
}
