import Dispatch
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Prepares the next log segment ahead of time: a file written full of zeros and synced, so
/// appending to it changes no file size or extent and a sync flushes data only (measured by
/// tools/bench/storage: a sync that grows a file costs more). It is made on a background
/// queue once the current segment is half full.
final class SegmentPreallocator: @unchecked Sendable {
    private let directory: String
    private let size: Int
    private let header: [UInt8]
    private let queue = DispatchQueue(label: "raft-cache.storage.preallocate")
    private let prepared = Mutex<Result<String, StorageError>?>(nil)
    /// Only touched by the log's writer.
    private var started = false
    private var number = 0

    init(directory: String, size: Int, header: [UInt8]) {
        self.directory = directory
        self.size = size
        self.header = header
    }

    static func removeLeftovers(in directory: String) throws {
        for name in try Directory.list(directory) where name.hasPrefix("prealloc-") {
            try Directory.remove(directory + "/" + name)
        }
    }

    /// Starts preparing the next segment, once.
    func prepareSoon() {
        guard !started else { return }
        started = true
        number += 1
        let path = directory + "/prealloc-\(getpid())-\(number)-\(UInt32.random(in: 0...UInt32.max)).tmp"
        queue.async { [self] in
            let result: Result<String, StorageError>
            do {
                try Self.fillWithZeros(path: path, size: size, header: header)
                result = .success(path)
            } catch {
                result = .failure(error as? StorageError ?? .unusable("\(error)"))
            }
            prepared.withLock { $0 = result }
        }
    }

    /// The prepared file, if one was started (waiting for it to finish); nil otherwise.
    func take() throws -> String? {
        guard started else { return nil }
        started = false
        let result = queue.sync { prepared.withLock { value in defer { value = nil }; return value } }
        return try result?.get()
    }

    /// Waits for a preparation under way and removes what it made.
    func shutdown() {
        if let path = try? take() { try? Directory.remove(path) }
    }

    /// `header`, then zeros up to `size`; synced.
    private static func fillWithZeros(path: String, size: Int, header: [UInt8]) throws {
        let file = try POSIXFile(path: path, flags: O_WRONLY | O_CREAT | O_EXCL)
        try file.write(header)
        let zeros = [UInt8](repeating: 0, count: 1 << 20)
        var written = header.count
        while written < size {
            let count = min(zeros.count, size - written)
            try zeros.withUnsafeBytes { try file.write(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
            written += count
        }
        try file.sync()
    }
}
