#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Memory cut in order from regions and given back all at once: a first region its owner
/// may supply (a buffer on the stack), then heap blocks, the first of `firstBlock` bytes and
/// each after it at least twice the one before, linked through their first bytes. The C
/// structures protobuf-c packs from (CArena) and unpacks into (UnpackArena) come from here.
struct BumpRegions {
    private var region: UnsafeMutableRawPointer?
    private var used = 0
    private var capacity = 0
    /// The newest heap block; its first bytes hold the address of the block before it.
    private var newestBlock: UnsafeMutableRawPointer?
    private let firstBlock: Int
    private static let header = 16

    init(first region: UnsafeMutableRawBufferPointer? = nil, firstBlock: Int) {
        self.region = region?.baseAddress
        capacity = region?.count ?? 0
        self.firstBlock = firstBlock
    }

    /// `size` bytes, 16-byte aligned (uninitialized); nil when the heap has none to give.
    mutating func allocate(_ size: Int) -> UnsafeMutableRawPointer? {
        var start = (used + 15) & ~15
        if region == nil || size > capacity - start {
            guard size <= Int.max / 2 else { return nil }
            let blockSize = Swift.max(firstBlock, Swift.min(capacity, Int.max / 4) * 2, Self.header + size)
            guard let block = malloc(blockSize) else { return nil }
            block.storeBytes(of: newestBlock, as: UnsafeMutableRawPointer?.self)
            newestBlock = block
            region = block
            capacity = blockSize
            start = Self.header
        }
        used = start + size
        return region! + start
    }

    /// Gives back every heap block; nothing allocated before may be used after.
    mutating func freeAll() {
        while let block = newestBlock {
            newestBlock = block.load(as: UnsafeMutableRawPointer?.self)
            free(block)
        }
        region = nil
        used = 0
        capacity = 0
    }
}
