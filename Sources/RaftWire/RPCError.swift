/// A call that did not succeed: a status code, a message and perhaps a detail (the leader,
/// when to retry). The same value whether the call came over the wire, from a frontend in the
/// node's own process, or failed in a client of its own (UNAVAILABLE, DEADLINE_EXCEEDED,
/// RESOURCE_EXHAUSTED).
public struct RPCError: Error, Sendable, Equatable, CustomStringConvertible {
    public var status: StatusCode
    public var message: String
    public var detail: ErrorDetail?

    public init(_ status: StatusCode, _ message: String, detail: ErrorDetail? = nil) {
        self.status = status
        self.message = message
        self.detail = detail
    }

    public var description: String { "\(status): \(message)" }
}
