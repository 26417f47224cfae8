import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NodeMetrics
import RaftNode
import RaftStorage
import RaftWire
import Synchronization

/// A body sent in parts as they come (a backup, an event stream): the head, then each part
/// once the one before it is written, so a slow reader holds at most one part.
public struct HTTPStream: Sendable {
    public var status: HTTPResponseStatus
    public var headers: HTTPHeaders
    /// The next part, or nil at the end; asked for on the connection's loop.
    public var next: @Sendable () -> EventLoopFuture<ByteBuffer?>
    /// Called when the connection that carried it closes.
    public var finished: (@Sendable () -> Void)?
}

/// Streams of one kind open at once, up to a limit (each /api/v1/cluster stream costs a JSON
/// a second).
final class OpenStreams: Sendable {
    let limit: Int
    private let count = Atomic<Int>(0)

    init(limit: Int) {
        self.limit = limit
    }

    /// Counts one more; false (counting none) at the limit.
    func open() -> Bool {
        guard count.add(1, ordering: .relaxed).newValue <= limit else {
            count.subtract(1, ordering: .relaxed)
            return false
        }
        return true
    }

    func close() {
        count.subtract(1, ordering: .relaxed)
    }
}

/// The node's listeners' open connections, by port name (`http`, `raft`), for /metrics.
public final class ListenerCounts: Sendable {
    private let counters = Mutex<[(port: String, count: @Sendable () -> Int)]>([])

    public func add(port: String, count: @escaping @Sendable () -> Int) {
        counters.withLock { $0.append((port, count)) }
    }

    var counts: [(port: String, count: Int)] {
        counters.withLock { $0 }.map { ($0.port, $0.count()) }
    }
}

extension HTTPFrontend {
    /// GET /metrics: the Prometheus text format, the state gauges read now.
    func metrics(requester: NodeAPI.Requester) throws -> Reply {
        guard let exporter else { throw APIError(.notFound, "this node exports no metrics") }
        let listeners = listeners, gate = api.node.admission
        return .later(api.status(by: requester).map { status in
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: MetricsExporter.contentType)
            let held = gate.held
            let load = MetricsExporter.LoadFigures(
                writesInFlight: held.writes, requestBytesInFlight: held.bytes, answerBytesWaiting: held.answerBytes,
                refusals: gate.refusalsByLimit)
            let text = exporter.exposition(status: status, connections: listeners.counts, load: load)
            return HTTPAnswer(status: .ok, headers: headers, body: ByteBuffer(bytes: text))
        })
    }

    /// GET /api/v1/cluster: every member's status as this node can get it, and this node's
    /// activity; with `Accept: text/event-stream`, the same as an event once a second.
    func cluster(_ request: Request, requester: NodeAPI.Requester) -> Reply {
        let api = api
        let current = { @Sendable () -> EventLoopFuture<ByteBuffer> in
            api.cluster(by: requester).map { members in
                let object = StatusJSON.cluster(
                    members, nodeID: api.node.options.id, activity: api.node.activity.series(), nowMs: UnixClock.milliseconds())
                return ByteBuffer(bytes: (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8))
            }
        }
        guard request.head.headers["Accept"].contains(where: { $0.contains("text/event-stream") }) else {
            return .later(current().map { .json(.ok, $0) })
        }
        let loop = api.node.eventLoop
        let streams = clusterStreams
        guard streams.open() else {
            return .now(APIError(.serviceUnavailable, "\(streams.limit) cluster streams are open on this node already", retryAfter: 5).answer)
        }
        // The first event at once (and any refusal as an answer), then one a second.
        return .stream(current().always { result in
            if case .failure = result { streams.close() }
        }.map { first in
            let pending = NIOLockedValueBox<ByteBuffer?>(first)
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "text/event-stream")
            headers.add(name: "Cache-Control", value: "no-cache")
            return HTTPStream(status: .ok, headers: headers) {
                if let first = pending.withLockedValue({ value in defer { value = nil }; return value }) {
                    // A browser that loses the stream asks again after a second, not three.
                    var event = ByteBuffer(string: "retry: 1000\n")
                    event.writeImmutableBuffer(Self.event(first))
                    return loop.makeSucceededFuture(event)
                }
                return loop.scheduleTask(in: .seconds(1)) {}.futureResult.flatMap { current() }.map { Self.event($0) }
            } finished: {
                streams.close()
            }
        })
    }

    private static func event(_ json: ByteBuffer) -> ByteBuffer {
        var event = ByteBuffer(string: "event: cluster\ndata: ")
        event.writeImmutableBuffer(json)
        event.writeString("\n\n")
        return event
    }

    /// GET /api/v1/backup: a snapshot of everything applied, taken now, streamed in the
    /// snapshot file format (its checksum at the end); `raft-cache restore` reads it.
    func backup(requester: NodeAPI.Requester) -> Reply {
        let loop = api.node.eventLoop
        return .stream(api.backup(by: requester).flatMapThrowing { snapshot in
            let file = try SnapshotFileStream(snapshot)
            let index = snapshot.metadata.lastIncludedIndex
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "application/octet-stream")
            headers.add(name: "Content-Disposition", value: "attachment; filename=\"raft-cache-\(index).backup\"")
            headers.add(name: "Content-Length", value: String(file.length))
            headers.add(name: "X-Raft-Index", value: String(index))
            return HTTPStream(status: .ok, headers: headers) {
                // Read off the loop: a part is a megabyte of the file.
                NIOThreadPool.singleton.runIfActive(eventLoop: loop) {
                    try file.next(chunkSize: 1 << 20).map { ByteBuffer(bytes: $0) }
                }
            }
        })
    }
}

extension ClusterPage {
    static let answer: HTTPAnswer = {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "text/html; charset=utf-8")
        headers.add(name: "Cache-Control", value: "no-cache")
        return HTTPAnswer(status: .ok, headers: headers, body: ByteBuffer(string: html))
    }()
}
