#if canImport(Glibc)
import Glibc
#endif

public enum StorageError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A system call failed.
    case io(operation: String, path: String, errno: Int32)
    /// Bytes on disk are not what was written, somewhere a torn write cannot explain.
    case corrupt(path: String, offset: Int, reason: String)
    /// Another process holds the directory.
    case locked(path: String, holder: String)
    /// The storage was closed, or failed earlier and refuses further writes.
    case unusable(String)

    public var description: String {
        switch self {
        case .io(let operation, let path, let code):
            return "\(operation) \(path): \(String(cString: strerror(code)))"
        case .corrupt(let path, let offset, let reason):
            return "corrupt data in \(path) at offset \(offset): \(reason)"
        case .locked(let path, let holder):
            return "\(path) is in use by another raft-cache process (\(holder)); each node needs its own --raft-dir"
        case .unusable(let reason):
            return "storage unusable: \(reason)"
        }
    }
}
