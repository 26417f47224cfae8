import RaftWire

/// What to remove when the map is over its memory bound: Redis' policies, by its names.
public enum EvictionPolicy: String, Sendable, CaseIterable {
    /// Remove nothing: writes that would pass the bound are refused.
    case noEviction = "noeviction"
    /// The least recently used key, of all keys.
    case allKeysLRU = "allkeys-lru"
    /// The least frequently used key, of all keys.
    case allKeysLFU = "allkeys-lfu"
    /// The least recently used key, of the keys with a time to live.
    case volatileLRU = "volatile-lru"
    /// The key nearest to its expiry.
    case volatileTTL = "volatile-ttl"

    public var volatileOnly: Bool { self == .volatileLRU || self == .volatileTTL }
}

/// A key the leader chose to evict, and the mod index it had: the eviction applies only if
/// the key is still at that version (a key set again since is not evicted for its old value).
public struct EvictionChoice: Sendable, Equatable {
    public var key: [UInt8]
    public var modIndex: UInt64
}

extension CacheStore {
    /// Keys to evict under `policy` so that about `bytes` of memory (as `memoryUsed` counts it)
    /// are freed, at most `limit` and about `keyBytes` of keys (so the entry evicting them stays
    /// small): approximately the best by the policy, from random samples kept in a small pool
    /// of candidates across calls, as Redis does. Empty when nothing qualifies (no keys, or
    /// none with a time to live for the volatile policies).
    public func evictionChoices(policy: EvictionPolicy, bytes: UInt64, limit: Int, now: UInt64, keyBytes: Int = 1 << 20) -> [EvictionChoice] {
        guard policy != .noEviction else { return [] }
        return state.withLock { state in
            var chosen: [EvictionChoice] = []
            var freed: UInt64 = 0, keyTotal = 0
            var taken = Set<ObjectIdentifier>()
            let values = state.values  // Shared, not copied: nothing writes it meanwhile.
            while freed < bytes, chosen.count < limit, keyTotal < keyBytes {
                let sampled = state.eviction.sample(from: values, volatileOnly: policy.volatileOnly)
                guard let pair = state.eviction.best(policy: policy, adding: sampled, now: now, isCurrent: { pair in
                    !taken.contains(ObjectIdentifier(pair)) && values.pair(pair.key) === pair
                }) else { break }
                taken.insert(ObjectIdentifier(pair))
                chosen.append(EvictionChoice(key: pair.key, modIndex: pair.version.modIndex))
                freed += UInt64(pair.keyCount + pair.valueCount) + Self.entryOverhead
                keyTotal += pair.keyCount
            }
            return chosen
        }
    }
}

/// The leader's side of eviction, kept with the map but not replicated: access statistics
/// of reads and writes, and the pool of candidates.
struct EvictionPool {
    /// How many keys each round samples, and how many candidates the pool keeps (Redis' 5, 16).
    static let samples = 5
    static let size = 16
    /// A new key's frequency, so it is not the first evicted (Redis' LFU_INIT_VAL).
    static let initialFrequency: UInt8 = 5

    private var candidates: [Pair] = []
    private var rng = SplitMix64(seed: UInt64.random(in: 0...UInt64.max))

    static func fresh(now: UInt64) -> AccessStatistics {
        AccessStatistics(lastAccess: Self.stamp(now), frequency: Self.initialFrequency)
    }

    /// Counts a read of `pair` at `now` (Unix milliseconds).
    mutating func touch(_ pair: Pair, now: UInt64) {
        var statistics = pair.statistics
        var frequency = Self.decayed(statistics, now: now)
        // Logarithmic: each access is less likely to count the higher the count (Redis' lfu-log-factor 10).
        if frequency < 255 {
            let base = Double(max(0, Int(frequency) - Int(Self.initialFrequency)))
            if Double.random(in: 0..<1, using: &rng) < 1 / (base * 10 + 1) { frequency += 1 }
        }
        statistics.frequency = frequency
        statistics.lastAccess = Self.stamp(now)
        pair.statistics = statistics
    }

    /// Up to `samples` random pairs, only those with a time to live when `volatileOnly` (with
    /// a bounded number of tries: few such keys give few samples).
    mutating func sample(from map: ShardedMap, volatileOnly: Bool) -> [Pair] {
        guard volatileOnly else { return map.sample(Self.samples, using: &rng) }
        var found: [Pair] = []
        for _ in 0..<10 where found.count < Self.samples {
            found += map.sample(Self.samples, using: &rng).filter { $0.expiresAt != 0 }
        }
        return found
    }

    /// Adds `sampled` to the pool and takes out its best candidate by `policy` that is still
    /// current in the map.
    mutating func best(policy: EvictionPolicy, adding sampled: [Pair], now: UInt64, isCurrent: (Pair) -> Bool) -> Pair? {
        for pair in sampled where !candidates.contains(where: { $0 === pair }) { candidates.append(pair) }
        candidates.removeAll { !isCurrent($0) }
        let scored = candidates.map { (pair: $0, score: Self.score($0, policy: policy, now: now)) }.sorted { $0.score > $1.score }
        candidates = scored.prefix(Self.size).map(\.pair)
        guard !candidates.isEmpty else { return nil }
        return candidates.removeFirst()
    }

    /// Higher is evicted first: idle time (LRU), rarity (LFU), nearness of expiry (TTL).
    static func score(_ pair: Pair, policy: EvictionPolicy, now: UInt64) -> UInt64 {
        let statistics = pair.statistics
        switch policy {
        case .noEviction: return 0
        case .allKeysLRU, .volatileLRU: return UInt64(idleMilliseconds(statistics, now: now))
        case .allKeysLFU: return UInt64(255 - decayed(statistics, now: now))
        case .volatileTTL: return UInt64.max - pair.expiresAt
        }
    }

    /// The frequency less one for each minute since the last access (Redis' lfu-decay-time 1).
    static func decayed(_ statistics: AccessStatistics, now: UInt64) -> UInt8 {
        let idleMinutes = idleMilliseconds(statistics, now: now) / 60_000
        return UInt8(max(0, Int(statistics.frequency) - Int(min(idleMinutes, 255))))
    }

    /// Milliseconds since the last access, on a 32-bit clock that wraps every 49 days; an
    /// access that seems to be in the future (another member's clock) counts as now.
    static func idleMilliseconds(_ statistics: AccessStatistics, now: UInt64) -> UInt32 {
        let idle = stamp(now) &- statistics.lastAccess
        return idle > UInt32.max / 2 ? 0 : idle
    }

    /// `milliseconds` (Unix) on the statistics' 32-bit clock.
    static func stamp(_ milliseconds: UInt64) -> UInt32 {
        UInt32(truncatingIfNeeded: milliseconds)
    }
}

/// How much memory the map may count (`CacheStore.Summary.memoryUsed`) and what happens at it.
public struct MemoryBound: Sendable, Equatable {
    public var maxBytes: UInt64
    public var policy: EvictionPolicy

    public init(maxBytes: UInt64, policy: EvictionPolicy) {
        self.maxBytes = maxBytes
        self.policy = policy
    }
}
