/// `--raw FILE` or `--raw -`: one byte stream of frames, as a connection would carry them.
enum RawSource {
    static func run(path: String, into dumper: inout Dumper) throws {
        let reader = try ByteReader(path: path)
        let label = StreamLabel(connection: 1, source: path == "-" ? "stdin" : path, destination: "-")
        while let chunk = try reader.nextChunk() {
            dumper.receive(chunk, on: label, at: nil)
        }
        dumper.endStream(label, at: nil)
    }
}
