import RaftWire

/// How each command changes the map: the same on every replica, given the same entries.
extension CacheStore.State {
    var memoryUsed: UInt64 { UInt64(values.bytes) + UInt64(values.count) * CacheStore.entryOverhead }

    mutating func apply(_ command: Command, index: UInt64) -> CacheStore.Outcome {
        logClock = max(logClock, command.nowMs)
        guard let tag = command.session else { return perform(command, index: index) }
        switch sessions.admit(tag, now: logClock) {
        case .refused(let why): return .sessionRefused(why)
        case .repeated(let answer): return .repeated(index: answer.index, outcome: answer.outcome)
        case .apply:
            let outcome = perform(command, index: index)
            sessions.record(tag, ClientSessions.Answer(index: index, outcome: outcome))
            return outcome
        }
    }

    /// What `command` does to the map, once it is known to be applied.
    private mutating func perform(_ command: Command, index: UInt64) -> CacheStore.Outcome {
        if command.condition != .none {
            let current = live(command.key)?.version
            guard command.condition.holds(for: current) else { return .conditionFailed(current: current) }
        }
        switch command.op {
        case .set:
            set(command.key, to: command.value, index: index, ttlMs: command.ttlMs)
            return .set
        case .delete:
            let existed = live(command.key) != nil
            remove(command.key, as: .delete)
            return .deleted(existed: existed)
        case .incr:
            return increment(command.key, by: command.by, index: index)
        case .setTTL:
            guard let pair = live(command.key) else { return .notFound }
            // Not a change a watch streams: the value and its version stay.
            put(pair.with(expiresAt: expiry(ttlMs: command.ttlMs)), as: nil)
            return .ttlChanged
        case .expire:
            var removed = 0
            for key in command.keys where values.pair(key)?.hasExpired(by: logClock) == true {
                remove(key, as: .expire)
                removed += 1
            }
            expiredKeys += UInt64(removed)
            return .removed(count: removed)
        case .evict:
            guard command.keys.count == command.modIndexes.count else { return .malformed }
            var removed = 0
            for (key, modIndex) in zip(command.keys, command.modIndexes) {
                guard let pair = values.pair(key), pair.version.modIndex == modIndex, !command.onlyExpiring || pair.expiresAt != 0 else {
                    continue
                }
                remove(key, as: .evict)
                removed += 1
            }
            evictedKeys += UInt64(removed)
            return .removed(count: removed)
        case .txn:
            guard let txn = command.txn else { return .malformed }
            return transaction(txn, index: index)
        case .openSession:
            return sessions.open(id: index, now: logClock) ? .sessionOpened(id: index) : .sessionRefused(.tooManySessions)
        case .expireSessions:
            return .removed(count: sessions.expire(command.sessionIDs, idleMs: command.ttlMs, now: logClock))
        }
    }

    /// The pair of `key` unless it is missing or has expired by the log's clock.
    func live(_ key: [UInt8]) -> Pair? {
        values.pair(key).flatMap { $0.hasExpired(by: logClock) ? nil : $0 }
    }

    /// The expiry of a key given `ttlMs` now (0: none). Both are below 2^63 (the wire's
    /// limit), so the sum cannot overflow.
    func expiry(ttlMs: UInt64) -> UInt64 {
        ttlMs == 0 ? 0 : logClock + ttlMs
    }

    /// Puts `pair` in, replacing its key's, with the index of expiry kept in step; records the
    /// change as `kind` (nil: none), after the expiry of a pair it replaces that had expired.
    mutating func put(_ pair: Pair, as kind: WatchEventKind? = .set) {
        pair.statistics = EvictionPool.fresh(now: logClock)
        let old = values.insert(pair)
        if let old {
            if kind != nil, old.hasExpired(by: logClock) { changes.append(Change(kind: .expire, pair: old)) }
        }
        expiring.replace(old, with: pair)
        if let kind { changes.append(Change(kind: kind, pair: pair)) }
    }

    /// Takes `key` out (expired or not), recorded as `kind`, or as an expiry if it had expired.
    mutating func remove(_ key: [UInt8], as kind: WatchEventKind) {
        guard let old = values.remove(key) else { return }
        expiring.remove(old)
        changes.append(Change(kind: old.hasExpired(by: logClock) ? .expire : kind, pair: old))
    }

