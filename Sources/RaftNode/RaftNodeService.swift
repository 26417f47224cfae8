import NIOCore
import RaftCore
import RaftTransport
import RaftWire

/// The binary protocol of a node: the Raft service for its peers and the KV service for
/// clients. A follower forwards writes and membership calls to the leader (once); reads
/// are served locally after a ReadIndex round, which a follower asks of the leader.
/// Raft calls, reads and writes are answered with futures on event loops, not tasks: on
/// the node's own loop they never change threads.
///
/// Each call is authorized first (`AccessPolicy`): Raft's messages need a peer (whose
/// certificate must name the sender the message claims), membership and transfers an admin,
/// writes a writer, reads and status a reader.
public struct RaftNodeService: RPCService {
    let node: RaftNode
    let access: AccessPolicy

    public init(node: RaftNode, access: AccessPolicy = AccessPolicy(tls: false, tokens: nil)) {
        self.node = node
        self.access = access
    }

    /// The role a method needs.
    public static func role(for method: Method) -> AccessRole {
        switch method {
        case .requestVote, .appendEntries, .installSnapshot, .timeoutNow, .readIndex: .peer
        case .addVoter, .removeServer, .transferLeadership: .admin
        case .set, .delete: .write
        case .get, .status: .read
        }
    }

    public func handle(_ call: InboundCall) async -> RPCResult {
        do {
            return try await respond(to: call, on: node.loop).get()
        } catch {
            return .failure(.internal, "\(error)")
        }
    }

    public func respond(to call: InboundCall, on loop: any EventLoop) -> EventLoopFuture<RPCResult> {
        guard let method = Method(rawValue: call.method) else {
            return loop.makeSucceededFuture(.failure(.unimplemented, "unknown method \(call.method)"))
        }
        let caller: Caller
        switch access.authorize(Self.role(for: method), certificate: call.caller, token: call.token) {
        case .success(let allowed): caller = allowed
        case .failure(let denied): return loop.makeSucceededFuture(.failure(Self.rpcError(denied)))
        }
        let answer: EventLoopFuture<[UInt8]>
        do {
            switch method {
            case .requestVote, .appendEntries, .installSnapshot, .timeoutNow, .readIndex:
                // With TLS a peer speaks for itself only.
                answer = node.handleRaftCall(
                    method: method, payload: call.payload, sender: call.caller == nil ? nil : caller.name)
            case .get:
                return get(try GetRequest(wireBytes: call.payload), on: loop)
            case .set:
                let request = try SetRequest(wireBytes: call.payload)
                guard !request.key.isEmpty else { return loop.makeSucceededFuture(.failure(.invalidArgument, "the key must not be empty")) }
                guard request.value.count <= node.options.maxValueSize else {
                    return loop.makeSucceededFuture(.failure(
                        .resourceExhausted, "value of \(request.value.count) bytes is over the limit of \(node.options.maxValueSize) bytes"))
                }
                let command = try Command(op: .set, key: request.key, value: request.value).wireBytes()
                answer = forwardingIfFollower(call, on: loop) {
                    node.proposeCommand(command).flatMapThrowing { try SetResponse(index: $0).wireBytes() }
                }
            case .delete:
                let request = try DeleteRequest(wireBytes: call.payload)
                guard !request.key.isEmpty else { return loop.makeSucceededFuture(.failure(.invalidArgument, "the key must not be empty")) }
                let command = try Command(op: .delete, key: request.key).wireBytes()
                answer = forwardingIfFollower(call, on: loop) {
                    node.proposeCommand(command).flatMapThrowing { try DeleteResponse(index: $0).wireBytes() }
                }
            case .status:
                answer = loop.makeFutureWithTask { try await node.status().wireBytes() }
            case .addVoter:
                let request = try AddVoterRequest(wireBytes: call.payload)
                if let problem = RaftNode.membershipProblem(id: request.id, address: request.address) {
                    return loop.makeSucceededFuture(.failure(.invalidArgument, "AddVoter: \(problem)"))
                }
                let change: MembershipChange = request.learner
                    ? .addLearner(id: request.id, address: request.address) : .addVoter(id: request.id, address: request.address)
                answer = forwardingIfFollower(call, on: loop) {
                    loop.makeFutureWithTask { try await node.changeMembership(change).wireBytes() }
                }
            case .removeServer:
                let request = try RemoveServerRequest(wireBytes: call.payload)
                answer = forwardingIfFollower(call, on: loop) {
                    loop.makeFutureWithTask { try await node.changeMembership(.remove(id: request.id)).wireBytes() }
                }
            case .transferLeadership:
                let request = try TransferLeadershipRequest(wireBytes: call.payload)
                answer = forwardingIfFollower(call, on: loop) {
                    loop.makeFutureWithTask {
                        try await node.transferLeadership(to: request.targetID.isEmpty ? nil : request.targetID)
                        return try TransferLeadershipResponse(leaderID: "", term: 0).wireBytes()
                    }
                }
            }
        } catch {
            return loop.makeSucceededFuture(Self.result(of: error, method: method))
        }
        return answer.map { RPCResult.success($0) }.recover { Self.result(of: $0, method: method) }
    }

