import CoreMetrics
import Synchronization

/// Requests counted by name (a route template or a method), verb and status code, with a
/// latency histogram per name. The metric handles of each label set are made once and kept:
/// the names and codes come from fixed sets, never from what a client sent. A connection
/// records through its own `Local` table, so a request it has seen the like of takes no lock.
public final class RequestMetrics: Sendable {
    struct Labels: Hashable {
        var name: String
        var verb: String
        var code: String
    }

    private let count: NodeMetric
    private let duration: NodeMetric
    private let nameLabel: String
    private let handles = Mutex<(counters: [Labels: Counter], timers: [String: Timer])>(([:], [:]))

    /// `nameLabel`: what the name is called in the labels (`route`, `method`).
    public init(count: NodeMetric, duration: NodeMetric, nameLabel: String) {
        self.count = count
        self.duration = duration
        self.nameLabel = nameLabel
    }

    func handles(for labels: Labels) -> (Counter, Timer) {
        handles.withLock { handles -> (Counter, Timer) in
            let counter = handles.counters[labels] ?? {
                var dimensions = [(nameLabel, labels.name)]
                if !labels.verb.isEmpty { dimensions.append(("method", labels.verb)) }
                dimensions.append(("code", labels.code))
                let made = count.counter(dimensions)
                handles.counters[labels] = made
                return made
            }()
            let timer = handles.timers[labels.name] ?? {
                let made = duration.timer([(nameLabel, labels.name)])
                handles.timers[labels.name] = made
                return made
            }()
            return (counter, timer)
        }
    }

    /// One connection's table of the handles it has used (on its own loop only).
    public struct Local {
        private let shared: RequestMetrics
        private var handles: [Labels: (Counter, Timer)] = [:]

        public init(_ shared: RequestMetrics) {
            self.shared = shared
        }

        /// One request answered: `verb` is the HTTP method (empty for none), `nanoseconds` its time.
        public mutating func record(name: String, verb: String = "", code: String, nanoseconds: UInt64) {
            let labels = Labels(name: name, verb: verb, code: code)
            let (counter, timer) = handles[labels] ?? {
                let made = shared.handles(for: labels)
                handles[labels] = made
                return made
            }()
            counter.increment()
            timer.recordNanoseconds(Int64(clamping: nanoseconds))
        }
    }
}