    /// Sets `key` by the entry at `index`: it keeps its create index if it was live.
    mutating func set(_ key: [UInt8], to value: [UInt8], index: UInt64, ttlMs: UInt64) {
        let created = live(key)?.version.createIndex ?? index
        put(ShardedMap.makePair(key: key, value: value, version: KeyVersion(createIndex: created, modIndex: index), expiresAt: expiry(ttlMs: ttlMs)))
    }

    /// Adds `amount` to the key's decimal value (a missing key counts as 0); a live key keeps
    /// its time to live.
    mutating func increment(_ key: [UInt8], by amount: Int64, index: UInt64) -> CacheStore.Outcome {
        let pair = live(key)
        let current = pair.map { pair in pair.withValue { Self.decimal($0) } } ?? 0
        guard let current else { return .notIncremented(reason: "the value is not a decimal 64-bit integer") }
        let (sum, overflow) = current.addingReportingOverflow(amount)
        guard !overflow else { return .notIncremented(reason: "\(current) + \(amount) is outside the 64-bit range") }
        let version = KeyVersion(createIndex: pair?.version.createIndex ?? index, modIndex: index)
        put(ShardedMap.makePair(key: key, value: Array(String(sum).utf8), version: version, expiresAt: pair?.expiresAt ?? 0))
        return .incremented(to: sum)
    }

    /// `bytes` as a decimal 64-bit integer: an optional "-", then 1 to 19 digits; nil otherwise.
    static func decimal(_ bytes: UnsafeRawBufferPointer) -> Int64? {
        let digits = bytes.first == UInt8(ascii: "-") ? bytes.dropFirst() : bytes[...]
        guard (1...19).contains(digits.count), digits.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else {
            return nil
        }
        return Int64(String(decoding: bytes, as: UTF8.self))
    }

    // MARK: Transactions

    /// Runs the success or the failure branch, as the compares say, and answers what each of
    /// its operations found or did.
    mutating func transaction(_ txn: TxnRequest, index: UInt64) -> CacheStore.Outcome {
        let succeeded = txn.compares.allSatisfy(holds)
        var results: [CacheStore.OpResult] = []
        let ops = succeeded ? txn.success : txn.failure
        results.reserveCapacity(ops.count)
        for op in ops {
            switch op.type {
            case .get:
                results.append(live(op.key).map { Self.result(of: $0, at: logClock) } ?? CacheStore.OpResult(found: false))
            case .set:
                set(op.key, to: op.value, index: index, ttlMs: op.ttlMs)
                results.append(live(op.key).map { Self.result(of: $0, at: logClock, withValue: false) } ?? CacheStore.OpResult(found: true))
            case .delete:
                results.append(CacheStore.OpResult(found: live(op.key) != nil))
                remove(op.key, as: .delete)
            }
        }
        return .txn(succeeded: succeeded, results: results)
    }

    /// Whether `compare` holds for its key now. A missing key fails every comparison of its
    /// value, and has mod index 0.
    func holds(_ compare: Compare) -> Bool {
        let pair = live(compare.key)
        switch compare.target {
        case .exists:
            switch compare.result {
            case .equal: return pair != nil
            case .notEqual: return pair == nil
            case .less, .greater: return false
            }
        case .value:
            guard let pair else { return false }
            let ordering: CompareResult.Ordering = pair.withValue { value in
                compare.value.withUnsafeBytes { given in
                    value.lexicographicallyPrecedes(given) ? .less : given.lexicographicallyPrecedes(value) ? .greater : .same
                }
            }
            return compare.result.holds(ordering)
        case .modIndex:
            let modIndex = pair?.version.modIndex ?? 0
            return compare.result.holds(modIndex < compare.modIndex ? .less : modIndex > compare.modIndex ? .greater : .same)
        }
    }

    static func result(of pair: Pair, at now: UInt64, withValue: Bool = true) -> CacheStore.OpResult {
        let stored = StoredValue(pair: pair)
        return CacheStore.OpResult(found: true, value: withValue ? stored : nil, version: pair.version, ttlMs: stored.ttlMs(at: now))
    }
}
