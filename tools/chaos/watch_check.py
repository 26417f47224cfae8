"""Checks what the chaos round's watchers received (tools/chaos/watchers.py) against a
reference watch read once the cluster has converged, and against the recorded history (pure
Python 3 standard library, so it is tested on hand-made logs: tests/test_watch_check.py).

A watch streams, one response per log entry, the changes that entry made to the keys watched
(index, events), in commit order; a response with no events is a progress note: everything
up to its index has been sent. Resuming with since = the last index received, on any node,
must give every later change exactly once. So, for each watcher:

* it covers the indexes after its start (its first response, a progress note at the node's
  applied index; the reference: the `since` it asked for) up to the highest index received;
* the entries it received there are exactly the reference's, each once, with the same
  events: none missing (a gap), none twice (a duplicate), none the reference lacks;
* they came in order: an entry's index above every index before it (notes included, as a
  note promises everything up to it was sent), and progress notes never going back;
* no node answered OUT_OF_RANGE (the default history, 100,000 entries, outlasts a round).

And against the history (values are unique, so a value names its write): every set in the
reference was written by a set or cas of the history that succeeded or may have (ok or
unknown), and by one write only once; every ok set or cas invoked after the first watcher
started (so its index is past the reference's start) is in the reference.

A log records every response as (index, [(kind, key, value, mod_index), ...]): kind 0 set,
1 delete, 2 expire, 3 evict; value None unless a set."""

import bisect
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Optional, Tuple

PREFIX = "k"  # The keys watched: the workload's k* keys (not its t* keys, whose values expire).
SET = 0
KINDS = {0: "set", 1: "delete", 2: "expire", 3: "evict"}
VERDICT_OK = "exactly once, in order"
VERDICT_BAD = "NOT exactly once in order"
SHOWN = 20  # Violations listed in a report; the rest are counted.

Event = Tuple[int, str, Optional[str], int]
Response = Tuple[int, List[Event]]


@dataclass
class WatcherLog:
    """What one watch client received over a round, across its breaks and resumes."""

    name: str
    responses: List[Response] = field(default_factory=list)
    # Each watch that answered: (position of its first response, node, the since it asked).
    sessions: List[Tuple[int, str, int]] = field(default_factory=list)
    # Each watch that ended after answering: (responses received by then, node, why).
    breaks: List[Tuple[int, str, str]] = field(default_factory=list)
    # Each OUT_OF_RANGE answer: (node, the since asked, the oldest index it offered, message).
    out_of_range: List[Tuple[str, int, int, str]] = field(default_factory=list)
    started: Optional[float] = None  # When its first response came (time.monotonic()).

    @property
    def last_index(self) -> int:
        """Where a resume starts from: the index of the last response, 0 before any."""
        return self.responses[-1][0] if self.responses else 0

    @property
    def start(self) -> int:
        """Every change after this index is covered: the first since asked, or where the first
        watch began (its progress note at the node's applied index)."""
        return self.sessions[0][2] or self.responses[0][0]

    @property
    def end(self) -> int:
        return max(index for index, _ in self.responses)

    def changes(self) -> int:
        return sum(len(events) for _, events in self.responses)

    def at(self, position: int) -> str:
        """Response `position` named for a report: its index and the node that sent it."""
        first = [s[0] for s in self.sessions]
        node = self.sessions[max(0, bisect.bisect_right(first, position) - 1)][1]
        return f"{self.name}: index {self.responses[position][0]} from {node}"

    def watch_of(self, index: int) -> str:
        """The watch that should have carried `index`: the last that began before it."""
        sinces = [s[2] for s in self.sessions]
        k = max(0, bisect.bisect_left(sinces, index) - 1)
        _, node, since = self.sessions[k]
        return f"the watch on {node} resumed with since {since}" if k else f"the first watch, on {node}"


@dataclass
class WatchResult:
    violations: List[str]
    watchers: int
    breaks: int
    resumes: int
    changes: List[int]  # per watcher

    @property
    def ok(self) -> bool:
        return not self.violations

    @property
    def verdict(self) -> str:
        return VERDICT_OK if self.ok else VERDICT_BAD

    def summary(self) -> str:
        low, high = min(self.changes, default=0), max(self.changes, default=0)
        changes = f"{high:,}" if low == high else f"{low:,} to {high:,}"
        return (f"{_count(self.watchers, 'watcher')}, {_count(self.breaks, 'break')}, "
                f"{_count(self.resumes, 'resume')}, {changes} changes each, verdict: {self.verdict}")

    def report(self) -> str:
        lines = [f"watch violation: {v}" for v in self.violations[:SHOWN]]
        if len(self.violations) > SHOWN:
            lines.append(f"watch violation: ... and {len(self.violations) - SHOWN:,} more")
        return "\n".join(lines)


