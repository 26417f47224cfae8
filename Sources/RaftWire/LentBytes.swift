import CProtobufC

/// Byte fields at least this long are lent to protobuf-c for packing rather than copied into
/// the arena: each copy of a 1 MiB value is a megabyte moved, and page faults, on the loop.
let lendingThreshold = 4_096
/// At most this many fields of one message are lent: each is lent inside the one before
/// (the pointer is valid only in its closure), so this bounds how deep the closures go.
let maxLentFields = 64

/// Gives protobuf-c `count` byte fields, `field(i)` each, through `set(i, data)`: the large
/// ones lent (their own storage, valid only until `body` returns), the rest copied into
/// `arena`; then runs `body`.
func withCBinaries<R>(
    count: Int, _ field: (Int) -> [UInt8], in arena: CArena, set: (Int, ProtobufCBinaryData) -> Void, _ body: () throws -> R
) throws -> R {
    var lent = 0
    func fields(from start: Int) throws -> R {
        var i = start
        while i < count {
            let bytes = field(i)
            if bytes.count >= lendingThreshold, lent < maxLentFields {
                lent += 1
                return try bytes.withUnsafeBufferPointer { buffer in
                    // protobuf-c only reads a field it packs.
                    set(i, ProtobufCBinaryData(len: buffer.count, data: UnsafeMutablePointer(mutating: buffer.baseAddress)))
                    return try fields(from: i + 1)
                }
            }
            set(i, arena.binary(bytes))
            i += 1
        }
        return try body()
    }
    return try fields(from: 0)
}
