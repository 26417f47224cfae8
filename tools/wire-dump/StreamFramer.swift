import RaftWire

/// Cuts one direction of a connection into frame bodies. Unlike the transport's decoder it
/// never throws: a length over the limit is reported with the bytes around it and the rest
/// of the stream is skipped, since nothing marks where the next frame would start. Memory
/// stays bounded by one frame of at most `maxLength` bytes.
struct StreamFramer: Sendable {
    enum Event: Sendable {
        /// A whole frame's envelope bytes; `offset` is where its header starts in the stream.
        case frame(body: ArraySlice<UInt8>, offset: Int)
        case problem(StreamProblem)
    }

    let maxLength: Int
    private var buffer: [UInt8] = []
    private var readIndex = 0
    /// The stream offset of `buffer[0]`.
    private var bufferOffset = 0
    /// Set once the stream stopped being frames; later bytes are only counted.
    private(set) var abandoned = false
    private(set) var skippedBytes = 0
    private(set) var framesSeen = 0

    init(maxLength: Int = Frame.defaultMaxLength) {
        self.maxLength = maxLength
    }

    var bufferedByteCount: Int { buffer.count - readIndex }
    var streamOffset: Int { bufferOffset + readIndex }

    /// Adds bytes and returns the frames (and at most one problem) they complete.
    mutating func append(_ bytes: some Collection<UInt8>) -> [Event] {
        if abandoned {
            skippedBytes += bytes.count
            return []
        }
        compact()
        buffer.append(contentsOf: bytes)
        var events: [Event] = []
        while bufferedByteCount >= Frame.headerLength {
            let header = buffer[readIndex..<readIndex + Frame.headerLength]
            guard let length = try? Frame.bodyLength(header: header, maxLength: maxLength) else {
                let announced = header.reduce(0) { $0 << 8 | Int($1) }
                events.append(.problem(abandon(
                    reason: "length prefix \(announced) is over the limit of \(maxLength) bytes")))
                break
            }
            guard bufferedByteCount >= Frame.headerLength + length else { break }
            let start = readIndex + Frame.headerLength
            events.append(.frame(body: buffer[start..<start + length], offset: streamOffset))
            readIndex = start + length
            framesSeen += 1
        }
        return events
    }

    /// Called at the end of the stream: the partial frame left, if any.
    mutating func finish() -> StreamProblem? {
        guard !abandoned, bufferedByteCount > 0 else { return nil }
        var announced = ""
        if bufferedByteCount >= Frame.headerLength {
            let length = buffer[readIndex..<readIndex + Frame.headerLength].reduce(0) { $0 << 8 | Int($1) }
            announced = " of \(Frame.headerLength + length)"
        }
        let problem = StreamProblem(
            offset: streamOffset,
            reason: "stream ended inside a frame (\(bufferedByteCount)\(announced) bytes)",
            bytes: Array(buffer[readIndex...].prefix(32)))
        readIndex = buffer.count
        return problem
    }

    /// Gives up on the stream at the current frame: reports it and drops what is buffered.
    mutating func abandon(reason: String) -> StreamProblem {
        let problem = StreamProblem(offset: streamOffset, reason: reason, bytes: Array(buffer[readIndex...].prefix(32)))
        abandoned = true
        skippedBytes += bufferedByteCount
        buffer = []
        readIndex = 0
        return problem
    }

    /// Gives up on the stream after a frame that turned out not to be one; `bytes` were
    /// already cut into frames past it and count as skipped too.
    mutating func abandon(alsoSkipping bytes: Int) {
        _ = abandon(reason: "")
        skippedBytes += bytes
    }

    private mutating func compact() {
        guard readIndex > 0 else { return }
        buffer.removeSubrange(0..<readIndex)
        bufferOffset += readIndex
        readIndex = 0
    }
}

/// Bytes of a stream that are not what the protocol says, and where.
struct StreamProblem: Sendable, Equatable {
    let offset: Int
    let reason: String
    let bytes: [UInt8]
}
