import ArgumentParser
import Connections
import Foundation
import RaftTransport
import RaftWire

@main
struct WireDumpCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wire-dump",
        abstract: "Decode raft-cache binary-protocol traffic: a live proxy, a capture file, or a raw byte stream.",
        discussion: """
            One source: --listen with --forward, --pcap, or --raw. Each frame is printed with its time, \
            connection and direction, call id, method, status, size, latency (responses) and decoded message.
            Bytes that are not frames are reported (offset and hex) and that stream is skipped.
            Exit status: 0 when the input was read, even if problems were reported in the output;
            1 when a file cannot be read or is not a capture; 64 for usage errors.
            """)

    @Option(help: ArgumentHelp("Proxy: accept connections on this address.", valueName: "host:port"))
    var listen: String?

    @Option(help: ArgumentHelp("Proxy: relay each connection to this node.", valueName: "host:port"))
    var forward: String?

    @Option(help: ArgumentHelp("Read a pcap or pcapng capture (tcpdump -w, tshark -w).", valueName: "file"))
    var pcap: String?

    @Option(name: .customLong("port"), help: ArgumentHelp("With --pcap: only TCP streams on this port (repeatable); default every stream.", valueName: "n"))
    var ports: [UInt16] = []

    @Option(help: ArgumentHelp("Read one raw byte stream of frames from a file, or '-' for stdin.", valueName: "file"))
    var raw: String?

    @Flag(help: "One JSON object per frame (and per problem) instead of text lines.")
    var json = false

    @Flag(help: "Print only counts, bytes and latency percentiles per method at the end.")
    var summary = false

    @Option(name: .customLong("method"), help: ArgumentHelp("Only this method, matched by suffix, e.g. AppendEntries (repeatable).", valueName: "name"))
    var methods: [String] = []

    @Option(name: .customLong("node"), help: ArgumentHelp("Only connections with this endpoint: host:port, a port or a host (repeatable).", valueName: "addr"))
    var nodes: [String] = []

    @Option(name: .customLong("call-id"), help: ArgumentHelp("Only this call id (repeatable).", valueName: "n"))
    var callIDs: [UInt64] = []

    @Flag(help: "Hide AppendEntries requests with no entries and their responses.")
    var noHeartbeats = false

    @Option(help: ArgumentHelp("The largest frame body accepted; longer ones are reported, not buffered.", valueName: "bytes"))
    var maxFrame: Int = Frame.defaultMaxLength

    @Option(help: ArgumentHelp("Proxy: end TLS on both sides with the cluster CA and --tls-cert-file.", valueName: "file"))
    var tlsCaFile: String?

    @Option(help: ArgumentHelp("Proxy: the certificate shown to clients (PEM; a node's will do), and presented to the node unless --tls-upstream-cert-file is given.", valueName: "file"))
    var tlsCertFile: String?

    @Option(help: ArgumentHelp("Proxy: the key of --tls-cert-file (PEM).", valueName: "file"))
    var tlsKeyFile: String?

    @Option(help: ArgumentHelp("Proxy: the certificate presented to the node (PEM): it names the caller the node sees.", valueName: "file"))
    var tlsUpstreamCertFile: String?

    @Option(help: ArgumentHelp("Proxy: the key of --tls-upstream-cert-file (PEM).", valueName: "file"))
    var tlsUpstreamKeyFile: String?

    func validate() throws {
        let tls = [tlsCaFile, tlsCertFile, tlsKeyFile].compactMap { $0 }.count
        guard tls == 0 || (tls == 3 && listen != nil) else {
            throw ValidationError("--tls-ca-file, --tls-cert-file and --tls-key-file go together, with --listen")
        }
        guard (tlsUpstreamCertFile == nil) == (tlsUpstreamKeyFile == nil), tlsUpstreamCertFile == nil || tls == 3 else {
            throw ValidationError("--tls-upstream-cert-file and --tls-upstream-key-file go together, with --tls-ca-file")
        }
        let sources = [listen != nil || forward != nil, pcap != nil, raw != nil].filter { $0 }.count
        guard sources == 1 else { throw ValidationError("give exactly one source: --listen/--forward, --pcap or --raw") }
        if (listen == nil) != (forward == nil) { throw ValidationError("--listen and --forward go together") }
        if !ports.isEmpty && pcap == nil { throw ValidationError("--port applies to --pcap") }
        if maxFrame < 0 { throw ValidationError("--max-frame must not be negative") }
    }

    func run() throws {
        let filter = FrameFilter(methodSuffixes: methods, nodes: nodes, callIDs: Set(callIDs), hideHeartbeats: noHeartbeats)
        var dumper = Dumper(
            format: json ? .json : .text, summaryOnly: summary, filter: filter, maxFrameLength: maxFrame,
            output: Output(flushEachLine: listen != nil))
        do {
            if let listen, let forward {
                let tls = try tlsCaFile.map { ca in
                    let facingClients = try TLSContexts(files: TLSFiles(certificate: tlsCertFile!, key: tlsKeyFile!, ca: ca))
                    let facingNode = try tlsUpstreamCertFile.map {
                        try TLSContexts(files: TLSFiles(certificate: $0, key: tlsUpstreamKeyFile!, ca: ca))
                    }
                    return (server: facingClients.server, client: (facingNode ?? facingClients).client)
                }
                let proxy = ProxySource(
                    listen: try HostPort(proxyAddress: listen), forward: try HostPort(proxyAddress: forward), tls: tls)
                try proxy.run(dumper: dumper)
            } else if let pcap {
                var source = CaptureSource(ports: Set(ports))
                try source.run(path: pcap, into: &dumper)
            } else if let raw {
                try RawSource.run(path: raw, into: &dumper)
            }
        } catch let error as WireDumpError {
            dumper.finish()
            FileHandle.standardError.write(Data("wire-dump: \(error)\n".utf8))
            throw ExitCode(1)
        }
        dumper.finish()
    }
}
