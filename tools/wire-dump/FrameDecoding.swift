import RaftWire

/// Turns a frame body into a `FrameRecord`, pairing responses with their requests.
enum FrameDecoding {
    static func decodeEnvelope(_ body: ArraySlice<UInt8>) throws -> Envelope {
        try body.withUnsafeBytes { try Envelope(wireBytes: $0) }
    }

    static func record(
        envelope: Envelope, time: Timestamp?, label: StreamLabel, offset: Int, size: Int, tracker: inout CallTracker
    ) -> FrameRecord {
        var method = envelope.method
        var latencyMs: Double?
        var isHeartbeat = false
        switch envelope.kind {
        case .request:
            if Method(rawValue: method) == .appendEntries {
                isHeartbeat = (try? AppendEntriesRequest(wireBytes: envelope.payload))?.entries.isEmpty ?? false
            }
            tracker.request(
                connection: label.connection, callID: envelope.callID,
                call: CallTracker.Call(method: method, time: time, isHeartbeat: isHeartbeat))
        case .response:
            if let call = tracker.response(connection: label.connection, callID: envelope.callID, more: envelope.more) {
                method = call.method
                isHeartbeat = call.isHeartbeat
                // A stream's responses before its last are not the call's answer: no latency.
                if let sent = call.time, let time, !envelope.more { latencyMs = (time.seconds - sent.seconds) * 1000 }
            }
        case .cancel:
            if let call = tracker.call(connection: label.connection, callID: envelope.callID) { method = call.method }
        }
        let (fields, payloadError) = decodePayload(envelope, method: method)
        return FrameRecord(
            time: time, label: label, offset: offset, size: size, envelope: envelope, method: method,
            latencyMs: latencyMs, isHeartbeat: isHeartbeat, fields: fields, payloadError: payloadError)
    }

    private static func decodePayload(_ envelope: Envelope, method: String) -> ([Field], String?) {
        do {
            if envelope.kind == .cancel { return ([], nil) }
            if envelope.kind == .response && envelope.status != .ok {
                guard !envelope.payload.isEmpty else { return ([], nil) }
                return (try ErrorDetail(wireBytes: envelope.payload).fields, nil)
            }
            guard let known = Method(rawValue: method) else {
                let reason = method.isEmpty ? nil : "unknown method"
                return (envelope.payload.isEmpty ? [] : [Field("payload", .bytes(envelope.payload))], reason)
            }
            return (try MessageFields.decode(method: known, kind: envelope.kind, payload: envelope.payload), nil)
        } catch {
            return ([Field("payload", .bytes(envelope.payload))], "\(error)")
        }
    }
}
