import CProtobufC

#if canImport(Glibc)
import Glibc
#endif

/// Where protobuf-c puts what it unpacks: a message's structs and copies of its strings and
/// bytes, all read into Swift values at once and then dropped together. Bump-allocated from
/// a buffer on the stack, and past its end from heap blocks freed at the end; protobuf-c's
/// own frees do nothing. One unpack cost about five mallocs and frees; now none for a message
/// that fits the buffer.
struct UnpackArena {
    /// Bytes on the stack: a client's call, a batch of a few dozen small entries.
    static let stackBytes = 8 << 10

    private var base: UnsafeMutableRawPointer
    private var capacity: Int
    private var used = 0
    /// Heap blocks, each starting with the address of the one made before it.
    private var blocks: UnsafeMutableRawPointer?

    /// Runs `body` with an allocator for protobuf-c, valid only during `body`.
    static func with<R>(_ body: (UnsafeMutablePointer<ProtobufCAllocator>) throws -> R) rethrows -> R {
        try withUnsafeTemporaryAllocation(byteCount: stackBytes, alignment: 16) { buffer in
            var arena = UnpackArena(base: buffer.baseAddress!, capacity: buffer.count)
            defer { arena.freeBlocks() }
            return try withUnsafeMutablePointer(to: &arena) { arena in
                var allocator = ProtobufCAllocator(alloc: allocate, free: { _, _ in }, allocator_data: UnsafeMutableRawPointer(arena))
                return try body(&allocator)
            }
        }
    }

    private static let header = 16

    private static let allocate: @convention(c) (UnsafeMutableRawPointer?, Int) -> UnsafeMutableRawPointer? = { data, size in
        let arena = data!.assumingMemoryBound(to: UnpackArena.self)
        let start = (arena.pointee.used + 15) & ~15
        if size <= arena.pointee.capacity - start {
            arena.pointee.used = start + size
            return arena.pointee.base + start
        }
        guard size <= Int.max - header, let block = malloc(header + size) else { return nil }
        block.storeBytes(of: arena.pointee.blocks, as: UnsafeMutableRawPointer?.self)
        arena.pointee.blocks = block
        return block + header
    }

    private mutating func freeBlocks() {
        while let block = blocks {
            blocks = block.load(as: UnsafeMutableRawPointer?.self)
            free(block)
        }
    }
}
