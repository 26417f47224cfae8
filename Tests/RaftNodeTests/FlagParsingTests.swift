import NIOCore
import RaftNode
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

    @Test("listen addresses: :8001, host:8001, [v6]:8001")
    func listenAddresses() {
        #expect(ListenAddress.parse(":8001")! == ("0.0.0.0", 8001))
        #expect(ListenAddress.parse("localhost:8001")! == ("localhost", 8001))
        #expect(ListenAddress.parse("[::1]:8001")! == ("::1", 8001))
        #expect(ListenAddress.parse("8001")! == ("0.0.0.0", 8001))
        for bad in [":", ":0", ":70000", "host:", "host:port", ""] {
            #expect(ListenAddress.parse(bad) == nil, "\(bad)")
        }
    }

    @Test("a joining server's id and address are checked before they enter the configuration")
    func membershipChecks() {
        #expect(RaftNode.membershipProblem(id: "node-4", address: "127.0.0.1:8084") == nil)
        #expect(RaftNode.membershipProblem(id: "n", address: "[::1]:1") == nil)
        #expect(RaftNode.membershipProblem(id: String(repeating: "x", count: 128), address: "db-1.example:65535") == nil)
        let bad: [(String, String)] = [
            ("", "127.0.0.1:1"), (String(repeating: "x", count: 129), "127.0.0.1:1"), ("a b", "127.0.0.1:1"),
            ("a\u{7}", "127.0.0.1:1"), ("n", "127.0.0.1:0"), ("n", "127.0.0.1:65536"), ("n", "127.0.0.1:-1"),
            ("n", ":8081"), ("n", "[::1:8081"), ("n", "127.0.0.1"), ("n", String(repeating: "h", count: 300) + ":1"),
        ]
        for (id, address) in bad {
            #expect(RaftNode.membershipProblem(id: id, address: address) != nil, "\(id) at \(address)")
        }
    }
}
