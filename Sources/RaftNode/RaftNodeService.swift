import Connections
import NIOCore
import NIOPosix
import RaftStorage
import RaftTransport
import RaftWire

/// The binary protocol of a node, a codec over `NodeAPI`: the Raft service for its peers and
/// the KV service for clients. It decodes a call's request, asks the API (which authorizes,
/// validates and forwards) and encodes the answer; a failure goes back as its status code,
/// message and detail. Answers are futures on event loops, not tasks: on the node's own loop
/// they never change threads.
public struct RaftNodeService: RPCService {
    let api: NodeAPI

    public init(api: NodeAPI) {
        self.api = api
    }

    public func handle(_ call: InboundCall) async -> RPCResult {
        do {
            return try await respond(to: call, on: api.node.eventLoop).get()
        } catch {
            return .failure(.internal, "\(error)")
        }
    }

    public func respond(to call: InboundCall, on loop: any EventLoop) -> EventLoopFuture<RPCResult> {
        guard let method = Method(rawValue: call.method) else {
            return loop.makeSucceededFuture(.failure(.unimplemented, "unknown method \(call.method)"))
        }
        // Reads and writes of keys count against the node's bounds; Raft's own calls, the
        // status and the operator's calls answer whatever the load.
        guard method.isClientWrite || method == .get else { return answer(call, method: method, on: loop) }
        // What a client's call holds counts against the node's bounds until it is answered.
        let gate = api.node.admission, bytes = call.payload.count, isWrite = method.isClientWrite
        if let refusal = gate.admit(bytes: bytes, isWrite: isWrite) { return loop.makeSucceededFuture(.failure(refusal)) }
        return answer(call, method: method, on: loop) { gate.release(bytes: bytes, isWrite: isWrite) }
    }

    /// The call's answer; `answered` runs once it is known, before it is handed on.
    private func answer(
        _ call: InboundCall, method: Method, on loop: any EventLoop, answered: (@Sendable () -> Void)? = nil
    ) -> EventLoopFuture<RPCResult> {
        let pending: Pending
        do {
            pending = try self.pending(call, method: method)
        } catch {
            pending = .now(Self.result(of: error, method: method))
        }
        switch pending {
        case .now(let result):
            answered?()
            return loop.makeSucceededFuture(result)
        case .later(let answer):
            // One promise, not a map and a recover: every client call passes here.
            let result = loop.makePromise(of: RPCResult.self)
            answer.whenComplete { outcome in
                answered?()
                switch outcome {
                case .success(let payload): result.succeed(.success(payload))
                case .failure(let error): result.succeed(Self.result(of: error, method: method))
                }
            }
            return result.futureResult
        }
    }

    /// A call's answer: known at once, or the payload of one to come.
    private enum Pending {
        case now(RPCResult)
        case later(EventLoopFuture<[UInt8]>)
    }

    /// What `call` is answered with; throws when its request does not decode.
    private func pending(_ call: InboundCall, method: Method) throws -> Pending {
        let requester = NodeAPI.Requester(certificate: call.caller, token: call.token, hops: call.hops, session: call.session)
        let answer: EventLoopFuture<[UInt8]>
        switch method {
        case .requestVote, .appendEntries, .installSnapshot, .timeoutNow, .readIndex:
            answer = api.raftCall(method, payload: call.payload, by: requester)
        case .get:
            let request = try GetRequest(wireBytes: call.payload)
            if request.consistency == .stale {
                switch api.staleRead(key: request.key, by: requester) {
                case .now(let read): return .now(Self.result(of: read.flatMap(Self.encode)))
                case .later(let read): answer = read.flatMapResult { $0.flatMap(Self.encode) }
                }
            } else {
                answer = api.read(key: request.key, consistency: request.consistency, by: requester).flatMapResult(Self.encode)
            }
        case .set:
            let request = try SetRequest(wireBytes: call.payload)
            answer = api.set(key: request.key, value: request.value, condition: request.condition, ttlMs: request.ttlMs, by: requester)
                .flatMapThrowing { try SetResponse(index: $0).wireBytes() }
        case .delete:
            let request = try DeleteRequest(wireBytes: call.payload)
            answer = api.delete(key: request.key, condition: request.condition, by: requester).flatMapThrowing { try DeleteResponse(index: $0).wireBytes() }
        case .incr:
            let request = try IncrRequest(wireBytes: call.payload)
            answer = api.incr(key: request.key, amount: request.by, by: requester).flatMapThrowing { try $0.wireBytes() }
        case .setTTL:
            let request = try SetTTLRequest(wireBytes: call.payload)
            answer = api.setTTL(key: request.key, ttlMs: request.ttlMs, by: requester).flatMapThrowing { try SetTTLResponse(index: $0).wireBytes() }
        case .txn:
            answer = api.txn(try TxnRequest(wireBytes: call.payload), by: requester).flatMapThrowing { try $0.wireBytes() }
        case .batch:
            answer = api.batch(try BatchRequest(wireBytes: call.payload), by: requester).flatMapThrowing { try $0.wireBytes() }
        case .openSession:
            _ = try OpenSessionRequest(wireBytes: call.payload)
            answer = api.openSession(by: requester).flatMapThrowing { try $0.wireBytes() }
        case .snapshot:
            _ = try SnapshotRequest(wireBytes: call.payload)
            answer = api.snapshot(by: requester).flatMapThrowing { try $0.wireBytes() }
        case .watch, .backup:
            // Served by `stream(_:to:)`; the server sends streaming methods there.
            return .now(.failure(.internal, "\(method.rawValue) streams"))
        case .status:
            _ = try StatusRequest(wireBytes: call.payload)
            answer = api.status(by: requester).flatMapThrowing { try $0.wireBytes() }
        case .addVoter:
            let request = try AddVoterRequest(wireBytes: call.payload)
            answer = api.addServer(id: request.id, address: request.address, learner: request.learner, by: requester)
                .flatMapThrowing { try $0.wireBytes() }
        case .removeServer:
            let request = try RemoveServerRequest(wireBytes: call.payload)
            answer = api.removeServer(id: request.id, by: requester).flatMapThrowing { try $0.wireBytes() }
        case .transferLeadership:
            let request = try TransferLeadershipRequest(wireBytes: call.payload)
            answer = api.transferLeadership(to: request.targetID.isEmpty ? nil : request.targetID, by: requester)
                .flatMapThrowing { try TransferLeadershipResponse(leaderID: "", term: 0).wireBytes() }
        }
        return .later(answer)
    }

