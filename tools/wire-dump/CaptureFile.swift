/// One packet of a capture file, with the link type of the interface it came from.
struct CapturedPacket {
    let linkType: UInt32
    let time: Timestamp?
    let data: [UInt8]
    /// The packet on the wire was longer than what was saved (snap length).
    let isCut: Bool
}

/// Reads pcap and pcapng files packet by packet, in either byte order.
struct CaptureFile {
    private enum Format {
        case pcap(linkType: UInt32, nanoseconds: Bool)
        case pcapng
    }

    private struct Interface {
        let linkType: UInt32
        /// Timestamp units per second.
        let unitsPerSecond: Double
    }

    /// Larger records are taken as corruption rather than read into memory.
    static let maxRecordLength = 64 << 20

    private let reader: ByteReader
    private var format: Format
    private var bigEndian: Bool
    private var interfaces: [Interface] = []
    /// Set when the file ends inside a record.
    private(set) var truncation: String?

    init(reader: ByteReader) throws {
        self.reader = reader
        let magic = try reader.read(4)
        guard magic.count == 4 else { throw WireDumpError.notACapture("shorter than a file header") }
        switch magic {
        case [0xd4, 0xc3, 0xb2, 0xa1], [0x4d, 0x3c, 0xb2, 0xa1], [0xa1, 0xb2, 0xc3, 0xd4], [0xa1, 0xb2, 0x3c, 0x4d]:
            bigEndian = magic[0] == 0xa1
            let header = try reader.read(20)
            guard header.count == 20 else { throw WireDumpError.notACapture("truncated pcap header") }
            let linkType = ByteOrder.uint32(header, at: 16, bigEndian: bigEndian) & 0xFFFF
            format = .pcap(linkType: linkType, nanoseconds: magic == [0x4d, 0x3c, 0xb2, 0xa1] || magic == [0xa1, 0xb2, 0x3c, 0x4d])
        case [0x0a, 0x0d, 0x0d, 0x0a]:
            format = .pcapng
            bigEndian = false
            try readSectionHeader()
        default:
            throw WireDumpError.notACapture("unknown magic \(HexDump.hex(magic))")
        }
    }

    /// The next packet, or nil at the end of the file (see `truncation`).
    mutating func next() throws -> CapturedPacket? {
        switch format {
        case .pcap(let linkType, let nanoseconds): try nextPcap(linkType: linkType, nanoseconds: nanoseconds)
        case .pcapng: try nextPcapng()
        }
    }

    private mutating func nextPcap(linkType: UInt32, nanoseconds: Bool) throws -> CapturedPacket? {
        let header = try reader.read(16)
        if header.isEmpty { return nil }
        guard header.count == 16 else { return end("the file ends inside a packet header") }
        let seconds = Double(ByteOrder.uint32(header, at: 0, bigEndian: bigEndian))
        let fraction = Double(ByteOrder.uint32(header, at: 4, bigEndian: bigEndian))
        let captured = Int(ByteOrder.uint32(header, at: 8, bigEndian: bigEndian))
        let original = Int(ByteOrder.uint32(header, at: 12, bigEndian: bigEndian))
        guard captured <= Self.maxRecordLength else { return end("a packet record claims \(captured) bytes") }
        let data = try reader.read(captured)
        guard data.count == captured else { return end("the file ends inside a packet (\(data.count) of \(captured) bytes)") }
        let time = Timestamp(seconds: seconds + fraction / (nanoseconds ? 1e9 : 1e6))
        return CapturedPacket(linkType: linkType, time: time, data: data, isCut: captured < original)
    }

    private mutating func nextPcapng() throws -> CapturedPacket? {
        while true {
            let head = try reader.read(8)
            if head.isEmpty { return nil }
            guard head.count == 8 else { return end("the file ends inside a block header") }
            let type = ByteOrder.uint32(head, at: 0, bigEndian: bigEndian)
            if type == 0x0A0D0D0A {
                try readSectionHeader(lengthBytes: Array(head[4..<8]))
                continue
            }
            let length = Int(ByteOrder.uint32(head, at: 4, bigEndian: bigEndian))
            guard length >= 12, length % 4 == 0, length <= Self.maxRecordLength else {
                return end("a block claims \(length) bytes")
            }
            let body = try reader.read(length - 8)
            guard body.count == length - 8 else { return end("the file ends inside a block (\(body.count + 8) of \(length) bytes)") }
            switch type {
            case 1: addInterface(body)
            case 6, 2: if let packet = enhancedPacket(body, obsolete: type == 2) { return packet }
            case 3: if let packet = simplePacket(body) { return packet }
            default: continue
            }
        }
    }

