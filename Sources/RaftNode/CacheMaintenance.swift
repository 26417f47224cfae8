import CacheStore
import NIOCore
import RaftWire

/// The leader's own writes that keep the cache a cache: it removes keys that have expired
/// and, over the memory bound, evicts keys by the policy, and ends client sessions idle past
/// --session-timeout, each as a command through the log, so every member removes the same
/// keys and sessions at the same index. One batch of each kind is in
/// flight at a time; the next goes as soon as it is applied, so a million keys that expire
/// together leave a thousand at a time, between the clients' writes.
final class CacheMaintenance: @unchecked Sendable {  // Used on the node's loop only.
    static let batchSize = 1_000

    private unowned let node: RaftNode
    private var expiring = false
    private var evicting = false
    private var endingSessions = false
    /// Idle sessions are looked for once a second (leader's clock, Unix milliseconds).
    private var nextSessionSweep: UInt64 = 0
    /// Eviction found nothing it may evict: it tries again at the next tick, not at every Ready.
    private var nothingToEvict = false

    init(node: RaftNode) {
        self.node = node
    }

    /// Proposes whatever is due (on the node's loop): at each tick, after each Ready and after
    /// each batch.
    func run(tick: Bool = false) {
        node.loop.preconditionInEventLoop()
        if tick { nothingToEvict = false }
        guard node.isLeaderOnLoop else { return }
        let now = UnixClock.milliseconds()
        if !expiring {
            let keys = node.store.expiredKeys(by: now, limit: Self.batchSize)
            if !keys.isEmpty {
                expiring = true
                propose(Command(op: .expire, nowMs: now, keys: keys), .expiry)
            }
        }
        if tick, !endingSessions, now >= nextSessionSweep {
            nextSessionSweep = now + 1_000
            let idleMs = UInt64(max(1, node.options.sessionTimeout.nanoseconds / 1_000_000))
            let ids = node.store.idleSessions(idleMs: idleMs, now: now, limit: Self.batchSize)
            if !ids.isEmpty {
                endingSessions = true
                propose(Command(op: .expireSessions, nowMs: now, ttlMs: idleMs, sessionIDs: ids), .sessions)
            }
        }
        if !evicting, !nothingToEvict, let bound = node.options.memoryBound, bound.policy != .noEviction {
            let used = node.store.memoryUsed
            // Down to 99% of the bound, so writes that follow do not start eviction at once.
            let target = bound.maxBytes / 100 * 99
            if used > bound.maxBytes {
                let choices = node.store.evictionChoices(policy: bound.policy, bytes: used - target, limit: Self.batchSize, now: now)
                nothingToEvict = choices.isEmpty
                if !choices.isEmpty {
                    evicting = true
                    let command = Command(
                        op: .evict, nowMs: now, keys: choices.map(\.key), modIndexes: choices.map(\.modIndex),
                        onlyExpiring: bound.policy.volatileOnly)
                    propose(command, .eviction)
                }
            }
        }
    }

    private enum Kind { case expiry, eviction, sessions }

    private func propose(_ command: Command, _ kind: Kind) {
        let bytes = try? command.wireBytes()
        guard let bytes else { return finished(kind) }
        node.proposeCommand(bytes).whenComplete { [self] result in
            finished(kind)
            // On to the next batch once this one is applied; after a refusal (which may come at
            // once, within this call), at the next tick.
            if case .success = result { node.loop.execute { [self] in run() } }
        }
    }

    private func finished(_ kind: Kind) {
        switch kind {
        case .expiry: expiring = false
        case .eviction: evicting = false
        case .sessions: endingSessions = false
        }
    }
}
