/// `--pcap`: every TCP connection in a capture file (or those on `--port`), reassembled and
/// fed to the dumper one direction at a time.
struct CaptureSource {
    private struct ConnectionKey: Hashable {
        let low: String
        let high: String

        init(_ a: String, _ b: String) {
            (low, high) = a < b ? (a, b) : (b, a)
        }
    }

    private struct Connection {
        let number: Int
        var streams: [String: TCPStream] = [:]
        var labels: [String: StreamLabel] = [:]
        var closed = false
        /// The first SYN's sequence number, to tell a reused port pair from a retransmitted SYN.
        var openingSequence: UInt32?
    }

    let ports: Set<UInt16>
    private var connections: [ConnectionKey: Connection] = [:]
    private var connectionCount = 0
    private var lastTime: Timestamp?

    init(ports: Set<UInt16>) {
        self.ports = ports
    }

    /// Reads the whole capture; throws only when the file is not a capture at all.
    mutating func run(path: String, into dumper: inout Dumper) throws {
        var file = try CaptureFile(reader: try ByteReader(path: path))
        var packets = 0
        while let packet = try file.next() {
            packets += 1
            if let time = packet.time { lastTime = time }
            guard let segment = PacketParser.tcpSegment(packet) else { continue }
            guard ports.isEmpty || ports.contains(segment.sourcePort) || ports.contains(segment.destinationPort) else { continue }
            add(segment, time: packet.time, into: &dumper)
        }
        if let truncation = file.truncation { dumper.note("capture truncated after \(packets) packets: \(truncation)") }
        for key in connections.keys.sorted(by: { connections[$0]!.number < connections[$1]!.number }) {
            close(key, into: &dumper)
        }
    }

    private mutating func add(_ segment: TCPSegment, time: Timestamp?, into dumper: inout Dumper) {
        let source = "\(segment.source):\(segment.sourcePort)"
        let destination = "\(segment.destination):\(segment.destinationPort)"
        let key = ConnectionKey(source, destination)
        if segment.syn && !segment.ack, let existing = connections[key], existing.openingSequence != segment.sequence {
            close(key, into: &dumper)
        }
        if connections[key] == nil {
            connectionCount += 1
            connections[key] = Connection(number: connectionCount, openingSequence: segment.syn && !segment.ack ? segment.sequence : nil)
        }
        var connection = connections[key]!
        let label = connection.labels[source] ?? StreamLabel(connection: connection.number, source: source, destination: destination)
        connection.labels[source] = label
        var stream = connection.streams[source] ?? TCPStream()
        let outputs = stream.add(segment)
        connection.streams[source] = stream
        connections[key] = connection
        for output in outputs {
            switch output {
            case .bytes(let bytes): dumper.receive(bytes, on: label, at: time)
            case .gap(let missing): dumper.gap(on: label, missing: missing, at: time)
            }
        }
    }

    private mutating func close(_ key: ConnectionKey, into dumper: inout Dumper) {
        guard var connection = connections.removeValue(forKey: key) else { return }
        for (source, label) in connection.labels.sorted(by: { $0.key < $1.key }) {
            for output in connection.streams[source]?.finish() ?? [] {
                switch output {
                case .bytes(let bytes): dumper.receive(bytes, on: label, at: lastTime)
                case .gap(let missing): dumper.gap(on: label, missing: missing, at: lastTime)
                }
            }
            dumper.endStream(label, at: lastTime)
        }
        connection.streams = [:]
    }
}
