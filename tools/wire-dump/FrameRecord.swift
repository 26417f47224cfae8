import RaftWire

/// A frame as printed: where and when it was seen, its envelope, and its decoded message.
struct FrameRecord: Sendable {
    let time: Timestamp?
    let label: StreamLabel
    let offset: Int
    /// Header and envelope.
    let size: Int
    let envelope: Envelope
    /// The request's method; for a response, the method of the request it answers ("" if unseen).
    let method: String
    let latencyMs: Double?
    let isHeartbeat: Bool
    let fields: [Field]
    /// Why the payload could not be decoded, if it could not.
    let payloadError: String?

    var shortMethod: String {
        let prefix = "/raftcache."
        if method.isEmpty { return "?" }
        return method.hasPrefix(prefix) ? String(method.dropFirst(prefix.count)) : method
    }

    var text: String {
        var parts = [time?.timeOfDay ?? "+\(offset)", "c\(label.connection)", "\(label.source) > \(label.destination)"]
        switch envelope.kind {
        case .request:
            parts += ["request", "#\(envelope.callID)", shortMethod, "\(size)B"]
            if envelope.timeoutMs > 0 { parts.append("timeout=\(envelope.timeoutMs)ms") }
            if envelope.hops > 0 { parts.append("hops=\(envelope.hops)") }
            if let session = envelope.session {
                parts.append("session=\(session.id)#\(session.sequence)" + (session.ackedBelow > 0 ? " acked_below=\(session.ackedBelow)" : ""))
            }
        case .response:
            parts += ["response", "#\(envelope.callID)", shortMethod, envelope.status.description, "\(size)B"]
            if envelope.more { parts.append("more") }
            if let latencyMs { parts.append("\(Decimals.three(latencyMs))ms") }
            if !envelope.message.isEmpty { parts.append(TextRendering.quoted(envelope.message)) }
        case .cancel:
            parts += ["cancel", "#\(envelope.callID)", shortMethod, "\(size)B"]
        }
        let message = TextRendering.fields(fields)
        if !message.isEmpty { parts.append(message) }
        if let payloadError { parts.append("payload-error=\(TextRendering.quoted(payloadError))") }
        return parts.joined(separator: " ")
    }

    static func name(of kind: FrameKind) -> String {
        switch kind {
        case .request: "request"
        case .response: "response"
        case .cancel: "cancel"
        }
    }

    var json: String {
        var out: [Field] = []
        if let time { out += [Field("time", .text(time.timeOfDay)), Field("ts", .real(time.seconds))] }
        out += [
            Field("conn", .number(UInt64(label.connection))), Field("src", .text(label.source)),
            Field("dst", .text(label.destination)), Field("offset", .number(UInt64(offset))),
            Field("kind", .text(Self.name(of: envelope.kind))),
            Field("call_id", .number(envelope.callID)), Field("method", .text(method)),
            Field("size", .number(UInt64(size))),
        ]
        switch envelope.kind {
        case .request:
            out += [Field("timeout_ms", .number(UInt64(envelope.timeoutMs))), Field("hops", .number(UInt64(envelope.hops)))]
            if let session = envelope.session {
                out.append(Field("session", .object([
                    Field("id", .number(session.id)), Field("sequence", .number(session.sequence)),
                    Field("acked_below", .number(session.ackedBelow)),
                ])))
            }
        case .response:
            out.append(Field("status", .text(envelope.status.description)))
            if envelope.more { out.append(Field("more", .bool(true))) }
        case .cancel:
            break
        }
        if let latencyMs { out.append(Field("latency_ms", .real(latencyMs))) }
        if !envelope.message.isEmpty { out.append(Field("status_message", .text(envelope.message))) }
        if isHeartbeat { out.append(Field("heartbeat", .bool(true))) }
        out.append(Field("message", .object(fields)))
        if let payloadError { out.append(Field("payload_error", .text(payloadError))) }
        return JSONRendering.object(out)
    }
}
