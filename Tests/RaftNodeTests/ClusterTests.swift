import CacheStore
import Foundation
import Logging
import NIOCore
import RaftCore
import RaftNode
import RaftStorage
import RaftTransport
import RaftWire
import Synchronization
import Testing

private let quietLogger: Logger = {
    var logger = Logger(label: "node-test")
    logger.logLevel = .critical
    return logger
}()

/// Answers with the node once it exists (servers start before their nodes, to learn ports).
private final class ServiceSlot: RPCService {
    let node = Mutex<RaftNode?>(nil)

    func handle(_ call: InboundCall) async -> RPCResult {
        guard let node = node.withLock({ $0 }) else { return .failure(.unavailable, "starting") }
        return await RaftNodeService(api: NodeAPI(node: node)).handle(call)
    }
}

/// A node of an in-process cluster: its listener, storage directory and node.
private final class TestMember {
    let id: NodeID
    let directory: String
    let slot = ServiceSlot()
    var server: RPCServer!
    var node: RaftNode?
    var storage: FileStorage?
    var port = 0

    init(id: NodeID) {
        self.id = id
        directory = NSTemporaryDirectory() + "raft-node-test-\(id)-" + UUID().uuidString
    }

    var address: String { "127.0.0.1:\(port)" }

    func listen() async throws {
        server = try await RPCServer.start(host: "127.0.0.1", port: port, service: slot, logger: quietLogger)
        port = server.localAddress!.port!
    }

    var snapshotEntries: UInt64 = 10_000

    func start(bootstrap servers: [Server]?) throws {
        let storage = try FileStorage(directory: directory)
        if let servers, storage.recovered.entries.isEmpty, storage.recovered.snapshot.lastIncludedIndex == 0 {
            let initial = RaftCore.bootstrapState(servers: servers)
            try storage.persist(StorageUpdate(hardState: initial.hardState, entries: initial.entries))
            storage.close()
            return try start(bootstrap: nil)
        }
        let node = RaftNode(
            options: .init(
                id: id, address: address, tickInterval: .milliseconds(50), snapshotEntries: snapshotEntries,
                snapshotChunkSize: 1_000, client: .init(timeout: .milliseconds(500)),
                // Election timeouts from the id: a run replays the same way.
                randomSeed: id.utf8.reduce(0) { $0 &* 31 &+ UInt64($1) }),
            storage: storage, store: CacheStore(), logger: quietLogger)
        try node.restoreStore()
        self.storage = storage
        self.node = node
        slot.node.withLock { $0 = node }
        node.start()
    }

    func stop() async throws {
        slot.node.withLock { $0 = nil }
        await node?.stop()
        node = nil
        storage?.close()
        storage = nil
        try await server.close()
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: directory)
    }
}

private func client(_ member: TestMember) -> RPCClient {
    RPCClient(host: "127.0.0.1", port: member.port, options: .init(timeout: .seconds(3)), logger: quietLogger)
}

/// Polls until `condition` holds, failing after `seconds`.
private func eventually(within seconds: Double, _ what: String, _ condition: () async -> Bool) async throws {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1_000))
    while ContinuousClock.now < deadline {
        if await condition() { return }
        try await Task.sleep(for: .milliseconds(20))
    }
    Issue.record("timed out waiting for \(what)")
    throw RPCError(.deadlineExceeded, "timed out waiting for \(what)")
}

private func leader(of members: [TestMember]) async -> TestMember? {
    for member in members {
        if let node = member.node, let status = try? await node.status().get(), status.role == .leader { return member }
    }
    return nil
}

/// A value large enough that 40 of them take several 1,000-byte snapshot chunks.
private func padded(_ text: String) -> [UInt8] {
    Array(text.utf8) + Array(repeating: UInt8(ascii: "x"), count: 100)
}

