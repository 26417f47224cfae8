/// A TCP segment taken out of a captured packet.
struct TCPSegment {
    let source: String
    let destination: String
    let sourcePort: UInt16
    let destinationPort: UInt16
    let sequence: UInt32
    let flags: UInt8
    let payload: ArraySlice<UInt8>
    /// Payload bytes that were on the wire but not saved in the capture.
    let missingBytes: Int

    var syn: Bool { flags & 0x02 != 0 }
    var ack: Bool { flags & 0x10 != 0 }
    var fin: Bool { flags & 0x01 != 0 }
    var rst: Bool { flags & 0x04 != 0 }
}

/// Link layer, then IPv4 or IPv6, then TCP. Anything else (ARP, UDP, IP fragments) is not a
/// TCP segment and yields nil.
enum PacketParser {
    static func tcpSegment(_ packet: CapturedPacket) -> TCPSegment? {
        guard let (etherType, offset) = network(linkType: packet.linkType, data: packet.data) else { return nil }
        let data = packet.data
        switch etherType {
        case 0x0800: return ipv4(data, at: offset)
        case 0x86DD: return ipv6(data, at: offset)
        default: return nil
        }
    }

    /// The network protocol (as an EtherType) and where its header starts.
    static func network(linkType: UInt32, data: [UInt8]) -> (UInt16, Int)? {
        switch linkType {
        case 0, 108: // BSD loopback: a 4-byte address family, host order (0) or network order (108)
            guard data.count >= 4 else { return nil }
            let little = ByteOrder.uint32(data, at: 0, bigEndian: false), big = ByteOrder.uint32(data, at: 0, bigEndian: true)
            if little == 2 || big == 2 { return (0x0800, 4) }
            if [10, 24, 28, 30].contains(little) || [10, 24, 28, 30].contains(big) { return (0x86DD, 4) }
            return nil
        case 1: // Ethernet, also what Linux's `lo` gives, with 802.1Q tags skipped
            var offset = 12
            while offset + 2 <= data.count {
                let type = ByteOrder.uint16(data, at: offset, bigEndian: true)
                if type == 0x8100 || type == 0x88A8 { offset += 4; continue }
                return (type, offset + 2)
            }
            return nil
        case 12, 14, 101, 228, 229: // raw IP: the version nibble says which
            return rawIP(data, at: 0)
        case 113: // Linux cooked capture (SLL): protocol at 14
            guard data.count >= 16 else { return nil }
            return (ByteOrder.uint16(data, at: 14, bigEndian: true), 16)
        case 276: // Linux cooked capture v2 (SLL2): protocol first
            guard data.count >= 20 else { return nil }
            return (ByteOrder.uint16(data, at: 0, bigEndian: true), 20)
        default:
            return nil
        }
    }

    private static func rawIP(_ data: [UInt8], at offset: Int) -> (UInt16, Int)? {
        guard offset < data.count else { return nil }
        switch data[offset] >> 4 {
        case 4: return (0x0800, offset)
        case 6: return (0x86DD, offset)
        default: return nil
        }
    }

    private static func ipv4(_ data: [UInt8], at start: Int) -> TCPSegment? {
        guard data.count >= start + 20, data[start] >> 4 == 4 else { return nil }
        let headerLength = Int(data[start] & 0x0F) * 4
        let totalLength = Int(ByteOrder.uint16(data, at: start + 2, bigEndian: true))
        let fragment = ByteOrder.uint16(data, at: start + 6, bigEndian: true)
        guard data[start + 9] == 6, fragment & 0x3FFF == 0, headerLength >= 20, totalLength >= headerLength else { return nil }
        let source = data[start + 12..<start + 16].map(String.init).joined(separator: ".")
        let destination = data[start + 16..<start + 20].map(String.init).joined(separator: ".")
        return tcp(data, at: start + headerLength, end: start + totalLength, source: source, destination: destination)
    }

    private static func ipv6(_ data: [UInt8], at start: Int) -> TCPSegment? {
        guard data.count >= start + 40, data[start] >> 4 == 6 else { return nil }
        let end = start + 40 + Int(ByteOrder.uint16(data, at: start + 4, bigEndian: true))
        var next = data[start + 6]
        var offset = start + 40
        // Hop-by-hop, routing and destination options headers come before TCP; fragments are skipped.
        while [0, 43, 60, 51].contains(next) {
            guard offset + 2 <= data.count else { return nil }
            let length = next == 51 ? (Int(data[offset + 1]) + 2) * 4 : (Int(data[offset + 1]) + 1) * 8
            next = data[offset]
            offset += length
        }
        guard next == 6 else { return nil }
        let source = "[" + ipv6Text(data[start + 8..<start + 24]) + "]"
        let destination = "[" + ipv6Text(data[start + 24..<start + 40]) + "]"
        return tcp(data, at: offset, end: end, source: source, destination: destination)
    }

    private static func tcp(_ data: [UInt8], at start: Int, end: Int, source: String, destination: String) -> TCPSegment? {
        guard data.count >= start + 20 else { return nil }
        let headerLength = Int(data[start + 12] >> 4) * 4
        guard headerLength >= 20, end >= start + headerLength else { return nil }
        let payloadStart = start + headerLength
        let savedEnd = min(end, data.count)
        let payload = payloadStart < savedEnd ? data[payloadStart..<savedEnd] : []
        return TCPSegment(
            source: source, destination: destination,
            sourcePort: ByteOrder.uint16(data, at: start, bigEndian: true),
            destinationPort: ByteOrder.uint16(data, at: start + 2, bigEndian: true),
            sequence: ByteOrder.uint32(data, at: start + 4, bigEndian: true),
            flags: data[start + 13], payload: payload, missingBytes: max(0, end - max(savedEnd, payloadStart)))
    }

    /// RFC 5952 text: lowercase, the longest run of two or more zero groups as `::`.
    static func ipv6Text(_ bytes: ArraySlice<UInt8>) -> String {
        let raw = Array(bytes)
        let groups = (0..<8).map { UInt16(raw[$0 * 2]) << 8 | UInt16(raw[$0 * 2 + 1]) }
        var bestStart = -1, bestLength = 0, runStart = -1
        for index in 0...8 {
            if index < 8 && groups[index] == 0 {
                if runStart < 0 { runStart = index }
            } else if runStart >= 0 {
                if index - runStart > bestLength { bestStart = runStart; bestLength = index - runStart }
                runStart = -1
            }
        }
        let text = groups.map { String($0, radix: 16) }
        guard bestLength >= 2 else { return text.joined(separator: ":") }
        let head = text[..<bestStart].joined(separator: ":")
        let tail = text[(bestStart + bestLength)...].joined(separator: ":")
        return head + "::" + tail
    }
}
