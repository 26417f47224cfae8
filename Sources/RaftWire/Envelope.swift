// The messages of Protos/wire.proto: the envelope of every frame.

public enum FrameKind: UInt32, Sendable, CaseIterable {
    case request = 0
    case response = 1
    /// The caller gives up a call (a stream).
    case cancel = 2
}

/// gRPC's status codes. Any number decodes: a code this version does not name is
/// carried as its number.
public struct StatusCode: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public var rawValue: UInt32

    public init(rawValue: UInt32) {
        self.rawValue = rawValue
    }

    public static let ok = StatusCode(rawValue: 0)
    public static let cancelled = StatusCode(rawValue: 1)
    public static let unknown = StatusCode(rawValue: 2)
    public static let invalidArgument = StatusCode(rawValue: 3)
    public static let deadlineExceeded = StatusCode(rawValue: 4)
    public static let notFound = StatusCode(rawValue: 5)
    public static let alreadyExists = StatusCode(rawValue: 6)
    public static let permissionDenied = StatusCode(rawValue: 7)
    public static let resourceExhausted = StatusCode(rawValue: 8)
    public static let failedPrecondition = StatusCode(rawValue: 9)
    public static let aborted = StatusCode(rawValue: 10)
    public static let outOfRange = StatusCode(rawValue: 11)
    public static let unimplemented = StatusCode(rawValue: 12)
    public static let `internal` = StatusCode(rawValue: 13)
    public static let unavailable = StatusCode(rawValue: 14)
    public static let dataLoss = StatusCode(rawValue: 15)
    public static let unauthenticated = StatusCode(rawValue: 16)

    private static let names = [
        "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
        "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",
        "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
    ]

    /// gRPC's name for the code, e.g. `NOT_FOUND`; `CODE_<n>` for a number it does not name.
    public var description: String {
        rawValue < Self.names.count ? Self.names[Int(rawValue)] : "CODE_\(rawValue)"
    }
}

/// One frame's content: a call or the answer to one.
public struct Envelope: Sendable, Equatable {
    public var callID: UInt64
    public var kind: FrameKind
    public var method: String
    public var timeoutMs: UInt32
    public var status: StatusCode
    public var message: String
    public var payload: [UInt8]
    public var hops: UInt32
    /// Requests only: a bearer token (wire.proto); empty for none.
    public var authToken: String
    /// Responses of a streaming call: more follow with this call id.
    public var more: Bool
    /// Requests only: a write of a client session (nil: none).
    public var session: SessionTag?

    public init(
        callID: UInt64 = 0, kind: FrameKind = .request, method: String = "", timeoutMs: UInt32 = 0,
        status: StatusCode = .ok, message: String = "", payload: [UInt8] = [], hops: UInt32 = 0, authToken: String = "",
        more: Bool = false, session: SessionTag? = nil
    ) {
        self.callID = callID
        self.kind = kind
        self.method = method
        self.timeoutMs = timeoutMs
        self.status = status
        self.message = message
        self.payload = payload
        self.hops = hops
        self.authToken = authToken
        self.more = more
        self.session = session
    }

    /// A request frame's envelope for `method`, carrying `request`.
    public static func request(
        callID: UInt64, method: Method, _ request: some WireMessage, timeoutMs: UInt32 = 0
    ) throws -> Envelope {
        Envelope(
            callID: callID, kind: .request, method: method.rawValue, timeoutMs: timeoutMs,
            payload: try request.wireBytes())
    }

    /// A successful response to call `callID`, carrying `response`.
    public static func response(callID: UInt64, _ response: some WireMessage) throws -> Envelope {
        Envelope(callID: callID, kind: .response, payload: try response.wireBytes())
    }

    /// A failed response to call `callID`, with an optional detail for the caller.
    public static func failure(
        callID: UInt64, status: StatusCode, message: String, detail: ErrorDetail? = nil
    ) throws -> Envelope {
        Envelope(
            callID: callID, kind: .response, status: status, message: message,
            payload: try detail?.wireBytes() ?? [])
    }

    /// A failed response to call `callID` with `error`'s status, message and detail (without
    /// the detail if it cannot be encoded: the status and message still reach the caller).
    public static func failure(callID: UInt64, _ error: RPCError) -> Envelope {
        (try? failure(callID: callID, status: error.status, message: error.message, detail: error.detail))
            ?? Envelope(callID: callID, kind: .response, status: error.status, message: error.message)
    }
}

public struct ErrorDetail: Sendable, Equatable {
    public var leaderID: String
    public var leaderAddress: String
    public var retryAfterMs: UInt32
    /// A write's condition failed: the key's version then (0/0: it did not exist).
    public var currentVersion: KeyVersion?
    /// A limit refused the request: the flag that sets it ("" for none).
    public var limit: String
    /// A watch asked for changes its node's history no longer holds: the oldest `since` it can serve.
    public var oldestIndex: UInt64
    /// A session's write was refused: "expired", "acknowledged" or "full" ("" for none).
    public var session: String

    public init(
        leaderID: String = "", leaderAddress: String = "", retryAfterMs: UInt32 = 0, currentVersion: KeyVersion? = nil, limit: String = "",
        oldestIndex: UInt64 = 0, session: String = ""
    ) {
        self.leaderID = leaderID
        self.leaderAddress = leaderAddress
        self.retryAfterMs = retryAfterMs
        self.currentVersion = currentVersion
        self.limit = limit
        self.oldestIndex = oldestIndex
        self.session = session
    }
}
