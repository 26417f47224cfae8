import RaftWire

/// Client sessions in a snapshot (after the pairs, from RCKV0004 on): u64 number of
/// sessions, then for each: u64 id, u64 last active, u64 acked below, u32 number of answers,
/// and for each answer: u64 sequence, u64 index, the outcome. An outcome is a kind byte and
/// its fields (little-endian; a value as u32 length and bytes).
extension ClientSessions {
    func write(to chunk: inout [UInt8]) {
        chunk.appendLittleEndian(UInt64(table.count))
        for (id, session) in table.sorted(by: { $0.key < $1.key }) {
            chunk.appendLittleEndian(id)
            chunk.appendLittleEndian(session.lastActive)
            chunk.appendLittleEndian(session.ackedBelow)
            chunk.appendLittleEndian(UInt32(session.answers.count))
            for (sequence, answer) in session.answers.sorted(by: { $0.key < $1.key }) {
                chunk.appendLittleEndian(sequence)
                chunk.appendLittleEndian(answer.index)
                Self.write(answer.outcome, to: &chunk)
            }
        }
    }

    static func read(from reader: inout ChunkReader, appliedIndex: UInt64) throws -> ClientSessions {
        var sessions = ClientSessions()
        let count = try reader.uint64()
        for _ in 0..<count {
            let id = try reader.uint64()
            var session = Session(lastActive: try reader.uint64(), ackedBelow: try reader.uint64())
            guard id >= 1, id <= appliedIndex, session.lastActive < wireNumberLimit, session.ackedBelow < wireNumberLimit else {
                throw CacheSnapshotError.malformed("session \(id) does not fit index \(appliedIndex)")
            }
            let answers = try reader.uint32()
            guard answers <= maxAnswers else { throw CacheSnapshotError.malformed("session \(id) keeps \(answers) answers") }
            for _ in 0..<answers {
                let sequence = try reader.uint64()
                let index = try reader.uint64()
                guard index <= appliedIndex else { throw CacheSnapshotError.malformed("an answer of session \(id) is from index \(index)") }
                session.answers[sequence] = Answer(index: index, outcome: try readOutcome(from: &reader, depth: 0))
            }
            guard sessions.table.updateValue(session, forKey: id) == nil else { throw CacheSnapshotError.malformed("session \(id) appears twice") }
        }
        return sessions
    }

    private static func write(_ outcome: CacheStore.Outcome, to chunk: inout [UInt8]) {
        switch outcome {
        case .set: chunk.append(0)
        case .deleted(let existed): chunk += [1, existed ? 1 : 0]
        case .none: chunk.append(2)
        case .malformed: chunk.append(3)
        case .conditionFailed(let current):
            chunk += [4, current == nil ? 0 : 1]
            if let current { write(current, to: &chunk) }
        case .incremented(let to):
            chunk.append(5)
            chunk.appendLittleEndian(UInt64(bitPattern: to))
        case .notIncremented(let reason):
            chunk.append(6)
            write(Array(reason.utf8), to: &chunk)
        case .ttlChanged: chunk.append(7)
        case .notFound: chunk.append(8)
        case .removed(let count):
            chunk.append(9)
            chunk.appendLittleEndian(UInt64(count))
        case .txn(let succeeded, let results):
            chunk += [10, succeeded ? 1 : 0]
            chunk.appendLittleEndian(UInt32(results.count))
            for result in results {
                chunk += [result.found ? 1 : 0, result.value == nil ? 0 : 1, result.version == nil ? 0 : 1]
                if let value = result.value {
                    write(value.bytes, to: &chunk)
                    write(value.version, to: &chunk)
                    chunk.appendLittleEndian(value.expiresAt)
                }
                if let version = result.version { write(version, to: &chunk) }
                chunk.appendLittleEndian(result.ttlMs)
            }
        case .sessionOpened(let id):
            chunk.append(11)
            chunk.appendLittleEndian(id)
        case .repeated(let index, let outcome):
            chunk.append(12)
            chunk.appendLittleEndian(index)
            write(outcome, to: &chunk)
        case .sessionRefused(let why):
            let code: UInt8 = switch why {
            case .unknownSession: 0
            case .alreadyAcknowledged: 1
            case .tooManyUnacknowledged: 2
            case .tooManySessions: 3
            }
            chunk += [13, code]
        }
    }

    private static func write(_ bytes: [UInt8], to chunk: inout [UInt8]) {
        chunk.appendLittleEndian(UInt32(bytes.count))
        chunk += bytes
    }

    private static func write(_ version: KeyVersion, to chunk: inout [UInt8]) {
        chunk.appendLittleEndian(version.createIndex)
        chunk.appendLittleEndian(version.modIndex)
    }

    private static func readOutcome(from reader: inout ChunkReader, depth: Int) throws -> CacheStore.Outcome {
        func flag() throws -> Bool {
            switch try reader.bytes(1)[0] {
            case 0: return false
            case 1: return true
            case let other: throw CacheSnapshotError.malformed("\(other) is not a flag")
            }
        }
        func version() throws -> KeyVersion { KeyVersion(createIndex: try reader.uint64(), modIndex: try reader.uint64()) }
        func bytes() throws -> [UInt8] { try reader.bytes(Int(try reader.uint32())) }
        switch try reader.bytes(1)[0] {
        case 0: return .set
        case 1: return .deleted(existed: try flag())
        case 2: return .none
        case 3: return .malformed
        case 4: return .conditionFailed(current: try flag() ? try version() : nil)
        case 5: return .incremented(to: Int64(bitPattern: try reader.uint64()))
        case 6: return .notIncremented(reason: String(decoding: try bytes(), as: UTF8.self))
        case 7: return .ttlChanged
        case 8: return .notFound
        case 9: return .removed(count: Int(clamping: try reader.uint64()))
        case 10:
            let succeeded = try flag()
            let count = try reader.uint32()
            // A branch has at most 1,024 operations (NodeAPI); the bound only keeps a damaged
            // snapshot from asking for a huge array.
            guard count <= 1 << 16 else { throw CacheSnapshotError.malformed("a transaction of \(count) results") }
            var results: [CacheStore.OpResult] = []
            for _ in 0..<count {
                let found = try flag(), hasValue = try flag(), hasVersion = try flag()
                var value: StoredValue?
                if hasValue {
                    let bytes = try bytes(), valueVersion = try version(), expiresAt = try reader.uint64()
                    value = StoredValue(pair: ShardedMap.makePair(key: [], value: bytes, version: valueVersion, expiresAt: expiresAt))
                }
                let resultVersion = hasVersion ? try version() : nil
                results.append(CacheStore.OpResult(found: found, value: value, version: resultVersion, ttlMs: try reader.uint64()))
            }
            return .txn(succeeded: succeeded, results: results)
        case 11: return .sessionOpened(id: try reader.uint64())
        case 12:
            // Answers are kept once, never nested; one level is all a writer makes.
            guard depth == 0 else { throw CacheSnapshotError.malformed("a repeated answer inside another") }
            let index = try reader.uint64()
            return .repeated(index: index, outcome: try readOutcome(from: &reader, depth: depth + 1))
        case 13:
            switch try reader.bytes(1)[0] {
            case 0: return .sessionRefused(.unknownSession)
            case 1: return .sessionRefused(.alreadyAcknowledged)
            case 2: return .sessionRefused(.tooManyUnacknowledged)
            case 3: return .sessionRefused(.tooManySessions)
            case let other: throw CacheSnapshotError.malformed("session refusal \(other)")
            }
        case let other: throw CacheSnapshotError.malformed("answer kind \(other)")
        }
    }
}
