import ArgumentParser
import CacheStore
import RaftCore
import RaftNode
import RaftStorage
import RaftWire

/// `raft-cache recover`: one survivor's data as a one-member cluster, once the cluster has
/// lost its quorum for good.
struct RecoverCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recover",
        abstract: "Turn a survivor's data directory into a one-member cluster, after the cluster lost its quorum for good.",
        discussion: """
            For when a majority of the members is gone and will not come back: with the node \
            stopped, this rewrites its --raft-dir so that it holds everything its log held, as \
            one snapshot, in a cluster of which it is the only member. Start it as before; it \
            leads at once, and new members join it as usual. It refuses a directory that a \
            running node holds.

            What it keeps: every entry this node had, including entries it had not yet learned \
            were committed (they count as committed from now on). What may be lost: writes the \
            old cluster committed that never reached this node. Stop every other member that \
            still runs, and never start one again with its old data: empty its directory and \
            join it anew.
            """)

    @Option(help: "The survivor's data directory.")
    var raftDir: String

    @Option(help: "The survivor's id.")
    var localID = "node-1"

    @Option(help: "Its Raft address (default: the address the configuration has for --local-id).")
    var raftAddr: String?

    func validate() throws {
        if let raftAddr { try validateMember(id: localID, address: raftAddr) }
    }

    func run() throws {
        let storage: FileStorage
        do {
            storage = try FileStorage(directory: raftDir)
        } catch StorageError.locked(_, let holder) {
            throw StartupError("--raft-dir \(raftDir) is in use by a running node (\(holder)); stop it first")
        }
        defer { storage.close() }
        let state = storage.recovered
        guard state.snapshot.lastIncludedIndex > 0 || !state.entries.isEmpty else {
            throw StartupError("--raft-dir \(raftDir) holds no cluster state to recover")
        }
        // The map as of the last entry the log holds, committed or not.
        let store = CacheStore()
        if let snapshot = try storage.latestSnapshot(), snapshot.metadata.lastIncludedIndex > 0 {
            try store.restoreSnapshot(size: snapshot.size) { offset, count in try snapshot.read(offset: offset, count: count) }
        }
        var configuration = state.snapshot.configuration
        for entry in state.entries where entry.index > store.appliedIndex {
            store.apply(entry)
            if entry.type == .configuration, let changed = try? Configuration(wireBytes: entry.data) { configuration = changed }
        }
        guard let address = raftAddr ?? configuration.servers.first(where: { $0.id == localID })?.address else {
            let members = configuration.servers.map(\.id).joined(separator: ", ")
            throw StartupError("--local-id \(localID) is not in the configuration this directory holds (members: \(members)); give the survivor's id, or --raft-addr")
        }
        let last = state.entries.last.map { (index: $0.index, term: $0.term) }
            ?? (index: state.snapshot.lastIncludedIndex, term: state.snapshot.lastIncludedTerm)
        let metadata = SnapshotMetadata(
            lastIncludedIndex: last.index, lastIncludedTerm: last.term,
            configuration: Configuration(servers: [Server(id: localID, address: address)]))
        let frozen = store.frozen()
        // A term past any the old cluster reached here, voted in by this node: whatever an old
        // member still sends (a vote request, a leader's entries) is from a stale term.
        let term = max(state.hardState.term, last.term) + 1
        try storage.replaceState(snapshot: metadata, term: term, vote: localID) { write in try frozen.write(write) }

        let summary = store.summary
        let committed = max(state.hardState.commit, state.snapshot.lastIncludedIndex)
        let others = configuration.servers.filter { $0.id != localID }.map { "\($0.id) at \($0.address)" }
        print("""
            recovered \(raftDir) as a one-member cluster: \(localID) at \(address)
            kept: the whole log, through index \(last.index) (term \(last.term)): \(summary.count) keys, \
            \(summary.bytes) bytes, digest \(String(summary.digest, radix: 16))
            """)
        if last.index > committed {
            print("  entries \(committed + 1)...\(last.index) were not known to be committed; they are now (their clients may have seen an error)")
        }
        print("""
            may be lost: writes the old cluster committed after index \(last.index), if any reached the others but not this node
            removed from the configuration: \(others.isEmpty ? "none" : others.joined(separator: ", "))
            start it with:
              raft-cache --raft-dir \(raftDir) --local-id \(localID) --raft-addr \(address)
            then add new members (--leader-addr). Stop every removed member that still runs, and empty its
            directory before it joins again: never start one with its old data.
            """)
    }
}
