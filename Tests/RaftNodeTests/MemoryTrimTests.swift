import CMallocTrim
import Foundation
import Testing

/// Resident memory of this process, from /proc/self/statm.
private func residentBytes() throws -> Int {
    let fields = try String(contentsOfFile: "/proc/self/statm", encoding: .utf8).split(separator: " ")
    return Int(fields[1])! * Int(sysconf(Int32(_SC_PAGESIZE)))
}

@Suite("Returning free memory")
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
    /// stops malloc from giving the run back at once. The trim (jemalloc's purge, as the test
    /// above checks) must give most of it back.
    @Test("freed small blocks between live ones go back to the system")
    func trimReturnsFreedPages() throws {
        var blocks: [[UInt8]] = (0..<400_000).map { _ in [UInt8](repeating: 1, count: 240) }
        raftcache_malloc_trim()
        let full = try residentBytes()
        blocks = blocks.enumerated().map { index, block in index % 100 == 0 ? block : [] }
        let freedButHeld = try residentBytes()
        raftcache_malloc_trim()
        let trimmed = try residentBytes()
        withExtendedLifetime(blocks) {}
        // About 100 MB freed; most of it must leave (the live blocks pin a page each).
        #expect(freedButHeld - trimmed > 40 << 20, "full \(full), freed \(freedButHeld), trimmed \(trimmed)")
    }
}
