import NIOCore
import RaftCore
import RaftTransport
import RaftWire

/// The binary protocol of a node: the Raft service for its peers and the KV service for
/// clients. A follower forwards writes and membership calls to the leader (once); reads
/// are served locally after a ReadIndex round, which a follower asks of the leader.
public struct RaftNodeService: RPCService {
    let node: RaftNode

    public init(node: RaftNode) {
        self.node = node
    }

    public func handle(_ call: InboundCall) async -> RPCResult {
        guard let method = Method(rawValue: call.method) else {
            return .failure(.unimplemented, "unknown method \(call.method)")
        }
        do {
            switch method {
            case .requestVote, .appendEntries, .installSnapshot, .timeoutNow, .readIndex:
                return .success(try await node.handleRaftCall(method: method, payload: call.payload).get())
            case .get:
                return try await get(GetRequest(wireBytes: call.payload))
            case .set:
                let request = try decode(SetRequest.self, call.payload)
                guard !request.key.isEmpty else { return .failure(.invalidArgument, "the key must not be empty") }
                guard request.value.count <= node.options.maxValueSize else {
                    return .failure(.resourceExhausted, "value of \(request.value.count) bytes is over the limit of \(node.options.maxValueSize) bytes")
                }
                return try await forwardingIfFollower(call) {
                    let index = try await node.propose(try Command(op: .set, key: request.key, value: request.value).wireBytes())
                    return try SetResponse(index: index).wireBytes()
                }
            case .delete:
                let request = try decode(DeleteRequest.self, call.payload)
                guard !request.key.isEmpty else { return .failure(.invalidArgument, "the key must not be empty") }
                return try await forwardingIfFollower(call) {
                    let index = try await node.propose(try Command(op: .delete, key: request.key).wireBytes())
                    return try DeleteResponse(index: index).wireBytes()
                }
            case .status:
                return .success(try await node.status().wireBytes())
            case .addVoter:
                let request = try decode(AddVoterRequest.self, call.payload)
                guard !request.id.isEmpty, RaftNode.split(request.address) != nil else {
                    return .failure(.invalidArgument, "AddVoter needs an id and a host:port address")
                }
                let change: MembershipChange = request.learner
                    ? .addLearner(id: request.id, address: request.address) : .addVoter(id: request.id, address: request.address)
                return try await forwardingIfFollower(call) { try await node.changeMembership(change).wireBytes() }
            case .removeServer:
                let request = try decode(RemoveServerRequest.self, call.payload)
                return try await forwardingIfFollower(call) { try await node.changeMembership(.remove(id: request.id)).wireBytes() }
            case .transferLeadership:
                let request = try decode(TransferLeadershipRequest.self, call.payload)
                return try await forwardingIfFollower(call) {
                    try await node.transferLeadership(to: request.targetID.isEmpty ? nil : request.targetID)
                    return try TransferLeadershipResponse(leaderID: "", term: 0).wireBytes()
                }
            }
        } catch let error as RPCError {
            return .failure(error)
        } catch let error as RaftNodeError {
            return .failure(Self.rpcError(error))
        } catch let error as WireError {
            return .failure(.invalidArgument, "\(method.rawValue): \(error)")
        } catch {
            return .failure(.internal, "\(error)")
        }
    }

    private func decode<M: WireMessage>(_ type: M.Type, _ payload: [UInt8]) throws -> M {
        try M(wireBytes: payload)
    }

    private func get(_ request: GetRequest) async throws -> RPCResult {
        do {
            switch request.consistency {
            case .linearizable:
                _ = try await node.linearizableBarrier()
            case .lease:
                _ = try await node.leaseBarrier()
            case .stale:
                break
            }
        } catch RaftNodeError.timeout {
            // Nothing was changed: the reader may simply ask again.
            throw RaftNodeError.unavailable("could not confirm with a quorum that this read is current; try again")
        }
        let age = request.consistency == .stale ? node.leaderContactAgeMs : 0
        let (value, applied) = node.store.get(request.key)
        guard let value else { return .failure(.notFound, "key not found") }
        return .success(try GetResponse(value: value, appliedIndex: applied, leaderContactAgeMs: age).wireBytes())
    }

    /// Runs `work` here, or - when this node is not the leader and the call has not been
    /// forwarded yet - sends the same call to the leader.
    private func forwardingIfFollower(_ call: InboundCall, _ work: () async throws -> [UInt8]) async throws -> RPCResult {
        do {
            return .success(try await work())
        } catch RaftNodeError.notLeader(let id, let address) where call.hops == 0 && address != nil {
            let client = try await node.loop.submit { node.client(for: address!) }.get()
            guard let client else { throw RaftNodeError.notLeader(id: id, address: address) }
            return .success(try await client.call(
                call.method, payload: call.payload, timeout: node.options.requestTimeout, hops: call.hops + 1))
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