@Suite("A cluster of nodes on loopback", .serialized)
struct ClusterTests {
    @Test("writes and reads through every node, failover, and a restarted node catching up")
    func cluster() async throws {
        let members = ["n1", "n2", "n3"].map(TestMember.init)
        defer { members.forEach { $0.remove() } }
        for member in members { try await member.listen() }
        let servers = members.map { Server(id: $0.id, address: $0.address) }
        for member in members { try member.start(bootstrap: servers) }

        try await eventually(within: 15, "a leader") { await leader(of: members) != nil }

        // Every node takes writes (followers forward them) and serves linearizable reads.
        for (i, member) in members.enumerated() {
            let c = client(member)
            let set: SetResponse = try await c.call(.set, SetRequest(key: Array("k\(i)".utf8), value: Array("v\(i)".utf8)))
            #expect(set.index > 0)
            for reader in members {
                let r = client(reader)
                let got: GetResponse = try await r.call(.get, GetRequest(key: Array("k\(i)".utf8)))
                #expect(got.value == Array("v\(i)".utf8))
                await r.close()
            }
            await c.close()
        }
        let c2 = client(members[1])
        let _: DeleteResponse = try await c2.call(.delete, DeleteRequest(key: Array("k0".utf8)))
        await #expect(throws: RPCError.self) {
            let _: GetResponse = try await c2.call(.get, GetRequest(key: Array("k0".utf8)))
        }
        await c2.close()

        // The leader goes away: another takes over and writes go on.
        let old = try #require(await leader(of: members))
        try await old.stop()
        let rest = members.filter { $0 !== old }
        let stopped = ContinuousClock.now
        try await eventually(within: 15, "a new leader") { await leader(of: rest) != nil }
        let c = client(rest[0])
        var written = false
        while !written && ContinuousClock.now - stopped < .seconds(15) {
            written = (try? await c.call(.set, SetRequest(key: Array("after".utf8), value: Array("failover".utf8))) as SetResponse) != nil
        }
        #expect(written)
        await c.close()

        // It comes back from its directory and catches up.
        try await old.listen()
        try old.start(bootstrap: nil)
        let back = client(old)
        try await eventually(within: 15, "the restarted node to catch up") {
            let got = try? await back.call(.get, GetRequest(key: Array("after".utf8)), as: GetResponse.self)
            return got?.value == Array("failover".utf8)
        }
        let status = try await old.node!.status().get()
        #expect(status.members.count == 3)
        await back.close()
        for member in members where member.node != nil { try await member.stop() }
    }

    @Test("snapshots: the log is compacted, a new member catches up from a snapshot in chunks, a restart loads it")
    func snapshots() async throws {
        let members = ["n1", "n2", "n3"].map(TestMember.init)
        let newcomer = TestMember(id: "n4")
        defer { (members + [newcomer]).forEach { $0.remove() } }
        for member in members + [newcomer] {
            member.snapshotEntries = 50
            try await member.listen()
        }
        let servers = members.map { Server(id: $0.id, address: $0.address) }
        for member in members { try member.start(bootstrap: servers) }
        try await eventually(within: 15, "a leader") { await leader(of: members) != nil }
        let leaderMember = try #require(await leader(of: members))
        let c = client(leaderMember)
        for i in 0..<300 {
            let _: SetResponse = try await c.call(.set, SetRequest(key: Array("k\(i % 40)".utf8), value: padded("v\(i)")))
        }
        try await eventually(within: 15, "a snapshot and a compacted log on the leader") {
            ((try? await leaderMember.node!.status().get())?.snapshotIndex ?? 0) > 0
        }

        // A fresh server joins; the log it needs is gone, so it gets the snapshot.
        try newcomer.start(bootstrap: nil)
        let _: MembershipResponse = try await c.call(.addVoter, AddVoterRequest(id: "n4", address: newcomer.address))
        let n4 = client(newcomer)
        try await eventually(within: 15, "the newcomer to catch up") {
            let got = try? await n4.call(.get, GetRequest(key: Array("k19".utf8), consistency: .stale), as: GetResponse.self)
            return got?.value == padded("v299")
        }
        #expect(try await newcomer.node!.status().get().snapshotIndex > 0)
        await n4.close()

        // It restarts from its directory: the snapshot and the log after it.
        try await newcomer.stop()
        try await newcomer.listen()
        try newcomer.start(bootstrap: nil)
        let again = client(newcomer)
        for i in 260..<300 {
            let got: GetResponse = try await again.call(.get, GetRequest(key: Array("k\(i % 40)".utf8), consistency: .stale))
            #expect(got.value == padded("v\(i)"))
        }
        await again.close()
        await c.close()
        for member in members + [newcomer] where member.node != nil { try await member.stop() }
    }
}
