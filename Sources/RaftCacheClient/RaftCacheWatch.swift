import RaftWire

/// The changes a watch streams (`RaftCacheClient.watch`): one `WatchResponse` per log entry
/// that changed a watched key, in commit order, and progress notes (no events) that say every
/// change up to their index was sent. The call starts when iteration does; stopping the
/// iteration (or cancelling its task) cancels it.
public struct RaftCacheWatch: AsyncSequence, Sendable {
    public typealias Element = WatchResponse

    let start: @Sendable () -> AsyncThrowingStream<[UInt8], any Error>

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
        AsyncIterator(payloads: start().makeAsyncIterator())
    }
}
