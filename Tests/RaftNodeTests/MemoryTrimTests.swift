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
    /// 100 MB in small blocks, 99 in 100 freed: the one kept in each run of about 27 KB
    /// stops malloc from giving the run back by itself. The trim must give most of it back.
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
