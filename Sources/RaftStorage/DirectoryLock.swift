#if canImport(Glibc)
import Glibc
#endif

/// An exclusive lock on a data directory for the life of the process: a second process
/// on the same directory fails at once, naming the holder.
final class DirectoryLock {
    private let file: POSIXFile

    init(directory: String) throws {
        let path = directory + "/LOCK"
        file = try POSIXFile(path: path, flags: O_RDWR | O_CREAT)
        guard flock(file.fd, LOCK_EX | LOCK_NB) == 0 else {
            let code = errno
            let holder = (try? file.readAll()).map { String(decoding: $0, as: UTF8.self) } ?? ""
            if code == EWOULDBLOCK {
                throw StorageError.locked(path: directory, holder: holder.isEmpty ? "unknown process" : holder)
            }
            throw StorageError.io(operation: "flock", path: path, errno: code)
        }
        try file.truncate(to: 0)
        try file.write(Array("pid \(getpid())".utf8))
    }

    func release() {
        flock(file.fd, LOCK_UN)
        file.close()
    }
}
