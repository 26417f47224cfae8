// libFuzzer entry point over every decoder of RaftWire: the frame decoder, the
// envelope and each message. Built by tools/fuzz/build (see `make fuzz`), compiled
// into one module with Sources/RaftWire, under AddressSanitizer (which includes
// LeakSanitizer on Linux).
//
// Properties checked on every input: nothing crashes or leaks; whatever decodes
// re-encodes to bytes that decode to the same value.

let messageTypes: [any WireMessage.Type] =
    Method.allCases.flatMap { [$0.requestType, $0.responseType] }
    + [Envelope.self, ErrorDetail.self, Entry.self, Server.self, Configuration.self, SnapshotMetadata.self, Command.self]

func checkRoundTrip<M: WireMessage>(_ type: M.Type, _ bytes: UnsafeRawBufferPointer) {
    guard let decoded = try? M(wireBytes: bytes) else { return }
    guard let again = try? M(wireBytes: decoded.wireBytes()), again == decoded else {
        fatalError("\(M.self) does not survive a round trip")
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzWire(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    for type in messageTypes {
        checkRoundTrip(type, bytes)
    }
    // The same bytes as a stream, fed in two pieces, with a small frame limit too.
    for maxLength in [Frame.defaultMaxLength, 64] {
        var decoder = FrameDecoder(maxLength: maxLength)
        decoder.append(bytes.prefix(size / 2))
        while (try? decoder.next()) != nil {}
        decoder.append(bytes.dropFirst(size / 2))
        while (try? decoder.next()) != nil {}
    }
    return 0
}
