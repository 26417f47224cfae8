import ArgumentParser

/// The raft-cache node. The flags are those of the original program, with its defaults.
@main
struct RaftCacheCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "raft-cache",
        abstract: "A strongly consistent, in-memory key-value cache replicated with Raft.",
        discussion: """
            Starts one node. Without --leader-addr it bootstraps a one-node cluster when its \
            data directory is empty; with --leader-addr it asks the member at \
            --leader-api-endpoint to add it.

            This build has the wire protocol only; the node itself is not assembled yet, \
            so running it prints this help.
            """)

    @Option(help: "This node's id.")
    var localID = "node-1"

    @Option(help: "Raft (binary protocol) address to bind and advertise.")
    var raftAddr = "localhost:8081"

    @Option(help: "Data directory.")
    var raftDir = "temp/"

    @Option(help: "Raft address of a cluster member; when set, the node joins instead of bootstrapping.")
    var leaderAddr = ""

    @Option(help: "HTTP base URL of a cluster member, used to send the join request.")
    var leaderApiEndpoint = ""

    @Option(help: "Connections kept per peer.")
    var maxPool = 3

    @Option(help: "Raft network I/O timeout (Go duration: 500ms, 3s, 1m).")
    var timeout = "3s"

    @Option(help: "Snapshots kept on disk.")
    var snapshotRetain = 2

    @Option(help: "HTTP listen address (:8000 means every interface, port 8000).")
    var port = ":8000"

    func run() throws {
        print(Self.helpMessage())
    }
}
