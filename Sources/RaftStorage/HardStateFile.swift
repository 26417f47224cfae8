import RaftCore

#if canImport(Glibc)
import Glibc
#endif

extension HardState {
    /// The later of two hard states. Terms only grow, a vote is cast once per term and the
    /// commit index only grows, so merging every record ever written gives the newest state
    /// whichever records survive.
    func merged(with other: HardState) -> HardState {
        if term != other.term { return term > other.term ? self : other }
        return HardState(term: term, vote: vote.isEmpty ? other.vote : vote, commit: max(commit, other.commit))
    }
}

/// The hard state in a file of its own (`hardstate`, one log record), replaced atomically.
/// Written before the log deletes or cuts anything, so the newest hard state is always
/// durable somewhere.
enum HardStateFile {
    static func path(in directory: String) -> String { directory + "/hardstate" }

    static func write(_ state: HardState, in directory: String) throws {
        let temporary = path(in: directory) + ".tmp"
        let file = try POSIXFile(path: temporary, flags: O_WRONLY | O_CREAT | O_TRUNC)
        var bytes: [UInt8] = []
        LogRecord.hardState(state).append(to: &bytes)
        try file.write(bytes)
        try file.sync()
        file.close()
        try Directory.rename(temporary, to: path(in: directory))
        try Directory.sync(directory)
    }

    static func read(in directory: String) throws -> HardState? {
        guard access(path(in: directory), F_OK) == 0 else { return nil }
        let bytes = try POSIXFile(path: path(in: directory), flags: O_RDONLY).readAll()
        return try bytes.withUnsafeBytes { raw in
            guard case .record(.hardState(let state), _) = LogRecord.parse(raw, at: 0) else {
                throw StorageError.corrupt(path: path(in: directory), offset: 0, reason: "hard state does not decode")
            }
            return state
        }
    }
}
