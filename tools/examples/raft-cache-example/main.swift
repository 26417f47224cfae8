// An example of the RaftCacheClient library: a counter and a watch.
//
//     raft-cache-example --member localhost:8081 --member localhost:8082 --count 1000
//
// Increments a counter --count times through a client session, while a watch on the
// counter's key follows along; prints one JSON line: how many increments were answered, the
// counter's value read back, and how many changes the watch saw. Each increment is applied
// exactly once, however often a lost answer (a leader killed, a connection broken) makes
// the client send it again: with nothing else writing the key, value == count.

import Foundation
import RaftCacheClient
import RaftWire

@main
struct RaftCacheExample {
    static func main() async throws {
        var members: [String] = []
        var count = 1_000
        var key = "example-counter"
        var arguments = CommandLine.arguments.dropFirst().makeIterator()
        while let argument = arguments.next() {
            switch argument {
            case "--member": members.append(arguments.next() ?? "")
            case "--count": count = Int(arguments.next() ?? "") ?? count
            case "--key": key = arguments.next() ?? key
            default:
                FileHandle.standardError.write(Data("usage: raft-cache-example --member HOST:PORT [--member ...] [--count N] [--key K]\n".utf8))
                exit(2)
            }
        }
        if members.isEmpty { members = ["localhost:8081"] }

        let cache = try RaftCacheClient(members: members, options: .init(callTimeout: .seconds(1), retryFor: .seconds(60)))
        let start = try await cache.get(key).flatMap { $0.string.flatMap(Int64.init) } ?? 0

        // The watch counts the counter's changes while the loop writes.
        let watcher = Task {
            var seen = 0
            do {
                for try await response in cache.watch(key: Array(key.utf8)) {
                    seen += response.events.count
                    if seen >= count { break }
                }
            } catch {
                // The watched node went away: the example reports what it saw until then.
            }
            return seen
        }

        var answered = 0
        for _ in 0..<count {
            let value = try await cache.increment(key)
            answered += 1
            // Each answer is this increment's own: the counter never skips or repeats.
            guard value == start + Int64(answered) else {
                print(#"{"error": "increment \#(answered) answered \#(value), expected \#(start + Int64(answered))"}"#)
                exit(1)
            }
        }
        let final = try await cache.get(key).flatMap { $0.string.flatMap(Int64.init) } ?? 0
        let watched = await Task { () -> Int in
            try? await Task.sleep(for: .seconds(2))
            watcher.cancel()
            return await watcher.value
        }.value
        print(#"{"answered": \#(answered), "start": \#(start), "value": \#(final), "watched": \#(watched)}"#)
        await cache.close()
    }
}