    public func stream(_ call: InboundCall, to stream: ResponseStream) {
        if call.method == Method.backup.rawValue { return backup(call, to: stream) }
        watch(call, to: stream)
    }

    /// A watch: its changes as WatchResponses on the call's stream until the caller cancels,
    /// falls behind, or the node stops.
    private func watch(_ call: InboundCall, to stream: ResponseStream) {
        let request: WatchRequest
        do {
            request = try WatchRequest(wireBytes: call.payload)
        } catch {
            return stream.finish(RPCError(.invalidArgument, "\(call.method): \(error)"))
        }
        let sink = BinaryWatchSink(stream)
        let requester = NodeAPI.Requester(certificate: call.caller, token: call.token, hops: call.hops, session: call.session)
        api.watch(request, to: sink, by: requester).hop(to: stream.loop).whenComplete { result in
            switch result {
            case .success(let handle):
                // The node ends the watch on its loop, where the handle lives.
                let loop = api.node.eventLoop
                stream.onCancel = { loop.execute { handle.cancel() } }
            case .failure(let error):
                stream.finish(error as? RPCError ?? RPCError(.internal, "\(error)"))
            }
        }
    }

    /// A backup: a snapshot taken now, as the bytes of a snapshot file in BackupChunks, each
    /// sent once the one before it is written (a slow reader holds one part).
    private func backup(_ call: InboundCall, to stream: ResponseStream) {
        do {
            _ = try BackupRequest(wireBytes: call.payload)
        } catch {
            return stream.finish(RPCError(.invalidArgument, "\(call.method): \(error)"))
        }
        let requester = NodeAPI.Requester(certificate: call.caller, token: call.token, hops: call.hops, session: call.session)
        api.backup(by: requester).hop(to: stream.loop).whenComplete { result in
            switch result {
            case .success(let snapshot):
                do {
                    Self.send(try SnapshotFileStream(snapshot), to: stream)
                } catch {
                    stream.finish(RPCError(.internal, "cannot read the snapshot: \(error)"))
                }
            case .failure(let error):
                stream.finish(error as? RPCError ?? RPCError(.internal, "\(error)"))
            }
        }
    }

    /// Backup parts are this big: well within a frame, and a few of them a second on a slow link.
    static let backupPartSize = 256 << 10

    private static func send(_ file: SnapshotFileStream, to stream: ResponseStream) {
        // Read off the loop; sent on it.
        NIOThreadPool.singleton.runIfActive(eventLoop: stream.loop) {
            try file.next(chunkSize: backupPartSize).map { try BackupChunk(data: $0).wireBytes() }
        }.whenComplete { result in
            switch result {
            case .success(let part?):
                stream.sendPaced(part)?.whenSuccess { send(file, to: stream) }
            case .success(nil):
                stream.finish(nil)
            case .failure(let error):
                stream.finish(RPCError(.internal, "cannot read the backup: \(error)"))
            }
        }
    }

    private static func encode(_ read: NodeAPI.Read) -> Result<[UInt8], RPCError> {
        Result {
            try GetResponse(
                value: read.value.bytes, appliedIndex: read.appliedIndex, leaderContactAgeMs: read.leaderContactAgeMs,
                createIndex: read.value.version.createIndex, modIndex: read.value.version.modIndex, ttlMs: read.ttlMs
            ).wireBytes()
        }.mapError { RPCError(.internal, "\($0)") }
    }

    private static func result(of answer: Result<[UInt8], RPCError>) -> RPCResult {
        switch answer {
        case .success(let payload): .success(payload)
        case .failure(let error): .failure(error)
        }
    }

    /// The answer a failed call gets: the API's error as it is; a request that does not decode
    /// is the caller's mistake.
    private static func result(of error: any Error, method: Method) -> RPCResult {
        switch error {
        case let error as RPCError: .failure(error)
        case let error as WireError: .failure(.invalidArgument, "\(method.rawValue): \(error)")
        default: .failure(.internal, "\(error)")
        }
    }
}