    /// The Section Header Block sets the byte order; each section numbers its interfaces anew.
    private mutating func readSectionHeader(lengthBytes: [UInt8]? = nil) throws {
        let lengthField = try lengthBytes ?? reader.read(4)
        let byteOrderMagic = try reader.read(4)
        guard lengthField.count == 4, byteOrderMagic.count == 4 else { throw WireDumpError.notACapture("truncated section header") }
        switch byteOrderMagic {
        case [0x4d, 0x3c, 0x2b, 0x1a]: bigEndian = false
        case [0x1a, 0x2b, 0x3c, 0x4d]: bigEndian = true
        default: throw WireDumpError.notACapture("bad pcapng byte-order magic")
        }
        let length = Int(ByteOrder.uint32(lengthField, at: 0, bigEndian: bigEndian))
        guard length >= 28, length <= Self.maxRecordLength else { throw WireDumpError.notACapture("bad section header length") }
        guard try reader.skip(length - 12) == length - 12 else { throw WireDumpError.notACapture("truncated section header") }
        interfaces = []
    }

    private mutating func addInterface(_ body: [UInt8]) {
        guard body.count >= 12 else { return }
        let linkType = UInt32(ByteOrder.uint16(body, at: 0, bigEndian: bigEndian))
        var unitsPerSecond = 1e6
        var offset = 8
        // Options: code, length, value padded to 4 bytes; if_tsresol (9) changes the time unit.
        while offset + 4 <= body.count - 4 {
            let code = ByteOrder.uint16(body, at: offset, bigEndian: bigEndian)
            let length = Int(ByteOrder.uint16(body, at: offset + 2, bigEndian: bigEndian))
            if code == 0 { break }
            if code == 9, length >= 1, offset + 4 < body.count {
                let resolution = body[offset + 4]
                let exponent = Double(resolution & 0x7f)
                unitsPerSecond = resolution & 0x80 == 0 ? pow10(exponent) : pow2(exponent)
            }
            offset += 4 + (length + 3) / 4 * 4
        }
        interfaces.append(Interface(linkType: linkType, unitsPerSecond: unitsPerSecond))
    }

    private func enhancedPacket(_ body: [UInt8], obsolete: Bool) -> CapturedPacket? {
        guard body.count >= 24 else { return nil }
        let interfaceID = obsolete
            ? Int(ByteOrder.uint16(body, at: 0, bigEndian: bigEndian)) : Int(ByteOrder.uint32(body, at: 0, bigEndian: bigEndian))
        guard interfaceID < interfaces.count else { return nil }
        let interface = interfaces[interfaceID]
        let units = UInt64(ByteOrder.uint32(body, at: 4, bigEndian: bigEndian)) << 32
            | UInt64(ByteOrder.uint32(body, at: 8, bigEndian: bigEndian))
        let captured = Int(ByteOrder.uint32(body, at: 12, bigEndian: bigEndian))
        let original = Int(ByteOrder.uint32(body, at: 16, bigEndian: bigEndian))
        guard 20 + captured <= body.count - 4 else { return nil }
        let time = Timestamp(seconds: Double(units) / interface.unitsPerSecond)
        return CapturedPacket(
            linkType: interface.linkType, time: time, data: Array(body[20..<20 + captured]), isCut: captured < original)
    }

    private func simplePacket(_ body: [UInt8]) -> CapturedPacket? {
        guard body.count >= 8, let interface = interfaces.first else { return nil }
        let original = Int(ByteOrder.uint32(body, at: 0, bigEndian: bigEndian))
        let captured = min(original, body.count - 8)
        return CapturedPacket(
            linkType: interface.linkType, time: nil, data: Array(body[4..<4 + captured]), isCut: captured < original)
    }

    private mutating func end(_ why: String) -> CapturedPacket? {
        truncation = why
        return nil
    }

    private func pow10(_ exponent: Double) -> Double { (0..<Int(exponent)).reduce(1.0) { value, _ in value * 10 } }
    private func pow2(_ exponent: Double) -> Double { (0..<Int(exponent)).reduce(1.0) { value, _ in value * 2 } }
}

enum ByteOrder {
    static func uint16(_ bytes: [UInt8], at offset: Int, bigEndian: Bool) -> UInt16 {
        let a = UInt16(bytes[offset]), b = UInt16(bytes[offset + 1])
        return bigEndian ? a << 8 | b : b << 8 | a
    }

    static func uint32(_ bytes: [UInt8], at offset: Int, bigEndian: Bool) -> UInt32 {
        let value = (0..<4).reduce(UInt32(0)) { $0 << 8 | UInt32(bytes[offset + $1]) }
        return bigEndian ? value : value.byteSwapped
    }
}
