import RaftWire

/// `--summary`: per method, how many calls and bytes, failures, and latency percentiles.
struct Summary: Sendable {
    struct MethodStats: Sendable {
        var requests = 0
        var responses = 0
        var failures = 0
        var bytes = 0
        var latencies = LatencySample()
    }

    private(set) var methods: [String: MethodStats] = [:]
    private(set) var frames = 0
    private(set) var bytes = 0
    private(set) var problems = 0
    private(set) var connections: Set<Int> = []

    mutating func add(_ record: FrameRecord) {
        frames += 1
        bytes += record.size
        connections.insert(record.label.connection)
        var stats = methods[record.method.isEmpty ? "?" : record.method, default: MethodStats()]
        stats.bytes += record.size
        switch record.envelope.kind {
        case .request: stats.requests += 1
        case .response:
            stats.responses += 1
            if record.envelope.status != .ok { stats.failures += 1 }
            if let latency = record.latencyMs { stats.latencies.add(latency) }
        case .cancel:
            break
        }
        methods[record.method.isEmpty ? "?" : record.method] = stats
    }

    mutating func addProblem() { problems += 1 }

    var text: String {
        var lines = ["\(frames) frames, \(bytes) bytes, \(connections.count) connections, \(problems) problems"]
        let header = ["method", "requests", "responses", "failed", "bytes", "p50 ms", "p90 ms", "p99 ms", "max ms"]
        var rows = [header]
        for (method, stats) in methods.sorted(by: { $0.key < $1.key }) {
            let percentiles = [0.5, 0.9, 0.99, 1.0].map { stats.latencies.percentile($0).map(Decimals.three) ?? "-" }
            rows.append([method, "\(stats.requests)", "\(stats.responses)", "\(stats.failures)", "\(stats.bytes)"] + percentiles)
        }
        let widths = header.indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        for row in rows {
            let cells = row.enumerated().map { column, cell in
                let pad = String(repeating: " ", count: widths[column] - cell.count)
                return column == 0 ? cell + pad : pad + cell
            }
            lines.append(cells.joined(separator: "  "))
        }
        return lines.joined(separator: "\n")
    }

    var json: String {
        let methodObjects = methods.sorted(by: { $0.key < $1.key }).map { method, stats -> FieldValue in
            var fields = [
                Field("method", .text(method)), Field("requests", .number(UInt64(stats.requests))),
                Field("responses", .number(UInt64(stats.responses))), Field("failed", .number(UInt64(stats.failures))),
                Field("bytes", .number(UInt64(stats.bytes))),
            ]
            for (name, quantile) in [("p50_ms", 0.5), ("p90_ms", 0.9), ("p99_ms", 0.99), ("max_ms", 1.0)] {
                if let value = stats.latencies.percentile(quantile) { fields.append(Field(name, .real(value))) }
            }
            return .object(fields)
        }
        return JSONRendering.object([Field("summary", .object([
            Field("frames", .number(UInt64(frames))), Field("bytes", .number(UInt64(bytes))),
            Field("connections", .number(UInt64(connections.count))), Field("problems", .number(UInt64(problems))),
            Field("methods", .list(methodObjects)),
        ]))])
    }
}

/// Latencies kept for percentiles: all of them up to a cap, then a uniform sample
/// (reservoir sampling), so a long capture does not grow memory without bound.
struct LatencySample: Sendable {
    static let capacity = 100_000
    private(set) var values: [Double] = []
    private(set) var maximum: Double?
    private var seen = 0
    private var random = SplitMix64(seed: 0x5EED)

    mutating func add(_ value: Double) {
        seen += 1
        maximum = max(maximum ?? value, value)
        if values.count < Self.capacity {
            values.append(value)
        } else {
            let slot = Int(random.next() % UInt64(seen))
            if slot < Self.capacity { values[slot] = value }
        }
    }

    /// The nearest-rank percentile (`quantile` 1 is the true maximum), nil with no values.
    func percentile(_ quantile: Double) -> Double? {
        if quantile >= 1 { return maximum }
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        let rank = Int((quantile * Double(sorted.count)).rounded(.up))
        return sorted[min(max(rank, 1), sorted.count) - 1]
    }
}
