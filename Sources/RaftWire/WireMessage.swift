/// A message of Protos/*.proto as a Swift value, with its binary encoding.
///
/// Encoding and decoding go through the protoc-c code in Modules/RaftProtoC, so every
/// implementation built from the same .proto files agrees on the bytes.
public protocol WireMessage: Sendable, Equatable {
    /// Decodes protobuf bytes; throws `WireError` for anything that is not a valid encoding.
    init(wireBytes: UnsafeRawBufferPointer) throws
    /// The protobuf encoding of this value.
    func wireBytes() throws -> [UInt8]
}

extension WireMessage {
    public init(wireBytes bytes: [UInt8]) throws {
        self = try bytes.withUnsafeBytes { try Self(wireBytes: $0) }
    }
}
