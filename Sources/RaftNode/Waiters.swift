import CacheStore
import NIOCore
import RaftCore
import RaftTransport
import RaftWire

/// Everything that waits on the node, and a queue of their deadlines: proposals until their
/// entry is applied, read indexes until a quorum confirms them, callers until the store has
/// applied an index, inbound Raft calls until the core answers. Thousands wait at once under
/// load; each costs a dictionary entry and a queue entry, not a timer. Touched on the node's
/// loop only.
final class Waiters {
    private enum Deadline {
        case inboundCall(context: UInt64)
        case proposal(index: UInt64, token: UInt64)
        case readIndex(context: UInt64)
        case applied(token: UInt64)
    }

    /// Inbound Raft calls waiting for the core's answer, by the context given to the core.
    private var inboundCalls: [UInt64: EventLoopPromise<MessageBody>] = [:]
    /// Proposals waiting to be applied, by log index (`token` tells apart proposals at one index).
    private var proposals: [UInt64: (term: UInt64, promise: EventLoopPromise<AppliedEntry>, token: UInt64)] = [:]
    /// Read indexes waiting for a quorum, by context.
    private var readIndexes: [UInt64: EventLoopPromise<UInt64>] = [:]
    /// Waiting for the store to reach an index, by token; and the tokens by that index.
    private var applied: [UInt64: EventLoopPromise<Void>] = [:]
    private var appliedByIndex = MinHeap<UInt64>()
    /// By deadline (uptime nanoseconds); entries whose waiter is gone are skipped.
    private var deadlines = DeadlineQueues<Deadline>()
    private var lastToken: UInt64 = 0

    /// A number no other waiter has: the context of a call or read given to the core.
    func newToken() -> UInt64 {
        lastToken += 1
        return lastToken
    }

    // MARK: Waiting

    func inboundCall(_ context: UInt64, _ promise: EventLoopPromise<MessageBody>, timeout: TimeAmount) {
        inboundCalls[context] = promise
        expire(.inboundCall(context: context), after: timeout)
    }

    /// The proposal of entry (index, term) waits to be applied; an older one at that index was
    /// overtaken by a leader change.
    func proposal(index: UInt64, term: UInt64, _ promise: EventLoopPromise<AppliedEntry>, timeout: TimeAmount) {
        proposals[index]?.promise.fail(RPCError.lost)
        let token = newToken()
        proposals[index] = (term, promise, token)
        expire(.proposal(index: index, token: token), after: timeout)
    }

    func readIndex(_ context: UInt64, _ promise: EventLoopPromise<UInt64>, timeout: TimeAmount) {
        readIndexes[context] = promise
        expire(.readIndex(context: context), after: timeout)
    }

    func applied(through index: UInt64, _ promise: EventLoopPromise<Void>, timeout: TimeAmount) {
        let token = newToken()
        applied[token] = promise
        appliedByIndex.insert(token, key: index)
        expire(.applied(token: token), after: timeout)
    }

    // MARK: Answering

    /// The core's answer to an inbound call; false when nobody waits for it (any more).
    @discardableResult
    func answer(context: UInt64, with body: MessageBody) -> Bool {
        guard let call = inboundCalls.removeValue(forKey: context) else { return false }
        call.succeed(body)
        return true
    }

    /// An entry was applied, with `outcome`: its proposal learns whether it was this one (and
    /// what it did), and whoever waited for its index goes on.
    func entryApplied(_ entry: Entry, outcome: CacheStore.Outcome) {
        if let proposal = proposals.removeValue(forKey: entry.index) {
            if proposal.term == entry.term {
                proposal.promise.succeed(AppliedEntry(index: entry.index, outcome: outcome))
            } else {
                proposal.promise.fail(RPCError.lost)
            }
        }
        for token in appliedByIndex.popAll(through: entry.index) {
            applied.removeValue(forKey: token)?.succeed(())
        }
    }

    func readIndexAnswered(_ read: ReadState) {
        guard let promise = readIndexes.removeValue(forKey: read.context) else { return }
        if read.succeeded {
            promise.succeed(read.index)
        } else {
            promise.fail(RPCError.noLeader)
        }
    }

    /// Fails what has waited past its deadline.
    func expire(now: UInt64) {
        for deadline in deadlines.popAll(through: now) {
            switch deadline {
            case .inboundCall(let context):
                inboundCalls.removeValue(forKey: context)?.fail(RPCError.rejected("the call was not answered in time"))
            case .proposal(let index, let token):
                guard let proposal = proposals[index], proposal.token == token else { continue }
                proposals[index] = nil
                proposal.promise.fail(RPCError.timedOut)
            case .readIndex(let context):
                readIndexes.removeValue(forKey: context)?.fail(RPCError.timedOut)
            case .applied(let token):
                applied.removeValue(forKey: token)?.fail(RPCError.timedOut)
            }
        }
    }

    /// Fails everything that waits (the node stops).
    func failAll(_ error: RPCError) {
        for (_, call) in inboundCalls { call.fail(error) }
        for (_, proposal) in proposals { proposal.promise.fail(error) }
        for (_, read) in readIndexes { read.fail(error) }
        for (_, waiter) in applied { waiter.fail(error) }
        inboundCalls = [:]
        proposals = [:]
        readIndexes = [:]
        applied = [:]
        appliedByIndex.removeAll()
        deadlines.removeAll()
    }

    private func expire(_ what: Deadline, after timeout: TimeAmount) {
        deadlines.insert(what, timeout: UInt64(max(0, timeout.nanoseconds)), now: NIODeadline.now().uptimeNanoseconds)
    }
}
