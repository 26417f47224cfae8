import HTTPFrontend
import NIOCore
@testable import raft_cache
import RaftNode
import RaftWire
import Testing

@Suite("Flag values")
struct FlagParsingTests {
    @Test("Go durations, as the original's --timeout took them")
    func durations() {
        #expect(GoDuration.parse("3s") == .seconds(3))
        #expect(GoDuration.parse("500ms") == .milliseconds(500))
        #expect(GoDuration.parse("1m30s") == .seconds(90))
        #expect(GoDuration.parse("1.5h") == .minutes(90))
        #expect(GoDuration.parse("250us") == .microseconds(250))
        #expect(GoDuration.parse("250µs") == .microseconds(250))
        #expect(GoDuration.parse("0") == .zero)
        for bad in ["", "3", "s", "3x", "ms5", "1..5s", "-1s", "9999999999h"] {
            #expect(GoDuration.parse(bad) == nil, "\(bad)")
        }
    }

    @Test("sizes, as --max-memory takes them")
    func sizes() {
        #expect(ByteSize.parse("1048576") == 1 << 20)
        #expect(ByteSize.parse("512MiB") == 512 << 20)
        #expect(ByteSize.parse("2GiB") == 2 << 30)
        #expect(ByteSize.parse("64KiB") == 64 << 10)
        #expect(ByteSize.parse("0") == 0)
        for bad in ["", "MiB", "1.5GiB", "-1", "1GB", "99999999999TiB", "1 MiB"] {
            #expect(ByteSize.parse(bad) == nil, "\(bad)")
        }
    }

    @Test("addresses: host:port, [v6]:port, :port; bind and connect defaults; --port's forms")
    func addresses() {
        let v6 = HostPort("[::1]:8001")!
        #expect(v6.host == "::1" && v6.port == 8001 && v6.description == "[::1]:8001")
        let bare = HostPort(":8001")!
        #expect(bare.bindHost == "0.0.0.0" && bare.connectHost == "127.0.0.1" && bare.description == ":8001")
        let named = HostPort("db-1.example:7000")!
        #expect(named.bindHost == "db-1.example" && named.connectHost == "db-1.example")
        for bad in ["", ":", "host", "host:", "host:port", "[::1:80", "::1]:80", "h:70000", "h:-1"] {
            #expect(HostPort(bad) == nil, "\(bad)")
        }
        #expect(HostPort(listenAddress: ":8001") == HostPort(host: "", port: 8001))
        #expect(HostPort(listenAddress: "localhost:8001") == HostPort(host: "localhost", port: 8001))
        #expect(HostPort(listenAddress: "[::1]:8001") == HostPort(host: "::1", port: 8001))
        #expect(HostPort(listenAddress: "8001")?.bindHost == "0.0.0.0")
        for bad in [":", ":0", ":70000", "host:", "host:port", ""] {
            #expect(HostPort(listenAddress: bad) == nil, "\(bad)")
        }
    }

    @Test("a joining server's id and address are checked before they enter the configuration")
    func membershipChecks() {
        #expect(NodeAPI.membershipProblem(id: "node-4", address: "127.0.0.1:8084") == nil)
        #expect(NodeAPI.membershipProblem(id: "n", address: "[::1]:1") == nil)
        #expect(NodeAPI.membershipProblem(id: String(repeating: "x", count: 128), address: "db-1.example:65535") == nil)
        let bad: [(String, String)] = [
            ("", "127.0.0.1:1"), (String(repeating: "x", count: 129), "127.0.0.1:1"), ("a b", "127.0.0.1:1"),
            ("a\u{7}", "127.0.0.1:1"), ("n", "127.0.0.1:0"), ("n", "127.0.0.1:65536"), ("n", "127.0.0.1:-1"),
            ("n", ":8081"), ("n", "[::1:8081"), ("n", "127.0.0.1"), ("n", String(repeating: "h", count: 300) + ":1"),
        ]
        for (id, address) in bad {
            #expect(NodeAPI.membershipProblem(id: id, address: address) != nil, "\(id) at \(address)")
        }
    }
}
