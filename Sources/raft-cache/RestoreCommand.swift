import ArgumentParser
import CacheStore
import Foundation
import RaftCore
import RaftNode
import RaftStorage
import RaftWire

/// `raft-cache restore`: a data directory that founds a new cluster holding a backup's data.
struct RestoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Prepare a data directory that founds a new cluster holding exactly a backup's data.",
        discussion: """
            Reads a backup (GET /api/v1/backup, or raft-cache ctl backup), checks its checksum \
            and every pair, and writes it into --raft-dir, which must be empty or missing, as a \
            snapshot at the backup's index whose cluster is this one node. Start the node on \
            that directory with the same --local-id and --raft-addr; it leads at once, and \
            others join it as usual. Keys keep their versions; keys whose time to live passed \
            meanwhile expire as soon as the node runs.

            Example: raft-cache restore --from raft-cache-1234.backup --raft-dir data-1 --local-id node-1
            """)

    @Option(help: "The backup file.")
    var from: String

    @Option(help: "The data directory to prepare (empty or missing).")
    var raftDir: String

    @Option(help: "The id of the node that will start on it.")
    var localID = "node-1"

    @Option(help: "That node's Raft address (its --raft-addr).")
    var raftAddr = "localhost:8081"

    func validate() throws {
        try validateMember(id: localID, address: raftAddr)
    }

    func run() throws {
        let backup: FileSnapshot
        do {
            backup = try FileSnapshot.verified(path: from)
        } catch {
            throw StartupError("\(from) is not a backup that can be restored: \(error)")
        }
        let store = CacheStore()
        do {
            try store.restoreSnapshot(size: backup.size) { offset, count in try backup.read(offset: offset, count: count) }
        } catch {
            throw StartupError("\(from) holds a damaged map: \(error)")
        }
        var metadata = backup.metadata
        guard store.appliedIndex == metadata.lastIncludedIndex else {
            throw StartupError("\(from) is not consistent: its map is at index \(store.appliedIndex), its metadata says \(metadata.lastIncludedIndex)")
        }
        try DataDirectoryCheck.requireEmpty(raftDir)
        metadata.configuration = Configuration(servers: [Server(id: localID, address: raftAddr)])
        try FileStorage.prepareDirectory(at: raftDir) { storage in
            try storage.replaceState(snapshot: metadata, term: metadata.lastIncludedTerm) { write in try backup.forEachChunk(write) }
        }
        let summary = store.summary
        print("""
            restored \(from) into \(raftDir): \(summary.count) keys, \(summary.bytes) bytes, digest \(String(summary.digest, radix: 16)), \
            at index \(metadata.lastIncludedIndex)
            its cluster is one node, \(localID) at \(raftAddr). Start it with:
              raft-cache --raft-dir \(raftDir) --local-id \(localID) --raft-addr \(raftAddr)
            """)
    }
}

enum DataDirectoryCheck {
    /// Restore writes only a directory that is missing or has nothing in it.
    static func requireEmpty(_ path: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return }
        guard isDirectory.boolValue, let entries = try? FileManager.default.contentsOfDirectory(atPath: path) else {
            throw StartupError("--raft-dir \(path) is not a directory this user can read")
        }
        guard entries.isEmpty else {
            throw StartupError("--raft-dir \(path) is not empty; restore prepares a new directory (move the old one away first)")
        }
    }
}
