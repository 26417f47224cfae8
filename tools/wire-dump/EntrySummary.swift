import RaftWire

/// A log entry list in a few words: how many, which indexes and terms, and what each does,
/// with commands decoded as the set or delete of a key.
enum EntrySummary {
    /// Entries listed one by one in the text line; the rest are counted.
    static let itemsShown = 6

    static func value(_ entries: [Entry]) -> FieldValue {
        guard let first = entries.first, let last = entries.last else {
            return .summary(text: "0", json: .object([Field("count", .number(0))]))
        }
        let terms = Set(entries.map(\.term))
        let termText = terms.count == 1 ? "t\(first.term)" : "t\(terms.min()!)..\(terms.max()!)"
        var items = entries.prefix(itemsShown).map(text)
        if entries.count > itemsShown { items.append("…+\(entries.count - itemsShown)") }
        let text = "\(entries.count)[\(first.index)..\(last.index) \(termText): \(items.joined(separator: ", "))]"
        let json = FieldValue.object([
            Field("count", .number(UInt64(entries.count))),
            Field("first_index", .number(first.index)), Field("last_index", .number(last.index)),
            Field("terms", .list(terms.sorted().map { .number($0) })),
            Field("items", .list(entries.map(item))),
        ])
        return .summary(text: text, json: json)
    }

    static func text(_ entry: Entry) -> String {
        switch entry.type {
        case .noop: return "noop"
        case .configuration:
            guard let configuration = try? Configuration(wireBytes: entry.data) else { return "config(bad data)" }
            return "config" + TextRendering.value(MessageFields.configuration(configuration))
        case .command:
            guard let command = try? Command(wireBytes: entry.data) else {
                return "command(bad data \(HexDump.excerpt(entry.data, limit: 8)))"
            }
            let condition = switch command.condition {
            case .none: ""
            case .modIndex(let index): " if mod \(index)"
            case .absent: " if absent"
            }
            let ttl = command.ttlMs > 0 ? " ttl \(command.ttlMs)ms" : ""
            let session = command.session.map { " session \($0.id)#\($0.sequence)" } ?? ""
            return describe(command, condition: condition, ttl: ttl) + session
        }
    }

    private static func describe(_ command: Command, condition: String, ttl: String) -> String {
        switch command.op {
        case .set: return "set \(TextRendering.bytes(command.key)) (\(command.value.count)B)\(condition)\(ttl)"
        case .delete: return "delete \(TextRendering.bytes(command.key))\(condition)"
        case .incr: return "incr \(TextRendering.bytes(command.key)) by \(command.by)"
        case .setTTL: return "ttl \(TextRendering.bytes(command.key))\(command.ttlMs > 0 ? ttl : " none")"
        case .expire: return "expire \(command.keys.count) keys"
        case .evict: return "evict \(command.keys.count) keys"
        case .txn:
            let txn = command.txn ?? TxnRequest()
            return "txn \(txn.compares.count) compares, \(txn.success.count)/\(txn.failure.count) ops"
        case .openSession: return "open session"
        case .expireSessions: return "expire \(command.sessionIDs.count) sessions idle \(command.ttlMs)ms"
        }
    }

    static func name(of op: CommandOp) -> String {
        switch op {
        case .set: "set"
        case .delete: "delete"
        case .incr: "incr"
        case .setTTL: "set_ttl"
        case .expire: "expire"
        case .evict: "evict"
        case .txn: "txn"
        case .openSession: "open_session"
        case .expireSessions: "expire_sessions"
        }
    }

    static func item(_ entry: Entry) -> FieldValue {
        var fields = [Field("index", .number(entry.index)), Field("term", .number(entry.term))]
        switch entry.type {
        case .noop: fields.append(Field("type", .text("noop")))
        case .configuration:
            fields.append(Field("type", .text("configuration")))
            if let configuration = try? Configuration(wireBytes: entry.data) {
                fields.append(Field("servers", MessageFields.configuration(configuration)))
            } else {
                fields.append(Field("error", .text("data is not a Configuration")))
            }
        case .command:
            fields.append(Field("type", .text("command")))
            if let command = try? Command(wireBytes: entry.data) {
                fields.append(Field("op", .text(Self.name(of: command.op))))
                fields.append(Field("key", .bytes(command.key)))
                if command.op == .set { fields.append(Field("value_size", .number(UInt64(command.value.count)))) }
                if command.op == .incr { fields.append(Field("by", .text(String(command.by)))) }
                if command.nowMs > 0 { fields.append(Field("now_ms", .number(command.nowMs))) }
                if command.ttlMs > 0 { fields.append(Field("ttl_ms", .number(command.ttlMs))) }
                if !command.keys.isEmpty { fields.append(Field("keys", .list(command.keys.map { .bytes($0) }))) }
                if let txn = command.txn {
                    fields.append(Field("compares", .number(UInt64(txn.compares.count))))
                    fields.append(Field("success_ops", .number(UInt64(txn.success.count))))
                    fields.append(Field("failure_ops", .number(UInt64(txn.failure.count))))
                }
                switch command.condition {
                case .none: break
                case .modIndex(let index): fields.append(Field("if_mod_index", .number(index)))
                case .absent: fields.append(Field("if_absent", .bool(true)))
                }
            } else {
                fields.append(Field("error", .text("data is not a Command")))
            }
        }
        return .object(fields)
    }
}
