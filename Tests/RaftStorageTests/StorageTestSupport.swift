import Foundation
import RaftCore
import RaftStorage
import RaftWire

/// A fresh directory under the system's temporary directory, removed by `remove()`.
struct TemporaryDirectory {
    let path: String

    init() {
        path = NSTemporaryDirectory() + "raft-storage-test-" + UUID().uuidString
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }

    func files(withPrefix prefix: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).filter { $0.hasPrefix(prefix) }.sorted()
    }
}

func entries(_ range: ClosedRange<UInt64>, term: UInt64 = 1, size: Int = 128) -> [Entry] {
    range.map { Entry(term: term, index: $0, type: .command, data: Array(repeating: UInt8(truncatingIfNeeded: $0), count: size)) }
}

func open(_ directory: TemporaryDirectory, segmentSize: Int = 64 << 20, retain: Int = 2) throws -> FileStorage {
    try FileStorage(directory: directory.path, options: .init(segmentSize: segmentSize, snapshotRetain: retain))
}

/// Flips one byte of a file.
func flipByte(in path: String, at offset: Int) throws {
    let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
    defer { try? handle.close() }
    try handle.seek(toOffset: UInt64(offset))
    let byte = try handle.read(upToCount: 1)![0]
    try handle.seek(toOffset: UInt64(offset))
    try handle.write(contentsOf: Data([byte ^ 0x5A]))
}

func fileSize(_ path: String) throws -> Int {
    try (FileManager.default.attributesOfItem(atPath: path)[.size] as! NSNumber).intValue
}

func appendBytes(_ bytes: [UInt8], to path: String) throws {
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
    defer { try? handle.close() }
    try handle.seekToEnd()
    try handle.write(contentsOf: Data(bytes))
}