    /// The answer a failed call gets.
    private static func result(of error: any Error, method: Method) -> RPCResult {
        switch error {
        case let error as RPCError: .failure(error)
        case let error as RaftNodeError: .failure(rpcError(error))
        case let error as WireError: .failure(.invalidArgument, "\(method.rawValue): \(error)")
        default: .failure(.internal, "\(error)")
        }
    }

    private func get(_ request: GetRequest, on loop: any EventLoop) -> EventLoopFuture<RPCResult> {
        let answer = { @Sendable (read: RaftNode.ReadResult) -> RPCResult in
            guard let value = read.value else { return .failure(.notFound, "key not found") }
            do {
                return .success(try GetResponse(
                    value: value.bytes, appliedIndex: read.appliedIndex, leaderContactAgeMs: read.leaderContactAgeMs).wireBytes())
            } catch {
                return Self.result(of: error, method: .get)
            }
        }
        // A stale read needs nothing of the node's loop.
        if request.consistency == .stale { return loop.makeSucceededFuture(answer(node.staleRead(request.key))) }
        return node.read(request.key, consistency: request.consistency).map(answer).recover { Self.result(of: $0, method: .get) }
    }

    /// Runs `work` here, or - when this node is not the leader and the call has not been
    /// forwarded yet - sends the same call to the leader.
    private func forwardingIfFollower(
        _ call: InboundCall, on loop: any EventLoop, _ work: () -> EventLoopFuture<[UInt8]>
    ) -> EventLoopFuture<[UInt8]> {
        work().flatMapError { [node] error in
            guard case RaftNodeError.notLeader(let id, let address?) = error, call.hops == 0 else {
                return loop.makeFailedFuture(error)
            }
            return node.onLoop { node.loop.makeSucceededFuture(id.flatMap { node.client(for: address, peer: $0) }) }.flatMap { client in
                guard let client else { return loop.makeFailedFuture(RaftNodeError.notLeader(id: id, address: address)) }
                return client.callFuture(
                    call.method, payload: call.payload, timeout: node.options.requestTimeout, hops: call.hops + 1,
                    token: call.token)
            }
        }
    }

    public static func rpcError(_ denied: AccessDenied) -> RPCError {
        switch denied {
        case .unauthenticated(let why): RPCError(.unauthenticated, why)
        case .permissionDenied(let why): RPCError(.permissionDenied, why)
        }
    }

    public static func rpcError(_ error: RaftNodeError) -> RPCError {
        switch error {
        case .noLeader:
            return RPCError(.unavailable, error.description, detail: ErrorDetail(retryAfterMs: 200))
        case .notLeader(let id, let address):
            return RPCError(.unavailable, error.description, detail: ErrorDetail(leaderID: id ?? "", leaderAddress: address ?? "", retryAfterMs: 100))
        case .timeout:
            return RPCError(.deadlineExceeded, error.description)
        case .shuttingDown:
            return RPCError(.unavailable, error.description, detail: ErrorDetail(retryAfterMs: 500))
        case .lost:
            return RPCError(.aborted, error.description)
        case .unavailable(let reason):
            return RPCError(.unavailable, reason, detail: ErrorDetail(retryAfterMs: 500))
        case .invalid(let reason):
            return RPCError(.invalidArgument, reason)
        case .rejected(let reason):
            return RPCError(.failedPrecondition, reason)
        case .unexpected(let reason):
            return RPCError(.internal, reason)
        case .failed(let reason):
            return RPCError(.unavailable, reason)
        }
    }
}
