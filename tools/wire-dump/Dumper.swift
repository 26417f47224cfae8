import RaftWire

/// The shared back end of every source: bytes of labelled streams in, printed frames,
/// problems and the summary out.
struct Dumper: Sendable {
    enum Format: Sendable {
        case text
        case json
    }

    let format: Format
    let summaryOnly: Bool
    let filter: FrameFilter
    let maxFrameLength: Int
    var output: Output
    fileprivate var framers: [StreamLabel: StreamFramer] = [:]
    private var tracker = CallTracker()
    private(set) var summary = Summary()

    init(format: Format, summaryOnly: Bool, filter: FrameFilter, maxFrameLength: Int = Frame.defaultMaxLength, output: Output) {
        self.format = format
        self.summaryOnly = summaryOnly
        self.filter = filter
        self.maxFrameLength = maxFrameLength
        self.output = output
    }

    /// Bytes that arrived, in order, on one direction of a connection.
    mutating func receive(_ bytes: some Collection<UInt8>, on label: StreamLabel, at time: Timestamp?) {
        var framer = framers.removeValue(forKey: label) ?? StreamFramer(maxLength: maxFrameLength)
        defer { framers[label] = framer }
        let events = framer.append(bytes)
        for (position, event) in events.enumerated() {
            switch event {
            case .problem(let problem):
                report(problem, on: label, at: time, framesBefore: framer.framesSeen)
            case .frame(let body, let offset):
                let envelope: Envelope
                do {
                    envelope = try FrameDecoding.decodeEnvelope(body)
                } catch {
                    var bad: [UInt8] = []
                    Frame.appendHeader(length: body.count, to: &bad)
                    bad += body.prefix(28)
                    report(
                        StreamProblem(offset: offset, reason: "frame of \(body.count) bytes is not an Envelope (\(error))", bytes: bad),
                        on: label, at: time, framesBefore: framer.framesSeen - 1)
                    // The frames cut after this one were not real boundaries either.
                    let later = events[(position + 1)...].reduce(0) { total, event in
                        if case .frame(let body, _) = event { return total + Frame.headerLength + body.count }
                        return total
                    }
                    framer.abandon(alsoSkipping: later)
                    return
                }
                let record = FrameDecoding.record(
                    envelope: envelope, time: time, label: label, offset: offset,
                    size: Frame.headerLength + body.count, tracker: &tracker)
                show(record)
            }
        }
    }

    /// The stream ended (connection closed, end of capture): reports a partial frame.
    mutating func endStream(_ label: StreamLabel, at time: Timestamp?) {
        guard var framer = framers.removeValue(forKey: label) else { return }
        if let problem = framer.finish() { report(problem, on: label, at: time, framesBefore: framer.framesSeen) }
        if framer.skippedBytes > 0 {
            note("c\(label.connection) \(label.source) > \(label.destination): skipped \(framer.skippedBytes) bytes after the problem above")
        }
    }

    /// Something about the input as a whole, e.g. a truncated capture.
    mutating func note(_ text: String) {
        switch format {
        case .text: output.line("# " + text)
        case .json: output.line(JSONRendering.object([Field("kind", .text("note")), Field("note", .text(text))]))
        }
    }

    /// Ends every stream, prints the summary if asked, and flushes.
    mutating func finish() {
        for label in framers.keys.sorted(by: { ($0.connection, $0.source) < ($1.connection, $1.source) }) {
            endStream(label, at: nil)
        }
        if summaryOnly {
            output.line(format == .json ? summary.json : summary.text)
        }
        output.flush()
    }

    private mutating func show(_ record: FrameRecord) {
        guard filter.accepts(record) else { return }
        summary.add(record)
        guard !summaryOnly else { return }
        output.line(format == .json ? record.json : record.text)
    }

    fileprivate mutating func report(_ problem: StreamProblem, on label: StreamLabel, at time: Timestamp?, framesBefore: Int) {
        guard filter.acceptsStream(label) else { return }
        summary.addProblem()
        let reason = framesBefore == 0 && problem.offset == 0 ? "not raft-cache frames: \(problem.reason)" : problem.reason
        switch format {
        case .text:
            output.line(
                "\(time?.timeOfDay ?? "+\(problem.offset)") c\(label.connection) \(label.source) > \(label.destination) "
                    + "PROBLEM at offset \(problem.offset): \(reason); bytes: \(HexDump.excerpt(problem.bytes))")
        case .json:
            output.line(JSONRendering.object([
                Field("kind", .text("problem")), Field("conn", .number(UInt64(label.connection))),
                Field("src", .text(label.source)), Field("dst", .text(label.destination)),
                Field("offset", .number(UInt64(problem.offset))), Field("reason", .text(reason)),
                Field("bytes", .text(HexDump.hex(problem.bytes))),
            ]))
        }
        if output.flushEachLine { output.flush() }
    }
}

extension Dumper {
    /// Bytes of the stream that the capture does not have: frames cannot be found after them.
    mutating func gap(on label: StreamLabel, missing: Int, at time: Timestamp?) {
        var framer = framers.removeValue(forKey: label) ?? StreamFramer(maxLength: maxFrameLength)
        defer { framers[label] = framer }
        guard !framer.abandoned else { return }
        let problem = framer.abandon(reason: "\(missing) bytes of the stream are missing from the capture")
        report(problem, on: label, at: time, framesBefore: 1)
    }
}
