import CacheStore
import RaftWire
import Testing

private func key(_ text: String) -> [UInt8] { Array(text.utf8) }

/// A transaction's outcome as the wire would say it.
private func answered(_ outcome: CacheStore.Outcome) -> TxnResponse? {
    guard case .txn(let succeeded, let results) = outcome else { return nil }
    return TxnResponse(succeeded: succeeded, results: results.map(\.keyOpResult))
}

@Suite("Transactions")
struct TransactionTests {
    @Test("a lock: taken if absent, refused while held, the holder read in the failure branch")
    func lock() throws {
        let feed = CommandFeed()
        let take = TxnRequest(
            compares: [Compare(key: key("lock"), target: .exists, result: .notEqual)],
            success: [KeyOp(type: .set, key: key("lock"), value: key("a"), ttlMs: 1_000)],
            failure: [KeyOp(type: .get, key: key("lock"))])
        #expect(answered(try feed.apply(Command(op: .txn, nowMs: 100, txn: take))) == TxnResponse(succeeded: true, results: [
            KeyOpResult(found: true, createIndex: 1, modIndex: 1, ttlMs: 1_000),
        ]))
        var other = take
        other.success[0].value = key("b")
        #expect(answered(try feed.apply(Command(op: .txn, nowMs: 200, txn: other))) == TxnResponse(succeeded: false, results: [
            KeyOpResult(found: true, value: key("a"), createIndex: 1, modIndex: 1, ttlMs: 900),
        ]))
        // Once the lock has expired by the log's clock, the other taker gets it.
        #expect(answered(try feed.apply(Command(op: .txn, nowMs: 1_100, txn: other))) == TxnResponse(succeeded: true, results: [
            KeyOpResult(found: true, createIndex: 3, modIndex: 3, ttlMs: 1_000),
        ]))
    }

    @Test("compares on value (bytes in order) and mod index (0 for a missing key); all must hold")
    func compares() throws {
        let feed = CommandFeed()
        try feed.apply(Command(op: .set, key: key("v"), value: key("m")))
        func holds(_ compares: [Compare]) throws -> Bool {
            guard case .txn(let succeeded, _) = try feed.apply(Command(op: .txn, txn: TxnRequest(compares: compares, success: [KeyOp(key: key("v"))])))
            else { return false }
            return succeeded
        }
        #expect(try holds([Compare(key: key("v"), target: .value, result: .equal, value: key("m"))]))
        #expect(try holds([Compare(key: key("v"), target: .value, result: .greater, value: key("a"))]))
        #expect(try holds([Compare(key: key("v"), target: .value, result: .less, value: key("ma"))]))
        #expect(try !holds([Compare(key: key("v"), target: .value, result: .notEqual, value: key("m"))]))
        #expect(try !holds([Compare(key: key("missing"), target: .value, result: .notEqual, value: key("m"))]))
        #expect(try holds([Compare(key: key("v"), target: .modIndex, result: .equal, modIndex: 1)]))
        #expect(try holds([Compare(key: key("missing"), target: .modIndex, result: .equal, modIndex: 0)]))
        #expect(try holds([Compare(key: key("v"), target: .modIndex, result: .less, modIndex: 2)]))
        #expect(try !holds([
            Compare(key: key("v"), target: .exists, result: .equal), Compare(key: key("missing"), target: .exists, result: .equal),
        ]))
    }

    @Test("a batch of writes applies in one entry, in order, with the reads after them seeing them")
    func batchOfWrites() throws {
        let feed = CommandFeed()
        try feed.apply(Command(op: .set, key: key("gone"), value: key("x")))
        let outcome = try feed.apply(Command(op: .txn, nowMs: 10, txn: TxnRequest(success: [
            KeyOp(type: .set, key: key("a"), value: key("1")), KeyOp(type: .delete, key: key("gone")),
            KeyOp(type: .delete, key: key("never")), KeyOp(type: .get, key: key("a")), KeyOp(type: .get, key: key("gone")),
        ])))
        #expect(answered(outcome) == TxnResponse(succeeded: true, results: [
            KeyOpResult(found: true, createIndex: 2, modIndex: 2), KeyOpResult(found: true), KeyOpResult(found: false),
            KeyOpResult(found: true, value: key("1"), createIndex: 2, modIndex: 2), KeyOpResult(),
        ]))
        #expect(feed.store.count == 1)
    }
}
