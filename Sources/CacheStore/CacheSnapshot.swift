import RaftWire

/// A snapshot of the map, written and read in chunks:
///
///     "RCKV0004", u64 applied index, u64 log clock, u64 number of pairs,
///     then for each pair: u32 key length, key, u32 value length, value,
///     u64 create index, u64 mod index, u64 expiry (little-endian; expiry in Unix
///     milliseconds, 0: none); then the client sessions (SessionSnapshot.swift).
///
/// Older formats load: "RCKV0003" has no sessions, "RCKV0002" no log clock and no expiries
/// either, "RCKV0001" (before keys had versions) not even versions; its keys load with
/// version 0/0.
///
/// The map is frozen by copy-on-write for the write, so applying goes on meanwhile.
extension CacheStore {
    static let snapshotMagic = Array("RCKV0004".utf8)
    static let sessionlessMagic = Array("RCKV0003".utf8)
    static let unexpiringMagic = Array("RCKV0002".utf8)
    static let unversionedMagic = Array("RCKV0001".utf8)

    /// Writes the map as it is now, in chunks of about `chunkSize` bytes.
    public func writeSnapshot(chunkSize: Int = 1 << 20, _ write: ([UInt8]) throws -> Void) throws -> UInt64 {
        try frozen().write(chunkSize: chunkSize, write)
    }

    /// The map as it is now, kept by copy-on-write (O(1) here; the next write to the live
    /// map pays for the copy), to be written out elsewhere while applying goes on.
    public func frozen() -> FrozenCache {
        state.withLock { FrozenCache(values: $0.values, appliedIndex: $0.appliedIndex, logClock: $0.logClock, sessions: $0.sessions) }
    }
}

/// A map frozen at an applied index, written out as a snapshot.
public struct FrozenCache: Sendable {
    let values: ShardedMap
    public let appliedIndex: UInt64
    let logClock: UInt64
    let sessions: ClientSessions

    /// Writes the snapshot in chunks of about `chunkSize` bytes; returns its index.
    @discardableResult
    public func write(chunkSize: Int = 1 << 20, _ write: ([UInt8]) throws -> Void) throws -> UInt64 {
        let index = appliedIndex
        var chunk = CacheStore.snapshotMagic
        chunk.reserveCapacity(chunkSize + 1024)
        chunk.appendLittleEndian(index)
        chunk.appendLittleEndian(logClock)
        chunk.appendLittleEndian(UInt64(values.count))
        try values.forEach { key, value, pair in
            chunk.appendLittleEndian(UInt32(key.count))
            chunk += key
            chunk.appendLittleEndian(UInt32(value.count))
            chunk += value
            chunk.appendLittleEndian(pair.version.createIndex)
            chunk.appendLittleEndian(pair.version.modIndex)
            chunk.appendLittleEndian(pair.expiresAt)
            if chunk.count >= chunkSize {
                try write(chunk)
                chunk.removeAll(keepingCapacity: true)
            }
        }
        sessions.write(to: &chunk)
        if !chunk.isEmpty { try write(chunk) }
        return index
    }
}

extension CacheStore {

    /// Replaces the map with a snapshot's, read chunk by chunk from `read(offset, count)`.
    public func restoreSnapshot(size: UInt64, read: (UInt64, Int) throws -> [UInt8]) throws {
        replace(with: try Self.loadSnapshot(size: size, read: read))
    }

    /// Reads and checks a snapshot without putting it in force (`replace(with:)` does).
    public static func loadSnapshot(size: UInt64, read: (UInt64, Int) throws -> [UInt8]) throws -> LoadedSnapshot {
        try withoutActuallyEscaping(read) { read in try load(from: ChunkReader(size: size, read: read)) }
    }

    /// Puts a loaded snapshot in force: the map and applied index become its own.
    public func replace(with snapshot: LoadedSnapshot) {
        state.withLock { state in
            state = State(
                values: snapshot.values, appliedIndex: snapshot.appliedIndex, logClock: snapshot.logClock,
                expiring: ExpiryIndex(of: snapshot.values), expiredKeys: state.expiredKeys, evictedKeys: state.evictedKeys,
                sessions: snapshot.sessions)
        }
    }

