import CacheStore
import RaftTransport
import RaftWire

/// A watch streamed as WatchResponses on a binary call (one per entry, or a progress note).
final class BinaryWatchSink: WatchSink {
    private let stream: ResponseStream

    init(_ stream: ResponseStream) {
        self.stream = stream
    }

    func send(_ message: WatchMessage) -> Bool {
        let payload = message.encoded(as: "WatchResponse") { () -> [UInt8]? in
            let events = message.changes.map { change in
                WatchEvent(
                    kind: change.kind, key: change.key,
                    value: change.kind == .set && !message.keysOnly ? change.value.bytes : [], modIndex: change.modIndex)
            }
            return try? WatchResponse(index: message.index, events: events).wireBytes()
        }
        guard let payload else { return false }
        return stream.send(payload)
    }

    var hasRoom: Bool { stream.hasRoom }

    func end(_ error: RPCError?) {
        stream.finish(error)
    }
}
