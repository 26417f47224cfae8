import Logging
import NIOCore
import RaftCore
import RaftTransport
import RaftWire

/// The node's side of its links to the other members: one pooled client per member (with TLS,
/// whoever answers there must show that member's certificate), and Raft's requests as calls
/// whose answers come back as messages. On the node's loop only.
final class PeerLink {
    private let loop: any EventLoop
    private let options: RPCClient.Options
    private let logger: Logger
    private var clients: [String: RPCClient] = [:]
    private var closed = false
    /// The entries last sent, encoded: followers at the same place in the log are sent the
    /// same batch, and each gets these bytes (one copy of the values, not one per follower).
    private var sharedEntries: (first: EntryID, last: EntryID, bytes: ByteBuffer)?

    /// An entry by its index and term: by Raft's log matching, two batches whose first and last
    /// entries agree in both hold the same entries.
    private struct EntryID: Equatable {
        var index: UInt64
        var term: UInt64
    }

    init(loop: any EventLoop, options: RPCClient.Options, logger: Logger) {
        self.loop = loop
        self.options = options
        self.logger = logger
    }

    /// The client for the member `peer` at `address`.
    func client(for address: String, peer: NodeID) -> RPCClient? {
        loop.preconditionInEventLoop()
        guard !closed else { return nil }
        let key = peer + "@" + address
        if let client = clients[key] { return client }
        guard let target = HostPort(address) else { return nil }
        let client = RPCClient(host: target.connectHost, port: target.port, peer: peer, options: options, group: loop, logger: logger)
        clients[key] = client
        return client
    }

    /// Sends a Raft request to `peer` at `address`; `answered` gets the response message on the
    /// loop. A lost call is not reported: Raft retries on its own.
    func call(_ body: MessageBody, to peer: NodeID, at address: String, answered: @escaping (MessageBody) -> Void) {
        guard let client = client(for: address, peer: peer), let (payload, rest) = try? encoded(body) else { return }
        let method = body.method
        let answer = NIOLoopBound(answered, eventLoop: loop)
        // AppendEntries keep their order on one connection: a follower takes them in sequence.
        client.callFuture(method.rawValue, payload: payload, sharedPayload: rest, ordered: method == .appendEntries).hop(to: loop).whenSuccess { payload in
            guard let response = (try? MessageBody.response(to: method, payload: payload)) ?? nil else { return }
            answer.value(response)
        }
    }

    /// The call's payload: an AppendEntries' fields before its entries, and the rest (the
    /// entries' shared bytes, then its fields after them); anything else whole.
    private func encoded(_ body: MessageBody) throws -> (payload: [UInt8], rest: SharedPayload?) {
        guard case .appendEntries(let request) = body, let first = request.entries.first, let last = request.entries.last else {
            return (try body.payload(), nil)
        }
        let firstID = EntryID(index: first.index, term: first.term), lastID = EntryID(index: last.index, term: last.term)
        let (before, after) = try request.wireBytesAroundEntries()
        if let shared = sharedEntries, shared.first == firstID, shared.last == lastID {
            return (before, SharedPayload(shared: shared.bytes, end: after))
        }
        var bytes = ByteBuffer()
        try AppendEntriesRequest.packEntries(request.entries) { size, pack in
            bytes.reserveCapacity(size)
            bytes.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { pack($0) }
        }
        sharedEntries = (firstID, lastID, bytes)
        return (before, SharedPayload(shared: bytes, end: after))
    }

    /// Closes every client; none is made after.
    func close() -> [RPCClient] {
        closed = true
        sharedEntries = nil
        defer { clients = [:] }
        return Array(clients.values)
    }
}
