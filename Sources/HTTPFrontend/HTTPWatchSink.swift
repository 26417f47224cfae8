import CacheStore
import Connections
import Foundation
import NIOCore
import NIOHTTP1
import RaftNode
import RaftWire

/// A watch streamed on an HTTP connection: Server-Sent Events (`text/event-stream`, what a
/// browser's EventSource reads) or NDJSON, one message per entry. The head goes out with the
/// first message; the connection closes when the watch ends. Its unsent bytes are bounded:
/// past the bound the watcher is ended. Used on the connection's loop, the node's.
public final class HTTPWatchSink: WatchSink, @unchecked Sendable {
    public enum Format: Sendable {
        case serverSentEvents, ndjson
    }

    private let channel: any Channel
    private let format: Format
    private let version: HTTPVersion
    private let bufferLimit: Int
    /// Told of each message written: a watch that streams is not an idle connection.
    private let activity: ConnectionActivity
    private var unsent = 0
    private var headSent = false
    private var ended = false

    init(channel: any Channel, format: Format, version: HTTPVersion, bufferLimit: Int, activity: ConnectionActivity) {
        self.channel = channel
        self.format = format
        self.version = version
        self.bufferLimit = bufferLimit
        self.activity = activity
    }

    public func send(_ message: WatchMessage) -> Bool {
        guard !ended, unsent <= bufferLimit else { return false }
        sendHead()
        // Every watcher sent this message in this format writes the same bytes.
        write(message.encoded(as: format == .serverSentEvents ? "HTTP SSE" : "HTTP NDJSON") { Self.body(message, format) })
        return true
    }

    private static func body(_ message: WatchMessage, _ format: Format) -> ByteBuffer {
        var body = ByteBuffer()
        let json = Self.json(message)
        switch format {
        case .serverSentEvents:
            // The id is what a browser sends back as Last-Event-ID when it reconnects.
            body.writeString("id: \(message.index)\n")
            if message.changes.isEmpty { body.writeString("event: progress\n") }
            body.writeString("data: ")
            body.writeBytes(json)
            body.writeString("\n\n")
        case .ndjson:
            body.writeBytes(json)
            body.writeString("\n")
        }
        return body
    }

    public var hasRoom: Bool { !ended && unsent < bufferLimit / 2 }

    public func end(_ error: RPCError?) {
        guard !ended else { return }
        ended = true
        guard headSent else {
            // Nothing streamed yet: an ordinary answer.
            let answer = (error.map { APIError($0) } ?? APIError(.serviceUnavailable, "the watch ended")).answer
            for part in answer.parts(version: version, keepAlive: false) { channel.write(part, promise: nil) }
            return close()
        }
        if let error {
            let reason = (try? JSONSerialization.data(withJSONObject: [
                "message": error.message, "status": "\(error.status)", "oldest_index": error.detail?.oldestIndex ?? 0,
            ], options: [.sortedKeys])) ?? Data("{}".utf8)
            var body = ByteBuffer()
            if format == .serverSentEvents { body.writeString("event: end\ndata: ") } else { body.writeString("{\"end\":") }
            body.writeBytes(reason)
            body.writeString(format == .serverSentEvents ? "\n\n" : "}\n")
            write(body)
        }
        close()
    }

    private func sendHead() {
        guard !headSent else { return }
        headSent = true
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: format == .serverSentEvents ? "text/event-stream" : "application/x-ndjson")
        headers.add(name: "Cache-Control", value: "no-cache")
        headers.add(name: "Connection", value: "close")
        // No Content-Length: the body goes out chunked, a message at a time.
        channel.write(HTTPServerResponsePart.head(HTTPResponseHead(version: version, status: .ok, headers: headers)), promise: nil)
    }

    private func write(_ body: ByteBuffer) {
        let size = body.readableBytes
        unsent += size
        channel.writeAndFlush(HTTPServerResponsePart.body(.byteBuffer(body))).whenComplete { [self] result in
            unsent -= size
            if case .success = result { activity.progressed() }
        }
    }

    private func close() {
        let channel = channel
        channel.writeAndFlush(HTTPServerResponsePart.end(nil)).whenComplete { _ in channel.close(promise: nil) }
    }

    /// {"index": N, "events": [{"kind", "key", "value", "mod_index"}, ...]}; a key or value that
    /// is not UTF-8 as `key_base64` / `value_base64`.
    static func json(_ message: WatchMessage) -> Data {
        let events: [[String: Any]] = message.changes.map { change in
            var event: [String: Any] = ["kind": change.kind.name, "mod_index": change.modIndex]
            TxnJSON.put(change.key, as: "key", in: &event)
            if change.kind == .set && !message.keysOnly { TxnJSON.put(change.value.bytes, as: "value", in: &event) }
            return event
        }
        return (try? JSONSerialization.data(withJSONObject: ["index": message.index, "events": events], options: [.sortedKeys]))
            ?? Data("{}".utf8)
    }
}
