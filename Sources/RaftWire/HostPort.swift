/// A TCP address as flags, configurations and the wire spell it: "host:port", "[v6]:port",
/// or ":port" with the host left out. The one parser of addresses; what a missing host means
/// depends on the use, so each use asks for its own.
public struct HostPort: Sendable, Hashable, CustomStringConvertible {
    /// The host without brackets; empty when the text left it out.
    public var host: String
    public var port: Int

    /// nil unless `text` is host:port with a port from 0 to 65535 (brackets around an IPv6
    /// host, balanced, as in "[::1]:7000").
    public init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]) else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("[") != host.hasSuffix("]") { return nil }
        if host.hasPrefix("[") { host = String(host.dropFirst().dropLast()) }
        self.init(host: host, port: Int(port))
    }

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// What a listener binds: a missing host is every interface.
    public var bindHost: String { host.isEmpty ? "0.0.0.0" : host }
    /// What a client connects to: a missing host is this machine.
    public var connectHost: String { host.isEmpty ? "127.0.0.1" : host }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

extension HostPort {
    /// A listen address as the original's --port took it: ":8000" (every interface),
    /// "host:8000", or a bare "8000"; the port 1...65535.
    public init?(listenAddress text: String) {
        guard let parsed = HostPort(text.contains(":") ? text : ":" + text), (1...65_535).contains(parsed.port) else { return nil }
        self = parsed
    }
}
