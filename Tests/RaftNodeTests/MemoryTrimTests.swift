import CMallocTrim
import Foundation
import Testing

/// Resident memory of this process, from /proc/self/statm.
private func residentBytes() throws -> Int {
    let fields = try String(contentsOfFile: "/proc/self/statm", encoding: .utf8).split(separator: " ")
    return Int(fields[1])! * Int(sysconf(Int32(_SC_PAGESIZE)))
}

@Suite("Returning free memory", .serialized)
struct MemoryTrimTests {
    /// The test bundle links jemalloc as the node does (raft-cache's linker settings).
    @Test("the process allocates with jemalloc, as the node does")
    func jemallocIsTheAllocator() throws {
        // RTLD_DEFAULT (a null handle): malloc as the process resolves it.
        let malloc = UInt(bitPattern: dlsym(nil, "malloc"))
        // Read to the end: /proc files come a page per read, and String(contentsOfFile:) reads one.
        let maps = try FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/self/maps")).readToEnd() ?? Data()
        let library = String(decoding: maps, as: UTF8.self).split(separator: "\n").first { line in
            let range = line.prefix { $0 != " " }.split(separator: "-").compactMap { UInt($0, radix: 16) }
            return range.count == 2 && (range[0]..<range[1]).contains(malloc)
        }
        #expect(library?.hasSuffix("libjemalloc.so.2") == true, "malloc is in \(library ?? "no mapping")")
    }

    /// 100 MB in small blocks, 99 in 100 freed: the one kept in each run of about 27 KB
    /// stops malloc from giving the run back at once. The trim of every free page (jemalloc's
    /// purge, as the test above checks) must give most of it back.
    @Test("freed small blocks between live ones go back to the system")
    func trimReturnsFreedPages() throws {
        var blocks: [[UInt8]] = (0..<400_000).map { _ in [UInt8](repeating: 1, count: 240) }
        raftcache_malloc_trim(1)
        let full = try residentBytes()
        blocks = blocks.enumerated().map { index, block in index % 100 == 0 ? block : [] }
        let freedButHeld = try residentBytes()
        raftcache_malloc_trim(1)
        let trimmed = try residentBytes()
        withExtendedLifetime(blocks) {}
        // About 100 MB freed; most of it must leave (the live blocks pin a page each).
        #expect(freedButHeld - trimmed > 40 << 20, "full \(full), freed \(freedButHeld), trimmed \(trimmed)")
    }

    /// What a busy node frees it soon allocates again (a compacted log's values, request
    /// bodies): the periodic trim leaves pages freed a moment ago mapped, so taking them again
    /// costs no page faults; a trim of every free page gives them back.
    @Test("pages freed a moment ago stay for reuse unless every free page is asked for")
    func idleTrimKeepsRecentlyFreedPages() throws {
        var blocks: [[UInt8]] = (0..<256).map { _ in [UInt8](repeating: 1, count: 1 << 20) }
        raftcache_malloc_trim(1)
        let full = try residentBytes()
        blocks = []
        let freed = try residentBytes()
        raftcache_malloc_trim(0)
        let afterIdleTrim = try residentBytes()
        raftcache_malloc_trim(1)
        let afterFullTrim = try residentBytes()
        withExtendedLifetime(blocks) {}
        // jemalloc may give some back as they are freed; the idle trim adds little to that.
        let note: Comment = "full \(full), freed \(freed), after the idle trim \(afterIdleTrim), after the full trim \(afterFullTrim)"
        #expect(freed - afterIdleTrim < 8 << 20, note)
        #expect(afterIdleTrim - afterFullTrim > 8 << 20, note)
    }
}
