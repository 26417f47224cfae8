import CacheStore
import NIOCore
import RaftWire

/// Where a watch's messages go: a connection that encodes and writes them (an HTTP stream,
/// a binary call's responses). Used on the node's loop only.
public protocol WatchSink: AnyObject {
    /// Sends one message; false when the watcher has fallen behind its buffer (it is then
    /// ended with that reason).
    func send(_ message: WatchMessage) -> Bool
    /// Whether a watcher catching up from the history may be sent more now (half its buffer
    /// is free): the history is replayed no faster than the connection takes it.
    var hasRoom: Bool { get }
    /// The watch is over: `error` says why (nil: the caller went away or cancelled).
    func end(_ error: RPCError?)
}

/// The changes one log entry made to the keys a watcher follows; with none, a progress note
/// (everything up to `index` has been sent).
public struct WatchMessage {
    public var index: UInt64
    public var changes: [Change]
    /// Leave values out.
    public var keysOnly: Bool
    /// Shared by every watcher sent the same message (nil: this watcher's alone).
    var encodings: WatchEncodings? = nil

    /// What `encode` makes of this message under `name`: made once for every watcher that
    /// shares the message, so a value written to a key a thousand watch is encoded once.
    public func encoded<Encoding>(as name: String, _ encode: () -> Encoding) -> Encoding {
        encodings?.encoded(as: name, encode) ?? encode()
    }
}

/// A message's encodings, by the sink's name for them. On the node's loop only.
final class WatchEncodings {
    private var made: [String: Any] = [:]

    func encoded<Encoding>(as name: String, _ encode: () -> Encoding) -> Encoding {
        // In two steps: a missing entry cast to an optional Encoding would pass as nil.
        if let known = made[name], let typed = known as? Encoding { return typed }
        let encoding = encode()
        made[name] = encoding
        return encoding
    }
}

/// A watch in force; `cancel()` ends it (the caller went away).
public final class WatchHandle: @unchecked Sendable {
    fileprivate let hub: WatchHub
    fileprivate let watcher: WatchHub.Watcher

    fileprivate init(hub: WatchHub, watcher: WatchHub.Watcher) {
        self.hub = hub
        self.watcher = watcher
    }

    /// On the node's loop.
    public func cancel() {
        hub.remove(watcher, ending: nil)
    }
}

/// The apply stream seen through filters: every change the node applies goes to the
/// watchers whose key or prefix it matches, in commit order, and into a bounded history that
/// serves watchers who resume from an index. A watcher that cannot keep up is ended, never
/// waited for. Used on the node's loop only.
final class WatchHub {
    final class Watcher {
        let key: [UInt8]?
        let prefix: [UInt8]
        let keysOnly: Bool
        /// Entries up to this index are not sent (the client has them).
        let after: UInt64
        let sink: any WatchSink
        /// When it was last sent anything (uptime nanoseconds): quiet watchers get progress notes.
        var lastSent: UInt64
        var active = true
        /// Replaying the history: the last index replayed (nil once caught up; live changes
        /// then come as they are applied).
        var replayedThrough: UInt64?
        /// The last entry sent: an entry is sent once, from the history or live.
        var sentThrough: UInt64

        init(request: WatchRequest, after: UInt64, sink: any WatchSink, now: UInt64) {
            key = request.key.isEmpty ? nil : request.key
            self.after = after
            sentThrough = after
            prefix = request.prefix
            keysOnly = request.keysOnly
            self.sink = sink
            lastSent = now
        }

        func matches(_ change: Change) -> Bool {
            if let key { return change.withKey { $0.elementsEqual(key) } }
            return change.withKey { $0.starts(with: prefix) }
        }
    }

    /// How long a watcher may go without a message before it is sent a progress note.
    static let progressInterval: UInt64 = 5_000_000_000

    private var history: WatchHistory
    /// Watchers of one key, by the key's hash; watchers of a prefix (or of everything).
    private var byKey: [Int: [Watcher]] = [:]
    private var byPrefix: [Watcher] = []
    private(set) var count = 0
    /// The last index applied (and so streamed).
    private(set) var appliedIndex: UInt64

    init(limits: WatchHistoryLimits, appliedIndex: UInt64) {
        history = WatchHistory(limits: limits, horizon: appliedIndex)
        self.appliedIndex = appliedIndex
    }

    /// The oldest `since` the history can serve.
    var oldestIndex: UInt64 { history.horizon }

