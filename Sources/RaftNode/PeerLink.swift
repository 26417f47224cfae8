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
        guard let client = client(for: address, peer: peer), let payload = try? body.payload() else { return }
        let method = body.method
        let answer = NIOLoopBound(answered, eventLoop: loop)
        // AppendEntries keep their order on one connection: a follower takes them in sequence.
        client.callFuture(method.rawValue, payload: payload, ordered: method == .appendEntries).hop(to: loop).whenSuccess { payload in
            guard let response = (try? MessageBody.response(to: method, payload: payload)) ?? nil else { return }
            answer.value(response)
        }
    }

    /// Closes every client; none is made after.
    func close() -> [RPCClient] {
        closed = true
        defer { clients = [:] }
        return Array(clients.values)
    }
}
