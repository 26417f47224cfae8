#if canImport(Glibc)
import Glibc
#endif

/// An open file descriptor with the few calls the log and snapshots need, each turning
/// failure into a StorageError that names the file.
final class POSIXFile {
    let path: String
    private(set) var fd: Int32

    init(path: String, flags: Int32, mode: mode_t = 0o644) throws {
        self.path = path
        fd = open(path, flags | O_CLOEXEC, mode)
        guard fd >= 0 else { throw StorageError.io(operation: "open", path: path, errno: errno) }
    }

    deinit {
        if fd >= 0 { Glibc.close(fd) }
    }

    func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw StorageError.io(operation: "write", path: path, errno: errno)
            }
            offset += n
        }
    }

    func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// Makes the data durable (and the size, which reading it back needs).
    func syncData() throws {
        guard fdatasync(fd) == 0 else { throw StorageError.io(operation: "fdatasync", path: path, errno: errno) }
    }

    /// Starts writing `length` bytes at `offset` back to the disk and lets the page cache
    /// drop them once written (Linux starts writeback on POSIX_FADV_DONTNEED). A big file
    /// written this way as it grows leaves little for its final sync, so that sync does not
    /// stall the log's syncs behind a flood of dirty pages. Only advice: errors are ignored.
    func startWriteBack(offset: Int, length: Int) {
        _ = posix_fadvise(fd, off_t(offset), off_t(length), POSIX_FADV_DONTNEED)
    }

    func sync() throws {
        guard fsync(fd) == 0 else { throw StorageError.io(operation: "fsync", path: path, errno: errno) }
    }

    func truncate(to length: Int) throws {
        guard ftruncate(fd, off_t(length)) == 0 else {
            throw StorageError.io(operation: "ftruncate", path: path, errno: errno)
        }
        guard lseek(fd, off_t(length), SEEK_SET) >= 0 else {
            throw StorageError.io(operation: "lseek", path: path, errno: errno)
        }
    }

    func seek(to offset: Int) throws {
        guard lseek(fd, off_t(offset), SEEK_SET) >= 0 else {
            throw StorageError.io(operation: "lseek", path: path, errno: errno)
        }
    }

    func size() throws -> Int {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw StorageError.io(operation: "fstat", path: path, errno: errno) }
        return Int(info.st_size)
    }

    /// Reads up to `count` bytes at `offset`; fewer only at the end of the file.
    func read(count: Int, at offset: Int) throws -> [UInt8] {
        try [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            var done = 0
            while done < count {
                let n = pread(fd, buffer.baseAddress! + done, count - done, off_t(offset + done))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw StorageError.io(operation: "read", path: path, errno: errno)
                }
                if n == 0 { break }
                done += n
            }
            initialized = done
        }
    }

    func readAll() throws -> [UInt8] {
        try read(count: size(), at: 0)
    }
}

/// Directory operations: creating, listing, renaming and removing files durably.
enum Directory {
    /// Creates the directory and any missing parents.
    static func create(_ path: String) throws {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            prefix += component + "/"
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
                throw StorageError.io(operation: "mkdir", path: prefix, errno: errno)
            }
        }
    }

    /// Makes creations, renames and removals in `path` durable.
    static func sync(_ path: String) throws {
        let directory = try POSIXFile(path: path, flags: O_RDONLY | O_DIRECTORY)
        try directory.sync()
    }

    static func list(_ path: String) throws -> [String] {
        guard let dir = opendir(path) else { throw StorageError.io(operation: "opendir", path: path, errno: errno) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    static func rename(_ from: String, to: String) throws {
        guard Glibc.rename(from, to) == 0 else { throw StorageError.io(operation: "rename", path: from, errno: errno) }
    }

    static func remove(_ path: String) throws {
        if unlink(path) != 0 && errno != ENOENT { throw StorageError.io(operation: "unlink", path: path, errno: errno) }
    }
}
