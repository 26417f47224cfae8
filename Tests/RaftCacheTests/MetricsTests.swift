import Foundation
@testable import HTTPFrontend
import NodeMetrics
import RaftWire
import Testing

@Suite("Metrics")
struct MetricsTests {
    @Test("every metric is named by Prometheus' conventions and has help text")
    func catalog() {
        for metric in NodeMetric.allCases {
            #expect(metric.name.hasPrefix("raft_cache_"), "\(metric.name)")
            #expect(!metric.help.isEmpty, "\(metric.name)")
            switch metric.kind {
            case .counter: #expect(metric.name.hasSuffix("_total"), "\(metric.name)")
            case .durations: #expect(metric.name.hasSuffix("_seconds"), "\(metric.name)")
            case .gauge, .values: #expect(!metric.name.hasSuffix("_total"), "\(metric.name)")
            }
        }
    }

    private func text(_ exporter: MetricsExporter, _ status: StatusResponse) -> String {
        String(decoding: exporter.exposition(status: status, connections: [("http", 2), ("raft", 1)]), as: UTF8.self)
    }

    @Test("state read at scrape: the leader's follower lags come and go, the store's totals become counters")
    func scrapedState() {
        let exporter = MetricsExporter.detached()
        var status = StatusResponse(nodeID: "n1", role: .leader, term: 4, commitIndex: 9, followers: [
            FollowerStatus(id: "n2", matchIndex: 4, nextIndex: 5, lag: 5, state: "replicate"),
            FollowerStatus(id: "n\"3", matchIndex: 9, nextIndex: 10, lag: 0, state: "replicate"),
        ], keys: 12, expiredKeys: 3)
        var exposition = text(exporter, status)
        #expect(exposition.contains("raft_cache_is_leader 1.0\n"))
        #expect(exposition.contains("raft_cache_term 4.0\n"))
        #expect(exposition.contains("raft_cache_keys 12.0\n"))
        #expect(exposition.contains("raft_cache_follower_lag_entries{follower=\"n2\"} 5.0\n"))
        #expect(exposition.contains("raft_cache_follower_lag_entries{follower=\"n\\\"3\"} 0.0\n"))
        #expect(exposition.contains("raft_cache_connections{port=\"http\"} 2.0\n"))
        #expect(exposition.contains("raft_cache_expired_keys_total 3\n"))
        #expect(exposition.contains("# HELP raft_cache_is_leader "))

        status.role = .follower
        status.followers = []
        status.expiredKeys = 7
        exposition = text(exporter, status)
        #expect(exposition.contains("raft_cache_is_leader 0.0\n"))
        #expect(!exposition.contains("raft_cache_follower_lag_entries{"))
        #expect(exposition.contains("raft_cache_expired_keys_total 7\n"))
    }

    @Test("requests are counted by route template: no key, value or id becomes a label")
    func routeTemplates() {
        let cases: [(String, String)] = [
            ("/api/v1/key/secret-key", "/api/v1/key/{key}"),
            ("/api/v1/key/a%2Fb?consistency=stale", "/api/v1/key/{key}"),
            ("/api/v1/key/k/v", "/api/v1/key/{key}/{value}"),
            ("/api/v1/key/k/value/v", "/api/v1/key/{key}/value/{value}"),
            ("/api/v1/key/k/incr", "/api/v1/key/{key}/incr"),
            ("/api/v1/key/a/b/c/d", "other"),
            ("/api/v1/node/node-7", "/api/v1/node/{id}"),
            ("/metrics", "/metrics"),
            ("/api/v1/cluster", "/api/v1/cluster"),
            ("/../etc/passwd", "other"),
            ("/api/v1/statusX", "other"),
        ]
        for (uri, route) in cases {
            #expect(HTTPFrontend.routeTemplate(uri: uri) == route, "\(uri)")
        }
    }
}

@Suite("Metrics in the README")
struct MetricsDocumentationTests {
    @Test("the README's metrics table lists every metric the node exports")
    func readmeListsEveryMetric() throws {
        let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../README.md")
        let text = try String(contentsOf: readme, encoding: .utf8)
        for metric in NodeMetric.allCases {
            #expect(text.contains("| `\(metric.name)` |"), "\(metric.name) is not in the README")
        }
    }
}
