import CRC32C
import RaftCore
import RaftWire

/// One record of a log segment:
///
///     u32 length of the payload, little-endian
///     u32 CRC-32C of the payload
///     payload: u8 kind, then
///       kind 1 (entry):      u64 term, u64 index, u8 entry type, the entry's data
///       kind 2 (hard state): u64 term, u64 commit, the vote (UTF-8)
enum LogRecord: Equatable {
    case entry(Entry)
    case hardState(HardState)

    static let headerLength = 8
    /// No record is larger: a length beyond it is damage, not data.
    static let maxPayloadLength = 64 << 20

    private static let entryKind: UInt8 = 1
    private static let hardStateKind: UInt8 = 2

    func append(to buffer: inout [UInt8]) {
        let start = buffer.count
        buffer.append(contentsOf: [0, 0, 0, 0, 0, 0, 0, 0])
        switch self {
        case .entry(let entry):
            buffer.append(Self.entryKind)
            buffer.appendLittleEndian(entry.term)
            buffer.appendLittleEndian(entry.index)
            buffer.append(UInt8(truncatingIfNeeded: entry.type.rawValue))
            buffer.append(contentsOf: entry.data)
        case .hardState(let state):
            buffer.append(Self.hardStateKind)
            buffer.appendLittleEndian(state.term)
            buffer.appendLittleEndian(state.commit)
            buffer.append(contentsOf: state.vote.utf8)
        }
        let length = buffer.count - start - Self.headerLength
        let crc = buffer.withUnsafeBytes { raftcache_crc32c(0, $0.baseAddress! + start + Self.headerLength, length) }
        buffer.withUnsafeMutableBytes { bytes in
            bytes.storeBytes(of: UInt32(length).littleEndian, toByteOffset: start, as: UInt32.self)
            bytes.storeBytes(of: crc.littleEndian, toByteOffset: start + 4, as: UInt32.self)
        }
    }

    enum Parsed {
        case record(LogRecord, length: Int)
        /// The bytes end before the record does.
        case incomplete
        case damaged(String)
    }

    /// The record at `offset` of `bytes`.
    static func parse(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> Parsed {
        let remaining = bytes.count - offset
        guard remaining >= headerLength else { return .incomplete }
        let length = Int(bytes.loadLittleEndian(at: offset, as: UInt32.self))
        let crc = bytes.loadLittleEndian(at: offset + 4, as: UInt32.self)
        guard length > 0, length <= maxPayloadLength else { return .damaged("record length \(length) is impossible") }
        guard remaining >= headerLength + length else { return .incomplete }
        let payload = UnsafeRawBufferPointer(rebasing: bytes[(offset + headerLength)..<(offset + headerLength + length)])
        guard raftcache_crc32c(0, payload.baseAddress!, length) == crc else { return .damaged("checksum mismatch") }
        switch payload[0] {
        case entryKind where length >= 18:
            guard let type = EntryType(rawValue: UInt32(payload[17])) else { return .damaged("unknown entry type") }
            let count = length - 18
            let data = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
                if count > 0 {
                    UnsafeMutableRawPointer(buffer.baseAddress!).copyMemory(from: payload.baseAddress! + 18, byteCount: count)
                }
                initialized = count
            }
            let entry = Entry(
                term: payload.loadLittleEndian(at: 1), index: payload.loadLittleEndian(at: 9), type: type, data: data)
            return .record(.entry(entry), length: headerLength + length)
        case hardStateKind where length >= 17:
            guard let vote = String(validating: payload[17...], as: UTF8.self) else { return .damaged("vote is not UTF-8") }
            let state = HardState(term: payload.loadLittleEndian(at: 1), vote: vote, commit: payload.loadLittleEndian(at: 9))
            return .record(.hardState(state), length: headerLength + length)
        default:
            return .damaged("unknown record kind \(payload[0]) of length \(length)")
        }
    }
}
