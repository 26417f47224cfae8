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
}
