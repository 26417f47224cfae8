import CoreMetrics
import Synchronization

/// Requests counted by name (a route template or a method), verb and status code, with a
/// latency histogram per name. The metric handles of each label set are made once and kept:
/// the names and codes come from fixed sets, never from what a client sent.
public final class RequestMetrics: Sendable {
    private struct Labels: Hashable {
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

    /// One request answered: `verb` is the HTTP method (empty for none), `nanoseconds` its time.
    public func record(name: String, verb: String = "", code: String, nanoseconds: UInt64) {
        let labels = Labels(name: name, verb: verb, code: code)
        let (counter, timer) = handles.withLock { handles -> (Counter, Timer) in
            let counter = handles.counters[labels] ?? {
                var dimensions = [(nameLabel, name)]
                if !verb.isEmpty { dimensions.append(("method", verb)) }
                dimensions.append(("code", code))
                let made = count.counter(dimensions)
                handles.counters[labels] = made
                return made
            }()
            let timer = handles.timers[name] ?? {
                let made = duration.timer([(nameLabel, name)])
                handles.timers[name] = made
                return made
            }()
            return (counter, timer)
        }
        counter.increment()
        timer.recordNanoseconds(Int64(clamping: nanoseconds))
    }
}