    /// Starts a watch: the history's changes after `request.since` (OUT_OF_RANGE when it no
    /// longer holds them all), replayed as the connection takes them, a progress note at the
    /// applied index, then every change as it is applied.
    func add(_ request: WatchRequest, sink: any WatchSink, now: UInt64) throws -> WatchHandle {
        let since = request.since == 0 ? appliedIndex : request.since
        guard since >= history.horizon else { throw tooOld(since) }
        let watcher = Watcher(request: request, after: since, sink: sink, now: now)
        watcher.replayedThrough = since
        if let key = watcher.key {
            byKey[Change.hash(of: key), default: []].append(watcher)
        } else {
            byPrefix.append(watcher)
        }
        count += 1
        catchingUp.append(watcher)
        catchUp(watcher, now: now)
        return WatchHandle(hub: self, watcher: watcher)
    }

    private func tooOld(_ since: UInt64) -> RPCError {
        RPCError(
            .outOfRange,
            "changes after index \(since) are no longer held here (the oldest index this node can resume from is \(history.horizon)); read afresh and watch from there",
            detail: ErrorDetail(oldestIndex: history.horizon))
    }

    /// Watchers replaying the history.
    private var catchingUp: [Watcher] = []

    /// Replays the history to `watcher` while its connection has room; once it has it all, a
    /// progress note, and from then on live changes.
    private func catchUp(_ watcher: Watcher, now: UInt64) {
        guard watcher.active, let from = watcher.replayedThrough else { return }
        // The history may have dropped what was not yet replayed.
        guard from >= history.horizon else { return remove(watcher, ending: tooOld(from)) }
        var through = from, sent = true
        history.forEach(after: from) { index, changes in
            guard watcher.sink.hasRoom else { return false }
            let matched = changes.filter(watcher.matches)
            if !matched.isEmpty {
                sent = watcher.sink.send(WatchMessage(index: index, changes: matched, keysOnly: watcher.keysOnly))
                watcher.lastSent = now
                watcher.sentThrough = index
            }
            through = index
            return sent
        }
        guard sent else { return remove(watcher, ending: Self.fellBehind) }
        watcher.replayedThrough = through
        guard through >= history.lastIndex else { return }
        watcher.replayedThrough = nil
        catchingUp.removeAll { $0 === watcher }
        deliver(WatchMessage(index: max(watcher.after, appliedIndex), changes: [], keysOnly: watcher.keysOnly), to: watcher, now: now)
    }

    static let fellBehind = RPCError(.resourceExhausted, "the watcher fell behind: its buffer of unread changes is full; resume with since", detail: ErrorDetail(limit: "watch-buffer"))

    /// Ends a watch (`ending`: why, told to its sink; nil: its caller went away).
    func remove(_ watcher: Watcher, ending error: RPCError?) {
        guard watcher.active else { return }
        watcher.active = false
        count -= 1
        if let key = watcher.key {
            let hash = Change.hash(of: key)
            byKey[hash]?.removeAll { $0 === watcher }
            if byKey[hash]?.isEmpty == true { byKey[hash] = nil }
        } else {
            byPrefix.removeAll { $0 === watcher }
        }
        if watcher.replayedThrough != nil { catchingUp.removeAll { $0 === watcher } }
        if let error { watcher.sink.end(error) }
    }

    /// An entry was applied: its changes go to the history and to every watcher they match.
    func applied(index: UInt64, changes: [Change], now: UInt64) {
        appliedIndex = index
        guard !changes.isEmpty else { return }
        history.append(index: index, changes: changes)
        guard count > 0 else { return }
        // Those replaying the history get this entry from it, in turn.
        for watcher in catchingUp { catchUp(watcher, now: now) }
        // Each watcher's changes by their places in `changes`.
        var matched: [ObjectIdentifier: (Watcher, [Int])] = [:]
        for (place, change) in changes.enumerated() {
            for watcher in byKey[change.keyHash] ?? [] where watcher.matches(change) {
                matched[ObjectIdentifier(watcher), default: (watcher, [])].1.append(place)
            }
            for watcher in byPrefix where watcher.matches(change) {
                matched[ObjectIdentifier(watcher), default: (watcher, [])].1.append(place)
            }
        }
        // Watchers of the same changes share one message, and so its encodings.
        var messages: [MessageShape: WatchMessage] = [:]
        // A watcher that caught up just now, above, has this entry already.
        for (watcher, places) in matched.values where index > watcher.sentThrough && watcher.replayedThrough == nil {
            let shape = MessageShape(places: places, keysOnly: watcher.keysOnly)
            let message = messages[shape] ?? WatchMessage(
                index: index, changes: places.map { changes[$0] }, keysOnly: watcher.keysOnly, encodings: WatchEncodings())
            messages[shape] = message
            deliver(message, to: watcher, now: now)
        }
    }