def _count(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def show(events: List[Event]) -> str:
    return "; ".join(f"{KINDS.get(kind, kind)} {key}{'' if value is None else f'={value!r}'} (mod {mod_index})"
                     for kind, key, value, mod_index in events)


def check(logs: List[WatcherLog], reference: WatcherLog, history: List[dict]) -> WatchResult:
    """Each watcher's log against the reference (a log of one unbroken watch, read after the
    round up to the cluster's applied index) and the reference against the history."""
    violations = [f"{log.name}: OUT_OF_RANGE from {node} for since {since} (oldest index {oldest}): {message}"
                  for log in [reference] + logs for node, since, oldest, message in log.out_of_range]
    if not reference.responses:
        why = "; ".join(f"{node}: {reason}" for _, node, reason in reference.breaks) or "no node to read it from"
        return _result(logs, violations + [f"no reference watch could be read ({why})"])
    violations += _order_violations(reference)
    changes = {index: events for index, events in reference.responses if events}
    indexes = sorted(changes)
    for log in logs:
        if not log.responses:
            violations.append(f"{log.name}: never received anything")
        elif log.responses[0][1] and not log.sessions[0][2]:
            violations.append(f"{log.name}: its first response, index {log.responses[0][0]}, is not a progress note")
        else:
            violations += _order_violations(log)
            violations += _content_violations(log, changes, indexes, reference.end)
    started = [log.started for log in logs if log.started is not None]
    violations += _history_violations(changes, history, min(started, default=None))
    return _result(logs, violations)


def _result(logs: List[WatcherLog], violations: List[str]) -> WatchResult:
    return WatchResult(violations, len(logs), sum(len(log.breaks) for log in logs),
                       sum(max(0, len(log.sessions) - 1) for log in logs), [log.changes() for log in logs])


def _order_violations(log: WatcherLog) -> Iterator[str]:
    """Entries repeated or after a higher index, and progress notes that go back."""
    high, seen = log.start, set()
    for position, (index, events) in enumerate(log.responses):
        if not events:
            if index < high:
                yield f"{log.at(position)}: a progress note after index {high}: it went back"
        elif index in seen:
            yield f"{log.at(position)}: duplicate: received again ({show(events)})"
        elif index <= high:
            yield f"{log.at(position)}: out of order: received after index {high} ({show(events)})"
        if events:
            seen.add(index)
        high = max(high, index)


def _content_violations(log: WatcherLog, changes: Dict[int, List[Event]], indexes: List[int],
                        reference_end: int) -> Iterator[str]:
    """The reference's entries in the indexes the watcher covered, against those it received
    there (the first time: repeats are _order_violations')."""
    start, end = log.start, min(log.end, reference_end)
    if log.end > reference_end:
        yield f"{log.name}: received up to index {log.end}, past the reference's end at {reference_end}"
    received = set()
    for position, (index, events) in enumerate(log.responses):
        if not events or not start < index <= end or index in received:
            continue
        received.add(index)
        expected = changes.get(index)
        if expected is None:
            yield f"{log.at(position)}: a change the reference lacks (it has none at that index): got {show(events)}"
        elif events != expected:
            yield f"{log.at(position)}: expected {show(expected)}, got {show(events)}"
    for index in indexes[bisect.bisect_right(indexes, start):bisect.bisect_right(indexes, end)]:
        if index not in received:
            yield f"{log.name}: gap: index {index} never received (in {log.watch_of(index)}): " \
                  f"expected {show(changes[index])}, got nothing"


def _history_violations(changes: Dict[int, List[Event]], history: List[dict],
                        origin: Optional[float]) -> Iterator[str]:
    """The reference's sets against the history's sets and cas of the watched keys; `origin`:
    when the first watcher started (None: none did, and no write is known to be in range)."""
    writes: Dict[Tuple[str, str], List[dict]] = {}
    for op in history:
        if op["op"] in ("set", "cas") and op["key"].startswith(PREFIX):
            writes.setdefault((op["key"], op["value"]), []).append(op)
    sets: Dict[Tuple[str, str], List[int]] = {}
    for index in sorted(changes):
        for kind, key, value, _ in changes[index]:
            if kind == SET:
                sets.setdefault((key, value), []).append(index)
    for (key, value), at in sets.items():
        outcomes = {op["outcome"] for op in writes.get((key, value), [])}
        if not outcomes & {"ok", "unknown"}:
            writer = "only writes that failed" if outcomes else "no write of the history"
            yield f"reference: index {at[0]}: set {key}={value!r}, a value {writer} wrote"
        if len(at) > 1:
            indexes = ", ".join(map(str, at))
            yield f"reference: {key}={value!r} set at indexes {indexes}: one write applied more than once"
    if origin is None:
        return
    for (key, value), ops in writes.items():
        for op in ops:
            if op["outcome"] == "ok" and op["invoke"] >= origin and (key, value) not in sets:
                yield (f"acknowledged write missing from the reference: {op['op']} {key}={value!r} by process "
                       f"{op['process']}, invoked {op['invoke'] - origin:.3f} s after the first watcher started")
