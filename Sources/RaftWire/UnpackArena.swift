import CProtobufC

/// Where protobuf-c puts what it unpacks: a message's structs and copies of its strings and
/// bytes, all read into Swift values at once and then dropped together. Bump-allocated
/// (BumpRegions) from a buffer on the stack, and past its end from heap blocks freed at the
/// end; protobuf-c's own frees do nothing. One unpack cost about five mallocs and frees; now
/// none for a message that fits the buffer.
struct UnpackArena {
    /// Bytes on the stack: a client's call, a batch of a few dozen small entries.
    static let stackBytes = 8 << 10

    private var regions: BumpRegions

    /// Runs `body` with an allocator for protobuf-c, valid only during `body`.
    static func with<R>(_ body: (UnsafeMutablePointer<ProtobufCAllocator>) throws -> R) rethrows -> R {
        try withUnsafeTemporaryAllocation(byteCount: stackBytes, alignment: 16) { buffer in
            var arena = UnpackArena(regions: BumpRegions(first: buffer, firstBlock: stackBytes))
            defer { arena.regions.freeAll() }
            return try withUnsafeMutablePointer(to: &arena) { arena in
                var allocator = ProtobufCAllocator(alloc: allocate, free: { _, _ in }, allocator_data: UnsafeMutableRawPointer(arena))
                return try body(&allocator)
            }
        }
    }

    private static let allocate: @convention(c) (UnsafeMutableRawPointer?, Int) -> UnsafeMutableRawPointer? = { data, size in
        data!.assumingMemoryBound(to: UnpackArena.self).pointee.regions.allocate(size)
    }
}