    private static func load(from reader: ChunkReader) throws -> LoadedSnapshot {
        var reader = reader
        let magic = try reader.bytes(8)
        guard [Self.snapshotMagic, Self.sessionlessMagic, Self.unexpiringMagic, Self.unversionedMagic].contains(magic) else {
            throw CacheSnapshotError.malformed("bad header")
        }
        let versioned = magic != Self.unversionedMagic
        let expiring = magic == Self.snapshotMagic || magic == Self.sessionlessMagic
        let index = try reader.uint64()
        let logClock = expiring ? try reader.uint64() : 0
        guard logClock < wireNumberLimit else { throw CacheSnapshotError.malformed("log clock \(logClock) out of range") }
        let count = try reader.uint64()
        var values = ShardedMap(expectedCount: Int(min(count, 1 << 24)))
        for _ in 0..<count {
            let key = try reader.bytes(Int(try reader.uint32()))
            let value = try reader.bytes(Int(try reader.uint32()))
            let version = versioned ? KeyVersion(createIndex: try reader.uint64(), modIndex: try reader.uint64()) : KeyVersion(createIndex: 0, modIndex: 0)
            let expiresAt = expiring ? try reader.uint64() : 0
            // Times are below 2^63, like every number on the wire (a node sets log clock + TTL).
            guard expiresAt < wireNumberLimit else { throw CacheSnapshotError.malformed("a key's expiry \(expiresAt) is out of range") }
            // Written by an entry the snapshot holds, and created no later than last changed.
            guard version.createIndex <= version.modIndex, version.modIndex <= index else {
                throw CacheSnapshotError.malformed("a key's version \(version.createIndex)/\(version.modIndex) does not fit index \(index)")
            }
            let pair = ShardedMap.makePair(key: key, value: value, version: version, expiresAt: expiresAt)
            pair.statistics = EvictionPool.fresh(now: logClock)
            guard values.insert(pair) == nil else {
                throw CacheSnapshotError.malformed("a key appears twice")
            }
        }
        let sessions = magic == Self.snapshotMagic ? try ClientSessions.read(from: &reader, appliedIndex: index) : ClientSessions()
        guard reader.atEnd else { throw CacheSnapshotError.malformed("bytes after the last pair") }
        return LoadedSnapshot(values: values, appliedIndex: index, logClock: logClock, sessions: sessions)
    }
}

/// A snapshot's map, read and checked, not yet in force.
public struct LoadedSnapshot: Sendable {
    let values: ShardedMap
    public let appliedIndex: UInt64
    let logClock: UInt64
    let sessions: ClientSessions
}

public enum CacheSnapshotError: Error, Equatable, Sendable {
    case malformed(String)
}

/// Reads a snapshot in pieces without holding it whole.
struct ChunkReader {
    let size: UInt64
    let read: (UInt64, Int) throws -> [UInt8]
    var buffer: [UInt8] = []
    var position = 0
    var offset: UInt64 = 0

    init(size: UInt64, read: @escaping (UInt64, Int) throws -> [UInt8]) {
        self.size = size
        self.read = read
    }

    var atEnd: Bool { position == buffer.count && offset == size }

    mutating func bytes(_ count: Int) throws -> [UInt8] {
        guard UInt64(count) <= size else { throw CacheSnapshotError.malformed("length \(count) past the end") }
        while buffer.count - position < count {
            guard offset < size else { throw CacheSnapshotError.malformed("cut short") }
            let chunk = try read(offset, max(1 << 20, count))
            guard !chunk.isEmpty else { throw CacheSnapshotError.malformed("cut short") }
            offset += UInt64(chunk.count)
            buffer.removeSubrange(0..<position)
            position = 0
            buffer += chunk
        }
        defer { position += count }
        return Array(buffer[position..<(position + count)])
    }

    mutating func uint32() throws -> UInt32 {
        try bytes(4).withUnsafeBytes { $0.loadLittleEndian(at: 0, as: UInt32.self) }
    }

    mutating func uint64() throws -> UInt64 {
        try bytes(8).withUnsafeBytes { $0.loadLittleEndian(at: 0) }
    }
}
