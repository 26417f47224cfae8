import Foundation

/// Reads a file (or standard input, "-") in large chunks, handing out exact-size pieces.
final class ByteReader {
    private let handle: FileHandle
    private var buffer: [UInt8] = []
    private var index = 0
    private var atEnd = false
    static let chunkSize = 1 << 20

    init(path: String) throws {
        if path == "-" {
            handle = FileHandle.standardInput
        } else {
            guard let opened = FileHandle(forReadingAtPath: path) else { throw WireDumpError.unreadable(path) }
            handle = opened
        }
    }

    /// Up to `count` bytes: fewer only at the end of the input.
    func read(_ count: Int) throws -> [UInt8] {
        while buffer.count - index < count && !atEnd { try fill() }
        let available = min(count, buffer.count - index)
        let bytes = Array(buffer[index..<index + available])
        index += available
        return bytes
    }

    /// Skips up to `count` bytes; returns how many there were.
    func skip(_ count: Int) throws -> Int {
        var left = count
        while left > 0 {
            if index == buffer.count {
                if atEnd { break }
                try fill()
                continue
            }
            let step = min(left, buffer.count - index)
            index += step
            left -= step
        }
        return count - left
    }

    /// The next chunk as it comes, nil at the end (for raw streams).
    func nextChunk() throws -> [UInt8]? {
        if index < buffer.count {
            defer { buffer = []; index = 0 }
            return Array(buffer[index...])
        }
        guard !atEnd else { return nil }
        try fill()
        return try nextChunk()
    }

    private func fill() throws {
        if index > 0 {
            buffer.removeSubrange(0..<index)
            index = 0
        }
        guard let data = try handle.read(upToCount: Self.chunkSize), !data.isEmpty else {
            atEnd = true
            return
        }
        buffer.append(contentsOf: data)
    }
}

enum WireDumpError: Error, CustomStringConvertible {
    case unreadable(String)
    case notACapture(String)
    case badAddress(String)

    var description: String {
        switch self {
        case .unreadable(let path): "cannot open \(path)"
        case .notACapture(let why): "not a pcap or pcapng file: \(why)"
        case .badAddress(let address): "not a host:port address: \(address)"
        }
    }
}
