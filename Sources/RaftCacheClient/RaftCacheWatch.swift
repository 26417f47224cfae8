import RaftWire

/// The changes a watch streams (`RaftCacheClient.watch`): one `WatchResponse` per log entry
/// that changed a watched key, in commit order, and progress notes (no events) that say every
/// change up to their index was sent. Stopping the iteration cancels the watch.
public struct RaftCacheWatch: AsyncSequence, Sendable {
    public typealias Element = WatchResponse

    let payloads: AsyncThrowingStream<[UInt8], any Error>

    public struct AsyncIterator: AsyncIteratorProtocol {
        var payloads: AsyncThrowingStream<[UInt8], any Error>.AsyncIterator

        public mutating func next() async throws -> WatchResponse? {
            guard let payload = try await payloads.next() else { return nil }
            do {
                return try WatchResponse(wireBytes: payload)
            } catch {
                throw RPCError(.internal, "a watch response does not decode: \(error)")
            }
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(payloads: payloads.makeAsyncIterator())
    }
}
