import CoreMetrics
import Prometheus
import RaftWire
import Synchronization

/// swift-metrics' backend in a node: every metric goes to one Prometheus registry with the
/// help text and buckets of its `NodeMetric`. A name outside the catalog is still exported,
/// under a help text that says so.
struct CatalogPrometheusFactory: MetricsFactory {
    let registry: PrometheusCollectorRegistry

    /// The whole name is the label (the catalog's names carry their units already).
    private static func descriptor(_ label: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: label, unitName: "", helpText: NodeMetric(rawValue: label)?.help ?? "raft-cache metric \(label).")
    }

    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        registry.makeCounter(descriptor: Self.descriptor(label), labels: dimensions)
    }

    func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        registry.makeCounter(descriptor: Self.descriptor(label), labels: dimensions)
    }

    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        guard aggregate else { return registry.makeGauge(descriptor: Self.descriptor(label), labels: dimensions) }
        let buckets: [Double]
        if case .values(let bounds)? = NodeMetric(rawValue: label)?.kind { buckets = bounds } else { buckets = [1, 10, 100, 1_000, 10_000] }
        return registry.makeValueHistogram(descriptor: Self.descriptor(label), labels: dimensions, buckets: buckets)
    }

    func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        registry.makeGauge(descriptor: Self.descriptor(label), labels: dimensions)
    }

    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        let seconds: [Double]
        if case .durations(let bounds)? = NodeMetric(rawValue: label)?.kind { seconds = bounds } else { seconds = NodeMetric.latencyBuckets }
        let buckets = seconds.map { Duration.nanoseconds(Int64($0 * 1e9)) }
        return registry.makeDurationHistogram(descriptor: Self.descriptor(label), labels: dimensions, buckets: buckets)
    }

    func destroyCounter(_ handler: any CounterHandler) {
        if let counter = handler as? Prometheus.Counter { registry.unregisterCounter(counter) }
    }

    func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {
        if let counter = handler as? Prometheus.Counter { registry.unregisterCounter(counter) }
    }

    func destroyRecorder(_ handler: any RecorderHandler) {
        if let gauge = handler as? Prometheus.Gauge { registry.unregisterGauge(gauge) }
        if let histogram = handler as? Histogram<Double> { registry.unregisterValueHistogram(histogram) }
    }

    func destroyMeter(_ handler: any MeterHandler) {
        if let gauge = handler as? Prometheus.Gauge { registry.unregisterGauge(gauge) }
    }

    func destroyTimer(_ handler: any TimerHandler) {
        if let histogram = handler as? Histogram<Duration> { registry.unregisterDurationHistogram(histogram) }
    }
}

/// The node's `/metrics`: the registry swift-metrics records into, and the gauges read from
/// the node's state when scraped (so nothing on the write path keeps them up to date).
public final class MetricsExporter: Sendable {
    private let registry: PrometheusCollectorRegistry
    private let factory: CatalogPrometheusFactory
    private let scraped = Mutex(ScrapedState())

    /// Counters the node keeps itself, and the followers it exported a lag for.
    private struct ScrapedState {
        var expired: UInt64 = 0
        var evicted: UInt64 = 0
        var refusals: [String: UInt64] = [:]
        var followers: [String: CoreMetrics.Gauge] = [:]
    }

    private init() {
        registry = PrometheusCollectorRegistry()
        factory = CatalogPrometheusFactory(registry: registry)
    }

    /// Makes this process' swift-metrics record into a new exporter. Once per process, before
    /// any metric is made (a metric made earlier records nowhere).
    public static func bootstrapProcess() -> MetricsExporter {
        let exporter = MetricsExporter()
        MetricsSystem.bootstrap(exporter.factory)
        return exporter
    }

    /// An exporter of its own, outside the process' metrics system (tests).
    public static func detached() -> MetricsExporter { MetricsExporter() }

    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    /// What the node's admission bounds hold now, and the refusals by limit since it started.
    public struct LoadFigures: Sendable {
        public var writesInFlight = 0
        public var requestBytesInFlight = 0
        public var answerBytesWaiting = 0
        public var refusals: [String: UInt64] = [:]

        public init(writesInFlight: Int = 0, requestBytesInFlight: Int = 0, answerBytesWaiting: Int = 0, refusals: [String: UInt64] = [:]) {
            self.writesInFlight = writesInFlight
            self.requestBytesInFlight = requestBytesInFlight
            self.answerBytesWaiting = answerBytesWaiting
            self.refusals = refusals
        }
    }

    /// The exposition text, with the state gauges set from `status` and the open
    /// connections per port (`http`, `raft`).
    public func exposition(status: StatusResponse, connections: [(port: String, count: Int)], load: LoadFigures = LoadFigures()) -> [UInt8] {
        func set(_ metric: NodeMetric, _ value: UInt64, _ dimensions: [(String, String)] = []) {
            Gauge(label: metric.name, dimensions: dimensions, factory: factory).record(Double(value))
        }
        set(.isLeader, status.role == .leader ? 1 : 0)
        set(.term, status.term)
        set(.commitIndex, status.commitIndex)
        set(.appliedIndex, status.appliedIndex)
        set(.lastLogIndex, status.lastLogIndex)
        set(.snapshotIndex, status.snapshot.index)
        set(.snapshotSize, status.snapshot.sizeBytes)
        set(.members, UInt64(status.members.count))
        set(.keys, status.keys)
        set(.dataBytes, status.bytes)
        set(.memoryUsed, status.memoryUsedBytes)
        set(.memoryMax, status.maxMemoryBytes)
        set(.expiringKeys, status.expiringKeys)
        set(.clientSessions, status.clientSessions)
        for (port, count) in connections { set(.connections, UInt64(max(0, count)), [("port", port)]) }
        set(.writesInFlight, UInt64(max(0, load.writesInFlight)))
        set(.requestBytesInFlight, UInt64(max(0, load.requestBytesInFlight)))
        set(.answerBytesWaiting, UInt64(max(0, load.answerBytesWaiting)))
        scraped.withLock { state in
            for (limit, total) in load.refusals {
                let before = state.refusals[limit] ?? 0
                Counter(label: NodeMetric.admissionRefusals.name, dimensions: [("limit", limit)], factory: factory)
                    .increment(by: total - min(before, total))
                state.refusals[limit] = max(before, total)
            }
            // The store counts these itself; the counters follow its totals.
            Counter(label: NodeMetric.expiredKeys.name, factory: factory).increment(by: status.expiredKeys - min(state.expired, status.expiredKeys))
            Counter(label: NodeMetric.evictedKeys.name, factory: factory).increment(by: status.evictedKeys - min(state.evicted, status.evictedKeys))
            state.expired = max(state.expired, status.expiredKeys)
            state.evicted = max(state.evicted, status.evictedKeys)
            // A lag per follower while this node leads; none for a follower it no longer has.
            var current: [String: CoreMetrics.Gauge] = [:]
            for follower in status.role == .leader ? status.followers : [] {
                let gauge = state.followers[follower.id]
                    ?? Gauge(label: NodeMetric.followerLag.name, dimensions: [("follower", follower.id)], factory: factory)
                gauge.record(Double(follower.lag))
                current[follower.id] = gauge
            }
            for (id, gauge) in state.followers where current[id] == nil { gauge.destroy() }
            state.followers = current
        }
        return registry.emitToBuffer()
    }
}