    private struct MessageShape: Hashable {
        var places: [Int]
        var keysOnly: Bool
    }

    /// Progress notes to watchers that heard nothing for a while, so they can resume from a
    /// recent index (at each tick).
    func tick(now: UInt64) {
        guard count > 0 else { return }
        for watcher in catchingUp { catchUp(watcher, now: now) }
        for watcher in everyWatcher
        where watcher.replayedThrough == nil && now - min(now, watcher.lastSent) >= Self.progressInterval {
            // Never below where the watcher resumed from (a node behind it says so).
            deliver(WatchMessage(index: max(watcher.after, appliedIndex), changes: [], keysOnly: watcher.keysOnly), to: watcher, now: now)
        }
    }

    private func deliver(_ message: WatchMessage, to watcher: Watcher, now: UInt64) {
        guard watcher.active else { return }
        watcher.lastSent = now
        if !message.changes.isEmpty { watcher.sentThrough = message.index }
        if !watcher.sink.send(message) { remove(watcher, ending: Self.fellBehind) }
    }

    /// The map was replaced by a snapshot at `index` (or the node restarted from one): the
    /// changes before it cannot be told. Every watcher is ended with OUT_OF_RANGE, to resume
    /// here from `index` on (or elsewhere from where it was).
    func restarted(at index: UInt64) {
        history = WatchHistory(limits: history.limits, horizon: index)
        appliedIndex = index
        let error = RPCError(
            .outOfRange, "this node installed a snapshot at index \(index): the changes before it are not held here; resume elsewhere, or read afresh",
            detail: ErrorDetail(oldestIndex: index))
        for watcher in everyWatcher { remove(watcher, ending: error) }
    }

    private var everyWatcher: [Watcher] { byPrefix + byKey.values.joined() }

    /// Ends every watch (the node stops).
    func endAll(_ error: RPCError) {
        for watcher in everyWatcher { remove(watcher, ending: error) }
    }
}

/// How much of the changes applied a node keeps for watchers that resume (--watch-history):
/// entries, and bytes of the keys and values they hold (with 64 bytes a change).
public struct WatchHistoryLimits: Sendable, Equatable {
    public var entries: Int
    public var bytes: Int

    public init(entries: Int = 100_000, bytes: Int = 64 << 20) {
        self.entries = entries
        self.bytes = bytes
    }
}

/// The changes of the last entries applied, for watchers that resume: bounded by entries
/// and by the bytes of keys and values they hold.
struct WatchHistory {
    let limits: WatchHistoryLimits
    /// Every change after this index is held (those at or before it are not).
    private(set) var horizon: UInt64
    private var items: [(index: UInt64, changes: [Change], bytes: Int)] = []
    private var first = 0
    private var bytes = 0

    init(limits: WatchHistoryLimits, horizon: UInt64) {
        self.limits = limits
        self.horizon = horizon
    }

    mutating func append(index: UInt64, changes: [Change]) {
        let size = changes.reduce(0) { $0 + $1.size + 64 }
        items.append((index, changes, size))
        bytes += size
        while items.count - first > limits.entries || bytes > limits.bytes, first < items.count {
            horizon = items[first].index
            bytes -= items[first].bytes
            items[first] = (0, [], 0)
            first += 1
        }
        // Drop the dead front now and then, so the array does not grow for ever.
        if first > 1_024 && first * 2 > items.count {
            items.removeFirst(first)
            first = 0
        }
    }

    /// The index of the last entry held (the horizon when none is).
    var lastIndex: UInt64 { first < items.count ? items[items.count - 1].index : horizon }

    /// Calls `body` with each held entry after `index`, oldest first, while it returns true.
    func forEach(after index: UInt64, _ body: (UInt64, [Change]) -> Bool) {
        // Indexes grow along the array: find the first one past `index` by bisection.
        var low = first, high = items.count
        while low < high {
            let middle = (low + high) / 2
            if items[middle].index <= index { low = middle + 1 } else { high = middle }
        }
        for item in items[low...] where !body(item.index, item.changes) { return }
    }
}

/// A sink carried to the node's loop, where alone it is used.
struct UncheckedSink: @unchecked Sendable {
    let value: any WatchSink
    init(_ value: any WatchSink) { self.value = value }
}
