#!/usr/bin/env python3
"""Linearizability checker for raft-cache chaos histories (pure Python 3 standard library).

The cache is modelled as one register per key: ``set`` stores a value, ``delete`` makes
the key absent, ``get`` reads the value (``None`` when absent), and ``cas``
(compare-and-set) stores a value only if the register holds the expected one (``None``:
only if the key is absent, i.e. create only); every key starts absent. Keys are
independent, so the history is split per key and each key is checked on its own -- that
is what keeps the search tractable.

History format: JSON lines, one operation per line (or a list of dicts through the API)::

    {"process": 3, "op": "set", "key": "k1", "value": "v7",
     "invoke": 12.5, "complete": 12.53, "outcome": "ok"}
    {"process": 3, "op": "cas", "key": "k1", "expect": "v7", "value": "v8",
     "invoke": 12.6, "complete": 12.64, "outcome": "ok"}
    {"process": 4, "op": "set", "key": "t1", "value": "v9", "ttl_ms": 500,
     "invoke": 12.7, "complete": 12.71, "outcome": "ok"}

* ``op``: ``set`` | ``get`` | ``delete`` | ``cas``; ``value``: the value written (set,
  cas) or read (get, ``null`` for not found); ignored for delete. ``expect`` (cas only,
  required): the value the key must hold for the cas to take effect, ``null`` for absent.
* ``ttl_ms`` (set or cas, optional; ``null`` or 0 for none): the value expires that many
  milliseconds after the leader proposes the write, i.e. somewhere in
  [invoke + ttl, complete + ttl]. See "Expiry" below.
* ``invoke``/``complete``: monotonic timestamps, float seconds or int nanoseconds (the
  unit matters for display and for ``ttl_ms``; see ``time_unit``); ``complete`` may be
  ``null`` when the outcome is unknown.
* ``outcome``: ``ok`` (took effect exactly once between invoke and complete), ``fail``
  (definitely did not take effect: dropped; for a cas also "its condition did not hold")
  or ``unknown`` (a write may take effect at any instant after invoke, or never -- a cas
  only if its condition holds then; an unknown get says nothing and is dropped).

Timestamps that are equal count as overlapping (a call sorts before a return at the same
instant), so coarse clocks never produce false alarms.

The search is Wing & Gong's with Lowe's memoisation (as in Knossos and porcupine): the
operations of a key become a doubly linked list of call and return events in time order;
the search repeatedly linearizes one of the calls that precede the first pending return,
remembers every (set of linearized operations, register value) configuration it has
visited, and backtracks with an explicit stack when it reaches a return event whose
operation it has not linearized yet. A cas may be linearized only when the register holds
its expected value; it then holds the cas's value. A cas both *observes* a value (like a
get) and writes one (like a set); below, "a read of X" means a get returning X or a cas
expecting X. On top of that, register-specific facts keep it fast (each is argued where
it is used):

* a pending get that matches the current value is linearized at once, without branching
  (never a cas: it changes the value);
* the key may not be overwritten while a read of its value remains that no remaining
  write of that value could precede (so a stale read is caught as soon as the value it
  returned is written, not when the search finally reaches it) -- except by a cas
  expecting that value, which is itself such a read;
* values nothing reads are all one value to the search;
* an unknown write whose value nothing reads is dropped (repeatedly: dropping an unknown
  cas may leave its expected value unread); one whose value is read by an ok operation
  and has no other writer gets a deadline (its first reader's completion); the others are
  tried only when a pending operation reads their value, and one per (expected value,
  value) at a time.

Histories whose written values are unique (e.g. "p3-17") check fastest; with repeated
values the search can grow exponentially, which is what the budget (per key, wall clock
or steps; the clock is read every 1024 steps) is for: a key that exceeds it is reported as
"unknown (search budget exceeded)", never as a pass.

On a violation the checker also finds the first instant at which the history stopped
being linearizable (a binary search over completion times, checking the history as it
stood at each instant), and reports the operation that completed then together with
the operations around it.

Expiry: a value vanishing when its time to live runs out is not a register behaviour, so
a key with any ``ttl_ms`` write is not searched. It still gets the checks that need no
search (a read of a value never written, or only by failed writes; a read that completed
before the only write of its value started) and the expiry check (``check_expiry``): an
ok get invoked more than ``drift`` after the latest instant at which the value it
returned can have expired (the ``complete + ttl`` of every write of that value) is a
violation. A write of that value without a TTL, or with an unknown outcome (it may take
effect, and start its TTL, at any later instant), means no alarm. The drift (default
``DEFAULT_DRIFT_SECONDS``, 0.05 s; CLI ``--drift``) covers the difference between the
nodes' clocks, which decide expiry, and the clients' monotonic clock.

CLI: ``python3 tools/chaos/linearizability.py HISTORY.jsonl`` prints the verdict and exits
0 when linearizable, 1 when not, 2 on bad input, 3 when the search budget ran out.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any, Dict, List, Optional, Tuple

OPS = ("set", "get", "delete", "cas")
OUTCOMES = ("ok", "fail", "unknown")

# Allowed gap between the latest possible expiry of a value and a get (invoked after it)
# still returning it: the nodes decide expiry by their wall clocks, the clients record
# monotonic times, and expiry times are whole milliseconds.
DEFAULT_DRIFT_SECONDS = 0.05

VERDICT_OK = "linearizable"
VERDICT_BAD = "NOT linearizable"
VERDICT_UNDECIDED = "unknown (search budget exceeded)"

EXIT_OK, EXIT_VIOLATION, EXIT_BAD_INPUT, EXIT_UNDECIDED = 0, 1, 2, 3

_READ, _WRITE, _CAS = 0, 1, 2  # kinds: a get, a set or delete, a cas (reads and writes)
_ABSENT = 0  # register value id meaning "key absent"
_UNREAD = 1  # register value id shared by all values no read returned
_HEAD, _TAIL = 0, 1  # sentinel nodes of the event list
# Phases of the search for the next write: the list, then the spare groups; and the same
# restricted to cases expecting the current value (_KEEP: the list only).
_LIST, _SPARE, _KEEP, _OBSERVE_LIST, _OBSERVE_SPARE = 0, 1, 2, 3, 4


class HistoryError(ValueError):
    """The history is malformed (the CLI exits 2 on it)."""


# --------------------------------------------------------------------------- input


@dataclass(frozen=True)
class Operation:
    """One operation of the history, as recorded by a client.

    ``index`` is the 1-based line number (JSON lines) or position (list input), so a
    report can point back at the raw record. ``expect`` is a cas's expected value
    (``None``: absent); ``ttl_ms`` a write's time to live (``None``: it does not expire).
    """

    index: int
    process: Any
    op: str
    key: Any
    value: Any
    invoke: float
    complete: Optional[float]
    outcome: str
    expect: Any = None
    ttl_ms: Optional[float] = None


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def parse_operation(raw: Any, index: int) -> Operation:
    """Validate one record; raise HistoryError naming the record on any problem."""
    where = f"operation #{index}"
    if not isinstance(raw, dict):
        raise HistoryError(f"{where}: expected a JSON object, got {type(raw).__name__}")
    for name in ("op", "key", "invoke", "outcome"):
        if name not in raw:
            raise HistoryError(f"{where}: missing field {name!r}")
    op, key, outcome = raw["op"], raw["key"], raw["outcome"]
    if op not in OPS:
        raise HistoryError(f"{where}: op must be one of {OPS}, got {op!r}")
    if outcome not in OUTCOMES:
        raise HistoryError(f"{where}: outcome must be one of {OUTCOMES}, got {outcome!r}")
    if isinstance(key, (list, dict)):
        raise HistoryError(f"{where}: key must be a string or a number, got {key!r}")
    invoke, complete = raw["invoke"], raw.get("complete")
    if not _is_number(invoke):
        raise HistoryError(f"{where}: invoke must be a finite number, got {invoke!r}")
    if complete is not None and not _is_number(complete):
        raise HistoryError(f"{where}: complete must be a finite number or null, got {complete!r}")
    if outcome == "ok" and complete is None:
        raise HistoryError(f"{where}: an ok operation needs a complete time")
    if complete is not None and complete < invoke:
        raise HistoryError(f"{where}: complete ({complete!r}) is before invoke ({invoke!r})")
    needs_value = op in ("set", "cas") or (op == "get" and outcome == "ok")
    if needs_value and "value" not in raw:
        raise HistoryError(f"{where}: an {outcome} {op} needs a 'value' field (null for absent)")
    if op == "cas" and "expect" not in raw:
        raise HistoryError(f"{where}: a cas needs an 'expect' field (null for absent)")
    ttl_ms = raw.get("ttl_ms")
    if ttl_ms is not None:
        if op not in ("set", "cas"):
            raise HistoryError(f"{where}: only a set or a cas takes a 'ttl_ms', not a {op}")
        if not _is_number(ttl_ms) or ttl_ms < 0:
            raise HistoryError(f"{where}: ttl_ms must be a number of milliseconds >= 0, got {ttl_ms!r}")
        ttl_ms = ttl_ms or None  # 0: no expiry, as in the API
    value = raw.get("value") if op != "delete" else None
    expect = raw.get("expect") if op == "cas" else None
    return Operation(index, raw.get("process"), op, key, value, invoke, complete, outcome,
                     expect, ttl_ms)


def load_history(path: str) -> List[Operation]:
    """Read a JSON-lines history file (``-`` for stdin); blank lines are skipped."""
    stream = sys.stdin if path == "-" else open(path, encoding="utf-8")
    try:
        ops = []
        for lineno, line in enumerate(stream, 1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
            except json.JSONDecodeError as e:
                raise HistoryError(f"line {lineno}: not valid JSON ({e.msg})") from None
            ops.append(parse_operation(raw, lineno))
        return ops
    finally:
        if stream is not sys.stdin:
            stream.close()


def normalize(history: Any) -> List[Operation]:
    """Accept a path, a list of dicts or a list of Operations; return Operations."""
    if isinstance(history, (str, os.PathLike)):
        return load_history(os.fspath(history))
    ops = []
    for position, item in enumerate(history, 1):
        ops.append(item if isinstance(item, Operation) else parse_operation(item, position))
    return ops


def summary(history: Any) -> Dict[str, Any]:
    """Count operations by outcome (and by op and outcome), plus the number of keys, the
    writes with a time to live and the keys that have one (see ``check_expiry``)."""
    ops = normalize(history)
    by_outcome = Counter(o.outcome for o in ops)
    by_op: Dict[str, Dict[str, int]] = {}
    for o in ops:
        by_op.setdefault(o.op, {k: 0 for k in OUTCOMES})[o.outcome] += 1
    return {
        "total": len(ops),
        **{k: by_outcome.get(k, 0) for k in OUTCOMES},
        "by_op": by_op,
        "keys": len({_key_id(o.key) for o in ops}),
        "ttl_writes": sum(1 for o in ops if o.ttl_ms),
        "ttl_keys": len(_ttl_keys(ops)),
    }


def _ttl_keys(ops: List[Operation]) -> set:
    """Keys (as _key_id) with a write that carries a time to live, whatever its outcome."""
    return {_key_id(o.key) for o in ops if o.ttl_ms}


def _key_id(key: Any) -> Any:
    """Keys are compared as given; this only guards against unhashable odd values."""
    return key if isinstance(key, (str, int, float, bool, type(None))) else json.dumps(key)


# --------------------------------------------------------------------------- display


class _Clock:
    """Formats timestamps relative to the start of the whole history, in seconds."""

    def __init__(self, ops: List[Operation], unit: str):
        times = [o.invoke for o in ops] + [o.complete for o in ops if o.complete is not None]
        if unit == "auto":
            unit = "s" if any(isinstance(t, float) for t in times) else "ns"
        if unit not in ("s", "ns"):
            raise ValueError(f"time_unit must be 'auto', 's' or 'ns', not {unit!r}")
        self.scale = 1e-9 if unit == "ns" else 1.0
        self.start = min((o.invoke for o in ops), default=0)

    def fmt(self, t: Optional[float]) -> str:
        if t is None:
            return "?"
        return f"+{(t - self.start) * self.scale:.6f}s"


def _show_value(value: Any) -> str:
    if value is None:
        return "absent"
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 40 else text[:37] + "..."


def describe(o: Operation, clock: _Clock) -> str:
    """One readable line: who did what, which value, when, and how it ended."""
    if o.op == "set":
        what = f"set {_show_value(o.value)}"
    elif o.op == "cas":
        what = f"cas {_show_value(o.expect)} -> {_show_value(o.value)}"
    elif o.op == "get":
        what = f"get -> {_show_value(o.value)}" if o.outcome == "ok" else "get"
    else:
        what = "delete"
    if o.ttl_ms:
        what += f" ttl {o.ttl_ms:g}ms"
    complete = clock.fmt(o.complete) if o.outcome == "ok" else "never" if o.outcome == "fail" else "?"
    return (f"#{o.index:<6} p{o.process!s:<4} {what:<34} {o.outcome:<8}"
            f" {clock.fmt(o.invoke)} .. {complete}")


# --------------------------------------------------------------------------- results


@dataclass
class KeyResult:
    """The verdict for one key.

    ``ok`` is True (linearizable), False (violation) or None (search budget exceeded).
    For a violation, ``explanation`` says where the search got stuck and ``window``
    holds the operations around that point. A key with a TTL (``searched`` False) gets
    no register search, only the checks that need none and the expiry check.
    """

    key: Any
    ok: Optional[bool]
    ops: int = 0          # operations the search had to order (after dropping)
    dropped: int = 0      # failed ops, unknown gets, unobserved unknown writes
    steps: int = 0
    seconds: float = 0.0
    explanation: Optional[str] = None
    window: List[Operation] = field(default_factory=list)
    searched: bool = True
    expired_reads: List["ExpiryViolation"] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        return VERDICT_OK if self.ok else VERDICT_BAD if self.ok is False else VERDICT_UNDECIDED


@dataclass
class Result:
    """The verdict for a whole history: ``ok`` is False if any key is not linearizable,
    else None if any key was undecided, else True."""

    ok: Optional[bool]
    keys: Dict[Any, KeyResult]
    summary: Dict[str, Any]
    seconds: float

    @property
    def verdict(self) -> str:
        return VERDICT_OK if self.ok else VERDICT_BAD if self.ok is False else VERDICT_UNDECIDED

    @property
    def failures(self) -> List[KeyResult]:
        return [r for r in self.keys.values() if r.ok is False]

    @property
    def undecided(self) -> List[KeyResult]:
        return [r for r in self.keys.values() if r.ok is None]

    def report(self) -> str:
        s = self.summary
        lines = [
            f"verdict: {self.verdict}",
            f"operations: {s['total']} (ok {s['ok']}, fail {s['fail']}, unknown {s['unknown']})"
            f" on {s['keys']} keys, checked in {self.seconds:.3f}s",
        ]
        ttl_keys = [r.key for r in self.keys.values() if not r.searched]
        if ttl_keys:
            shown = ", ".join(repr(k) for k in ttl_keys[:8]) + (", ..." if len(ttl_keys) > 8 else "")
            lines.append(f"keys with a TTL (expiry and reads-have-writers checked, no register search): {shown}")
        for r in self.undecided:
            lines.append(f"key {r.key!r}: {VERDICT_UNDECIDED} after {r.steps} steps, {r.seconds:.1f}s")
        for r in self.failures:
            lines.append(r.explanation or f"key {r.key!r}: {VERDICT_BAD}")
        return "\n".join(lines)

    def __bool__(self) -> bool:  # "if check(h):" must not treat undecided as a pass
        return self.ok is True


# --------------------------------------------------------------------------- per-key problem


class _Values:
    """Interns register values as small ints so a configuration is cheap to hash.
    ``None`` (absent) is 0, values no read returns share 1, and any other JSON value is
    compared by its canonical JSON text."""

    def __init__(self) -> None:
        self.ids: Dict[str, int] = {}

    def id(self, value: Any) -> int:
        if value is None:
            return _ABSENT
        return self.ids.setdefault(json.dumps(value, sort_keys=True), len(self.ids) + 2)


@dataclass
class _Problem:
    """One key's operations as arrays indexed by op number.

    Operations with a return event (every ok op, and unknown writes given a deadline)
    live in a doubly linked list of call and return events. Unknown writes without a
    deadline never block anything, so instead of sitting in the list they are grouped
    by (expected value, value) in ``spare`` (each group ordered by invoke time).
    """

    source: List[Operation]       # op number -> original operation
    kind: List[int]               # _READ, _WRITE or _CAS
    val: List[int]                # value read (get) or written (set, delete, cas)
    exp: List[int]                # a cas's expected value; -1 for the others
    invoke: List[float]
    ret: List[Optional[float]]    # return time; None for an unknown write (+infinity)
    required: List[bool]          # must be linearized (ok ops, and unknown writes with a deadline)
    group: List[int]              # op -> its index in spare, -1 for ops in the list
    spare: List[List[int]]        # unknown writes without a deadline, grouped by (exp, val)
    nxt: List[int]
    prv: List[int]
    node_op: List[int]            # node -> op number (-1 for sentinels)
    is_call: List[bool]
    call_node: List[int]          # op -> its call node, -1 if not in the list
    ret_node: List[int]           # op -> its return node, -1 if not in the list


class _Violation(Exception):
    """Raised while preparing a key when a violation is evident without searching."""

    def __init__(self, message: str, window: List[Operation]):
        super().__init__(message)
        self.window = window


def _readers_and_writers(kept: List[Operation], val_of: Dict[int, int], exp_of: Dict[int, int]
                         ) -> Tuple[Dict[int, List[Operation]], Dict[int, List[Operation]]]:
    """Per value id: the ok operations that read it (gets returning it, ok cases expecting
    it: they must be linearized while the register holds it), and the writes of it."""
    writers: Dict[int, List[Operation]] = {}
    readers: Dict[int, List[Operation]] = {}
    for o in kept:
        if o.op == "get":
            readers.setdefault(val_of[id(o)], []).append(o)
            continue
        writers.setdefault(val_of[id(o)], []).append(o)
        if o.op == "cas" and o.outcome == "ok":
            readers.setdefault(exp_of[id(o)], []).append(o)
    return readers, writers


def _prepare(ops: List[Operation], values: _Values) -> Tuple[_Problem, int]:
    """Drop what cannot matter, give observed unknown writes a deadline, build the list.

    Returns the problem and the number of operations dropped.
    """
    kept = [o for o in ops if o.outcome == "ok" or (o.outcome == "unknown" and o.op != "get")]
    val_of = {id(o): values.id(o.value) for o in kept}
    exp_of = {id(o): values.id(o.expect) for o in kept if o.op == "cas"}
    readers, writers = _readers_and_writers(kept, val_of, exp_of)

    _check_reads_have_writers(ops, readers, writers)

    # An unknown write whose value nothing reads (no ok get returns it, no kept cas
    # expects it) can be left out: in any linearization the operation right after it is
    # neither a get (it would return its value) nor a cas (it would expect it), so it is
    # a set or delete that overwrites it unconditionally, or there is none; removing it
    # changes nothing. Leaving it out is also always allowed. Dropping an unknown cas
    # removes a reader of its expected value, so repeat until nothing more goes.
    unknown = [o for o in kept if o.outcome == "unknown"]
    while True:
        observed = set(readers) | {exp_of[id(o)] for o in unknown if o.op == "cas"}
        still = [o for o in unknown if val_of[id(o)] in observed]
        if len(still) == len(unknown):
            break
        unknown = still
    keep_unknown = {id(o) for o in unknown}
    kept = [o for o in kept if o.outcome == "ok" or id(o) in keep_unknown]
    dropped = len(ops) - len(kept)

    source, kind, val, exp, ret, required = [], [], [], [], [], []
    for o in kept:
        v = val_of[id(o)]
        deadline: Optional[float] = o.complete
        if o.outcome == "unknown":
            deadline = None
            # The only writer of a value that an ok operation reads must take effect
            # before the first of those reads completes: that is its return event (and
            # it is required). (No writer of a value that is read was dropped above.)
            if v != _ABSENT and v in readers and len(writers[v]) == 1:
                deadline = max(o.invoke, min(r.complete for r in readers[v]))
        elif o.op != "get" and v != _ABSENT and v not in observed:
            # Reads compare the register with what they returned (or expect), so values
            # nothing reads are indistinguishable: one id for them all merges
            # configurations that differ only in which unread value was written last.
            v = _UNREAD
        source.append(o)
        kind.append(_READ if o.op == "get" else _CAS if o.op == "cas" else _WRITE)
        val.append(v)
        exp.append(exp_of[id(o)] if o.op == "cas" else -1)
        ret.append(deadline)
        required.append(deadline is not None)
    return _build(source, kind, val, exp, ret, required), dropped


def _check_reads_have_writers(ops, readers, writers) -> None:
    """Catch a read of a value no surviving write wrote, or of a value whose only writer
    started after the read finished; both are violations a reader understands at once.
    An ok cas reads the value it expected, so the same goes for it."""
    for v, reads in readers.items():
        if v == _ABSENT:
            continue
        if v not in writers:
            read = reads[0]
            seen = json.dumps(_observed(read), sort_keys=True)
            failed = [o for o in ops if o.op in ("set", "cas") and o.outcome == "fail"
                      and json.dumps(o.value, sort_keys=True) == seen]
            why = ("only by a write that failed" if failed else "by no set or cas in the history")
            verb = "expected" if read.op == "cas" else "returned"
            raise _Violation(f"#{read.index} ({describe_short(read)}) {verb} a value written {why}",
                             [read] + failed[:3])
        if len(writers[v]) == 1:
            w = writers[v][0]
            early = [r for r in reads if r.complete < w.invoke]
            if early:
                raise _Violation(f"#{early[0].index} ({describe_short(early[0])}) completed before"
                                 f" #{w.index}, the only write of that value, was invoked", [early[0], w])


def _static_check(ops: List[Operation]) -> None:
    """The checks that need no search (raise _Violation): used alone on keys with a TTL."""
    kept = [o for o in ops if o.outcome == "ok" or (o.outcome == "unknown" and o.op != "get")]
    values = _Values()
    val_of = {id(o): values.id(o.value) for o in kept}
    exp_of = {id(o): values.id(o.expect) for o in kept if o.op == "cas"}
    readers, writers = _readers_and_writers(kept, val_of, exp_of)
    _check_reads_have_writers(ops, readers, writers)


def _build(source, kind, val, exp, ret, required) -> _Problem:
    """Sort call/return events by time (calls first at equal times, so operations that
    touch at an instant count as concurrent), link them between two sentinels, and
    group the unknown writes that have no deadline."""
    n = len(source)
    invoke = [o.invoke for o in source]
    events, groups = [], {}
    for i in range(n):
        if ret[i] is None:
            groups.setdefault((exp[i], val[i]), []).append(i)
        else:
            events.append((invoke[i], 0, i))
            events.append((ret[i], 1, i))
    events.sort()
    n_nodes = 2 + len(events)
    node_op = [-1] * n_nodes
    is_call = [False] * n_nodes
    call_node, ret_node = [-1] * n, [-1] * n
    order = [_HEAD]
    for node, (_, is_return, i) in enumerate(events, 2):
        node_op[node] = i
        is_call[node] = not is_return
        (ret_node if is_return else call_node)[i] = node
        order.append(node)
    order.append(_TAIL)
    nxt = [0] * n_nodes
    prv = [0] * n_nodes
    for a, b in zip(order, order[1:]):
        nxt[a], prv[b] = b, a
    group = [-1] * n
    spare = [sorted(members, key=lambda i: (invoke[i], i)) for _, members in sorted(groups.items())]
    for g, members in enumerate(spare):
        for i in members:
            group[i] = g
    return _Problem(source, kind, val, exp, invoke, ret, required, group, spare,
                    nxt, prv, node_op, is_call, call_node, ret_node)


# --------------------------------------------------------------------------- search


class _BudgetExceeded(Exception):
    pass


class _Search:
    """Depth-first search for a linearization of one key, with an explicit stack.

    A configuration is (set of linearized ops as an int bitset, register value). Every
    configuration entered is remembered; meeting it again means it already failed (a
    successful one ends the search), so that branch is pruned. A configuration entered
    right after an unknown write without deadline is explored restricted to reads of
    its value (see run) and remembered under ``~value``, so the two never mix.

    Why the restrictions lose nothing: call a linearization *canonical* when every
    unknown write without deadline in it is followed at once by a read of its value.
    Any linearization becomes canonical by repeatedly leaving out such a write that is
    followed by a set or delete (or by nothing). The search is complete for canonical
    linearizations: an eager get moved to the front, or the choice of the earliest
    invoked member of a group, keeps one valid, and canonical once the writes it
    strands are left out again.
    """

    def __init__(self, p: _Problem, deadline: Optional[float], max_steps: Optional[int]):
        self.p = p
        self.deadline = deadline
        self.max_steps = max_steps
        self.nxt = list(p.nxt)
        self.prv = list(p.prv)
        # Unknown writes with the same expected value (none for a set or delete) and the
        # same value are interchangeable once invoked, so they are always linearized in
        # invoke order: per group, a count of those taken.
        self.used = [0] * len(p.spare)
        self.cas_groups = [g for g, members in enumerate(p.spare) if p.kind[members[0]] == _CAS]
        self.has_cas = _CAS in p.kind
        # Per value: its required reads (gets returning it, and the cases expecting it
        # that must be linearized) by completion time and its writes (sets, deletes and
        # cases of it) by invoke time, with the position of the first not yet linearized
        # one (see _must_keep). A cas is in both kinds of list, so it has a position in
        # each (-1: not in that kind of list).
        n = len(p.val)
        n_values = max(p.val + p.exp, default=0) + 1
        self.done = bytearray(n)
        self.reads: List[List[int]] = [[] for _ in range(n_values)]
        self.writes: List[List[int]] = [[] for _ in range(n_values)]
        self.read_of = [p.val[i] if p.kind[i] == _READ else p.exp[i] if p.required[i] else -1
                        for i in range(n)]
        for i in sorted((i for i in range(n) if self.read_of[i] >= 0), key=lambda i: (p.ret[i], i)):
            self.reads[self.read_of[i]].append(i)
        for i in sorted((i for i in range(n) if p.kind[i] != _READ), key=lambda i: (p.invoke[i], i)):
            self.writes[p.val[i]].append(i)
        self.read_position = [-1] * n
        self.write_position = [-1] * n
        for lists, position in ((self.reads, self.read_position), (self.writes, self.write_position)):
            for members in lists:
                for k, i in enumerate(members):
                    position[i] = k
        self.first_read = [0] * n_values
        self.first_write = [0] * n_values
        self.steps = 0
        self.next_check = 1  # the first step checks, so a budget of 0 stops at once
        # The deepest point reached: (stack depth, linearized bitset, value, last writer).
        self.deepest: Tuple[int, int, int, int] = (-1, 0, _ABSENT, -1)

    # Removing an op's events from the list and putting them back (in reverse order,
    # "dancing links" style) is O(1), which is what makes backtracking cheap.
    def _lift(self, i: int) -> None:
        self.done[i] = 1
        g = self.p.group[i]
        if g >= 0:
            self.used[g] += 1
            return
        nxt, prv = self.nxt, self.prv
        for node in (self.p.call_node[i], self.p.ret_node[i]):
            nxt[prv[node]] = nxt[node]
            prv[nxt[node]] = prv[node]

    def _unlift(self, i: int) -> None:
        p = self.p
        self.done[i] = 0
        if self.read_position[i] >= 0:
            v = self.read_of[i]
            self.first_read[v] = min(self.first_read[v], self.read_position[i])
        if self.write_position[i] >= 0:
            v = p.val[i]
            self.first_write[v] = min(self.first_write[v], self.write_position[i])
        g = p.group[i]
        if g >= 0:
            self.used[g] -= 1
            return
        nxt, prv = self.nxt, self.prv
        for node in (self.p.ret_node[i], self.p.call_node[i]):
            nxt[prv[node]] = node
            prv[nxt[node]] = node

    def _first_left(self, members: List[int], first: List[int], value: int) -> int:
        """The first op of ``members`` not linearized yet, or -1; ``first`` caches where
        the scan starts (reset by _unlift), so the scan is cheap on average."""
        k, done = first[value], self.done
        while k < len(members) and done[members[k]]:
            k += 1
        first[value] = k
        return members[k] if k < len(members) else -1

    def _must_keep(self, value: int) -> bool:
        """Must the key keep ``value`` until another read of it is linearized?

        Yes when some read of it (a get returning it, or a required cas expecting it) is
        left that no remaining write of it can serve: a write can come before that read
        only if invoked by the time the read completes. The read completing first is the
        most demanding one, the write invoked first the most accommodating. (With one
        writer per value this is what catches a stale read as soon as its value is
        written, instead of thousands of steps later.) While it holds, the only operations
        that can come next are reads of the value: gets, and cases expecting it (such a
        cas is itself the read, and may then overwrite the value).
        """
        r = self._first_left(self.reads[value], self.first_read, value)
        if r < 0:
            return False
        w = self._first_left(self.writes[value], self.first_write, value)
        return w < 0 or self.p.invoke[w] > self.p.ret[r]

    def _tick(self) -> None:
        """Count a step; look at the clock only every 1024 steps, as it costs more."""
        self.steps += 1
        if self.steps >= self.next_check:
            if self.max_steps is not None and self.steps >= self.max_steps:
                raise _BudgetExceeded
            if self.deadline is not None and time.monotonic() >= self.deadline:
                raise _BudgetExceeded
            self.next_check = self.steps + 1024
            if self.max_steps is not None:
                self.next_check = min(self.next_check, self.max_steps)

    def _frontier(self) -> Tuple[float, set]:
        """The time of the first pending return (only calls up to it may be linearized
        now, as that operation must take effect before it returns), and the values read
        by the operations that may be linearized now: the gets and cases before it, and
        the next unknown cas of each group invoked by then."""
        p, nxt, node = self.p, self.nxt, self.nxt[_HEAD]
        wanted = set()
        while p.is_call[node]:
            i = p.node_op[node]
            if p.kind[i] == _READ:
                wanted.add(p.val[i])
            elif p.kind[i] == _CAS:
                wanted.add(p.exp[i])
            node = nxt[node]
        frontier = math.inf if node == _TAIL else p.ret[p.node_op[node]]
        for g in self.cas_groups:
            members, taken = p.spare[g], self.used[g]
            if taken < len(members) and p.invoke[members[taken]] <= frontier:
                wanted.add(p.exp[members[0]])
        return frontier, wanted

    def _matching_read(self, value: int) -> int:
        """A pending get (call before the first return) that returned ``value``, or -1.
        Never a cas: it changes the value.

        Taking it now never loses a solution: it is already invoked, everything that
        returned before it started is already linearized, and reading the current value
        changes nothing -- so if any order works from here, one starting with it does.
        """
        p, node = self.p, self.nxt[_HEAD]
        while p.is_call[node]:
            i = p.node_op[node]
            if p.kind[i] == _READ and p.val[i] == value:
                return i
            node = self.nxt[node]
        return -1

    def _next_write(self, phase: int, cursor: int, linearized: int, seen: set,
                    value: int) -> Tuple[int, int, int]:
        """Find the next pending write, from ``cursor`` on, that leads to an unseen
        configuration from register value ``value``; mark that configuration seen. A
        cas qualifies only if ``value`` is what it expects.

        Phase _LIST walks the list (``cursor`` is a node); phase _SPARE then tries the
        unknown writes without deadline (``cursor`` is a group): they are never urgent,
        so they are tried only after the writes that are. _OBSERVE_LIST and
        _OBSERVE_SPARE are the same, but only cases expecting ``value`` qualify (right
        after an unknown write, see run). _KEEP is _OBSERVE_LIST alone, while the value
        must be kept (see _must_keep): an unknown cas is not a read that must be served,
        so it may not overwrite the value either. Returns (op or -1, phase, cursor).

        An unknown write is tried only when an operation that may be linearized now reads
        its value (a get returning it or a cas expecting it). That loses nothing: in a
        linearization where the op right after an unknown write is not such a read, it
        is a set or delete (or nothing), no one observes the write and it can be left
        out; and that read could be linearized already, as the write moves no event.
        """
        p, nxt = self.p, self.nxt
        if phase == _LIST or phase == _KEEP or phase == _OBSERVE_LIST:
            only_cas = phase != _LIST
            node = cursor
            while p.is_call[node]:
                self._tick()
                i = p.node_op[node]
                k = p.kind[i]
                if (k == _CAS and p.exp[i] == value) or (k == _WRITE and not only_cas):
                    config = (linearized | (1 << i), p.val[i])
                    if config not in seen:
                        seen.add(config)
                        return i, phase, node
                node = nxt[node]
            if phase == _KEEP:
                return -1, _KEEP, _TAIL
            phase, cursor = (_SPARE if phase == _LIST else _OBSERVE_SPARE), 0
        if not p.spare:
            return -1, phase, 0
        only_cas = phase == _OBSERVE_SPARE
        frontier, wanted = self._frontier()
        spare, used = p.spare, self.used
        while cursor < len(spare):
            self._tick()
            members, taken = spare[cursor], used[cursor]
            if taken < len(members) and p.val[members[0]] in wanted:
                i = members[taken]
                if p.invoke[i] <= frontier and (p.exp[i] == value if p.kind[i] == _CAS else not only_cas):
                    # The configuration it leads to is explored restricted (see run), so it
                    # is remembered apart: failing restricted says nothing about the
                    # configuration reached otherwise, but failing unrestricted implies it.
                    restricted = (linearized | (1 << i), ~p.val[i])
                    if restricted not in seen and (restricted[0], p.val[i]) not in seen:
                        seen.add(restricted)
                        return i, phase, cursor
            cursor += 1
        return -1, phase, cursor

    def run(self) -> bool:
        """True if a linearization of all required ops exists, False if none does."""
        p = self.p
        value, writer, linearized = _ABSENT, -1, 0
        remaining = sum(p.required)
        seen: set = set()
        # A frame: (op, value before, writer before, phase, cursor, forced). Forced
        # frames are eager reads: when one fails, its parent configuration failed too.
        stack: List[Tuple[int, int, int, int, int, bool]] = []
        fresh = True               # just entered a new configuration
        phase, cursor = _LIST, _HEAD   # where the scan for the next write resumes
        while True:
            self._tick()
            if fresh:
                if remaining == 0:
                    return True
                if len(stack) > self.deepest[0]:
                    self.deepest = (len(stack), linearized, value, writer)
                i = self._matching_read(value)
                if i >= 0:
                    config = (linearized | (1 << i), value)
                    if config not in seen:
                        seen.add(config)
                        stack.append((i, value, writer, 0, 0, True))
                        self._lift(i)
                        linearized |= 1 << i
                        remaining -= 1
                        continue
                    i = -1  # this configuration already failed: backtrack
                elif self._must_keep(value):
                    # No pending get takes the value now, and no write may replace it
                    # but a cas expecting it.
                    i = -1
                    if self.has_cas:
                        i, phase, cursor = self._next_write(_KEEP, self.nxt[_HEAD], linearized, seen, value)
                elif stack and p.group[stack[-1][0]] >= 0:
                    # Right after an unknown write without deadline, only a read of its
                    # value may come (the pending gets of it were taken just above): if
                    # a set or delete came next, the same order without the unknown write
                    # works too, and the other branches from the configuration before it
                    # try that. Without this, a cas that keeps its value wanted (often a
                    # create-only one, and absent has many unknown writers: the deletes)
                    # doubles the configurations around it for every such write.
                    i, phase, cursor = self._next_write(_OBSERVE_LIST, self.nxt[_HEAD], linearized,
                                                        seen, value)
                else:
                    i, phase, cursor = self._next_write(_LIST, self.nxt[_HEAD], linearized, seen, value)
            else:
                i, phase, cursor = self._next_write(phase, cursor, linearized, seen, value)

            if i >= 0:
                stack.append((i, value, writer, phase, cursor, False))
                self._lift(i)
                linearized |= 1 << i
                remaining -= p.required[i]
                value, writer, fresh = p.val[i], i, True
                continue

            # Nothing works from here: undo until a frame with alternatives left.
            while True:
                if not stack:
                    return False
                i, value, writer, phase, cursor, forced = stack.pop()
                self._unlift(i)
                linearized ^= 1 << i
                remaining += p.required[i]
                if not forced:
                    break
            cursor = cursor + 1 if phase in (_SPARE, _OBSERVE_SPARE) else self.nxt[p.call_node[i]]
            fresh = False


# --------------------------------------------------------------------------- explanation


def _explain_search_failure(key: Any, p: _Problem, search: _Search, clock: _Clock,
                            key_ops: List[Operation]) -> Tuple[str, List[Operation]]:
    """Describe the deepest point the search reached: what the key held, which operation
    could not be linearized when it had to be, and the operations around that point.

    A stale or lost-write read typically shows up as a *stranded* value: the key holds
    X, a later get still has to return X (or a later cas expects it), nothing can write X
    again, yet an operation that must take effect before that read would overwrite it.
    Those reads are listed too, since they are what a person will want to look at.
    """
    depth, linearized, value, writer = search.deepest
    n = len(p.source)
    done = {i for i in range(n) if linearized >> i & 1}
    todo = [i for i in range(n) if i not in done]
    blocked = min((i for i in todo if p.ret[i] is not None), key=lambda i: (p.ret[i], i))
    limit = p.ret[blocked]
    stranded: List[int] = []
    if not any(p.kind[i] != _READ and p.val[i] == value for i in todo):
        reads = sorted((i for i in todo if search.read_of[i] == value),
                       key=lambda i: (p.invoke[i], i))
        stranded = reads[:2] + reads[2:][-1:]  # the first ones, and the last (often the stale one)

    pending = sorted((i for i in todo if p.invoke[i] <= limit), key=lambda i: (p.invoke[i], i))
    pending = pending[-10:] if blocked in pending[-10:] else pending[-9:] + [blocked]
    recent = sorted((i for i in done if p.ret[i] is not None and p.ret[i] <= limit),
                    key=lambda i: (p.ret[i], i))[-5:]
    shown = set(pending) | set(recent) | set(stranded) | ({writer} if writer >= 0 else set())
    shown_ops = sorted(shown, key=lambda i: (p.invoke[i], i))

    held = "absent (never written)"
    if writer >= 0:
        w = p.source[writer]
        held = f"{_show_value(w.value)} (from #{w.index}, p{w.process} {w.op})"
    b = p.source[blocked]
    lines = [
        f"key {key!r}: {VERDICT_BAD}",
        f"  The search got furthest after linearizing {depth} of {n} operations;"
        f" the key then held {held}.",
    ]
    if stranded:
        r = p.source[stranded[0]]
        lines.append(
            f"  #{r.index} ({describe_short(r)}, {clock.fmt(r.invoke)} .. {clock.fmt(r.complete)})"
            f" still has to {'expect' if r.op == 'cas' else 'read'} that value, but nothing"
            f" can write it again, and"
            f" #{b.index} ({describe_short(b)}) must take effect first, by {clock.fmt(limit)}.")
    else:
        lines.append(
            f"  #{b.index} ({describe_short(b)}) must take effect by {clock.fmt(limit)},"
            " but no order of the operations pending at that point allows it.")
    lines.append("  Operations around that point (times relative to history start):")
    for i in shown_ops:
        tag = "linearized" if i in done else "pending"
        mark = ("  <-- stuck here" if i == blocked else
                "  <-- cannot read this any more" if i in stranded else "")
        lines.append(f"    {describe(p.source[i], clock)}  [{tag}]{mark}")

    start = min(p.invoke[i] for i in shown)
    failed = [o for o in key_ops if o.outcome == "fail" and o.invoke <= limit
              and (o.complete is None or o.complete >= start)]
    if failed:
        lines.append("  Failed operations on this key overlapping that point (they never took effect):")
        lines += [f"    {describe(o, clock)}" for o in failed[:5]]
    return "\n".join(lines), [p.source[i] for i in shown_ops]


def describe_short(o: Operation) -> str:
    """``p3 get -> "v"``, ``p3 cas "v" -> "w"`` and the like, for prose."""
    if o.op == "get":
        return f"p{o.process} get -> {_show_value(o.value)}"
    if o.op == "set":
        return f"p{o.process} set {_show_value(o.value)}"
    if o.op == "cas":
        return f"p{o.process} cas {_show_value(o.expect)} -> {_show_value(o.value)}"
    return f"p{o.process} delete"


def _observed(o: Operation) -> Any:
    """The value an operation reads: a get's result, a cas's expected value."""
    return o.expect if o.op == "cas" else o.value


# --------------------------------------------------------------------------- localization


def _as_of(ops: List[Operation], t: float) -> List[Operation]:
    """The history as it stood at instant ``t``: later invocations are not there yet,
    a get still running has said nothing, and a write still running is unknown.

    If the full history is linearizable, so is this (keep the operations whose
    linearization point is at most ``t``); so the earliest ``t`` at which it is not
    linearizable is where the history goes wrong, whatever comes after.
    """
    out = []
    for o in ops:
        if o.invoke > t:
            continue
        if o.outcome == "ok" and o.complete > t:
            if o.op == "get":
                continue
            o = replace(o, outcome="unknown", complete=None)
        out.append(o)
    return out


def _decide(ops: List[Operation], deadline: Optional[float], max_steps: Optional[int]) -> Optional[bool]:
    try:
        problem, _ = _prepare(ops, _Values())
    except _Violation:
        return False
    try:
        return _Search(problem, deadline, max_steps).run()
    except _BudgetExceeded:
        return None


def _first_failing_instant(ops: List[Operation], deadline: Optional[float],
                           max_steps: Optional[int]) -> Optional[Tuple[float, Optional[float]]]:
    """Binary search over completion times for the first instant at which the history
    (as of then) is not linearizable; returns (that instant, the previous completion
    time or None), or None if the budget ran out."""
    times = sorted({o.complete for o in ops if o.outcome == "ok"})
    lo, hi = 0, len(times) - 1  # as of times[-1] is the whole history, known to fail
    while lo < hi:
        mid = (lo + hi) // 2
        verdict = _decide(_as_of(ops, times[mid]), deadline, max_steps)
        if verdict is None:
            return None
        lo, hi = (mid + 1, hi) if verdict else (lo, mid)
    return times[lo], (times[lo - 1] if lo > 0 else None)


def _explain_first_failure(key: Any, ops: List[Operation], t: float, before: Optional[float],
                           clock: _Clock) -> Tuple[str, List[Operation]]:
    """Explain a violation by the operation(s) whose completion at ``t`` first made the
    history impossible, shown with what overlapped them and the writes just before."""
    culprits = [o for o in ops if o.outcome == "ok" and o.complete == t]
    start = min(o.invoke for o in culprits)
    relevant = [o for o in ops if o.outcome != "fail" and not (o.op == "get" and o.outcome != "ok")]
    overlapping = [o for o in relevant if o.invoke <= t and o.outcome == "ok" and o.complete >= start]
    overlapping = sorted(overlapping, key=lambda o: abs(o.invoke - start))[:8]
    earlier_writes = sorted((o for o in relevant if o.op != "get" and o.invoke < start
                             and (o.complete is None or o.complete < start)),
                            key=lambda o: o.complete if o.complete is not None else o.invoke)[-4:]
    sources = []
    for c in culprits:
        if c.op in ("get", "cas"):
            # where the value it read could have come from (including failed writes)
            seen = _observed(c)
            same = [o for o in ops if o.op != "get" and o is not c and o.invoke <= t and
                    (o.value == seen if seen is not None else o.op == "delete")]
            sources += sorted(same, key=lambda o: o.invoke)[-3:]
    shown = {o.index: o for o in overlapping + earlier_writes + sources + culprits}
    window = sorted(shown.values(), key=lambda o: (o.invoke, o.index))

    names = ", ".join(f"#{c.index} ({describe_short(c)}, {clock.fmt(c.invoke)} .. {clock.fmt(c.complete)})"
                      for c in culprits)
    upto = f"up to {clock.fmt(before)}" if before is not None else "before it"
    lines = [
        f"key {key!r}: {VERDICT_BAD}",
        f"  The history is linearizable {upto}, but not once {names} completes at"
        f" {clock.fmt(t)}: no order of the operations explains it together with what came before.",
        "  Operations around it (times relative to history start):",
    ]
    for o in window:
        mark = "  <-- cannot be explained" if o in culprits else ""
        lines.append(f"    {describe(o, clock)}{mark}")
    return "\n".join(lines), window


# --------------------------------------------------------------------------- entry points


def check_key(key: Any, ops: List[Operation], clock: _Clock,
              budget_seconds: Optional[float] = None,
              max_steps: Optional[int] = None) -> KeyResult:
    """Check one key's operations (all must be on that key)."""
    started = time.monotonic()
    values = _Values()
    try:
        problem, dropped = _prepare(ops, values)
    except _Violation as v:
        lines = [f"key {key!r}: {VERDICT_BAD}", f"  {v}.",
                 "  Operations (times relative to history start):"]
        lines += [f"    {describe(o, clock)}" for o in sorted(v.window, key=lambda o: (o.invoke, o.index))]
        return KeyResult(key, False, len(ops), 0, 0, time.monotonic() - started,
                         "\n".join(lines), v.window)
    deadline = None if budget_seconds is None else started + budget_seconds
    search = _Search(problem, deadline, max_steps)
    try:
        ok: Optional[bool] = search.run()
    except _BudgetExceeded:
        ok = None
    result = KeyResult(key, ok, len(problem.source), dropped, search.steps,
                       time.monotonic() - started)
    if ok is False:
        found = _first_failing_instant(ops, deadline, max_steps)
        if found is not None:
            result.explanation, result.window = _explain_first_failure(key, ops, *found, clock)
        else:  # no budget left to pinpoint it: say where the search got stuck
            result.explanation, result.window = _explain_search_failure(
                key, problem, search, clock, ops)
    return result


@dataclass
class ExpiryViolation:
    """An ok get that returned a value after it had certainly expired: invoked ``late``
    seconds after the latest instant at which ``write`` (of all the writes of that value,
    the one expiring last) can have made it expire, more than the allowed drift."""

    key: Any
    read: Operation
    write: Operation
    late: float  # seconds
    message: str


def _expiry_violations(ops: List[Operation], clock: _Clock, drift_seconds: float) -> List[ExpiryViolation]:
    """See check_expiry; ``ops`` already normalized, ``clock`` gives the time unit."""
    if drift_seconds < 0:
        raise ValueError(f"drift must be >= 0 seconds, not {drift_seconds!r}")
    per_unit = 1.0 / clock.scale          # history time units per second
    drift = drift_seconds * per_unit
    ttl_keys = _ttl_keys(ops)
    ops = [o for o in ops if _key_id(o.key) in ttl_keys]  # elsewhere nothing expires
    writes: Dict[Tuple[Any, str], List[Operation]] = {}
    for o in ops:
        if o.op in ("set", "cas") and o.outcome != "fail":
            writes.setdefault((_key_id(o.key), json.dumps(o.value, sort_keys=True)), []).append(o)
    found = []
    for g in ops:
        if g.op != "get" or g.outcome != "ok" or g.value is None:
            continue
        sources = writes.get((_key_id(g.key), json.dumps(g.value, sort_keys=True)))
        if not sources:
            continue  # a read of a value never written: the reads-have-writers check says so
        # The value can have lived until the latest expiry among its writes; a write
        # without a TTL, or that may take effect at any later instant, keeps it forever.
        if any(not w.ttl_ms or w.outcome != "ok" for w in sources):
            continue
        last = max(sources, key=lambda w: (w.complete + w.ttl_ms / 1000 * per_unit, w.index))
        expired = last.complete + last.ttl_ms / 1000 * per_unit
        if g.invoke > expired + drift:
            late = (g.invoke - expired) / per_unit
            others = f", the last of {len(sources)} writes of that value to expire" if len(sources) > 1 else ""
            message = (f"#{g.index} (p{g.process} get {g.key} -> {_show_value(g.value)}, invoked at"
                       f" {clock.fmt(g.invoke)}) returned a value {late:.3f} s after it expired"
                       f" ({last.op} #{last.index} with ttl {last.ttl_ms:g} ms completed at"
                       f" {clock.fmt(last.complete)}{others}, so the value was gone by"
                       f" {clock.fmt(expired)}; allowed drift {drift_seconds:g} s)")
            found.append(ExpiryViolation(g.key, g, last, late, message))
    return found


def check_expiry(history: Any, drift_seconds: float = DEFAULT_DRIFT_SECONDS,
                 time_unit: str = "auto") -> List[ExpiryViolation]:
    """The expiry check: every ok get that returned a value written with a TTL, invoked
    more than ``drift_seconds`` after that value can last have expired.

    A write with ``ttl_ms`` N proposed by the leader somewhere in [invoke, complete]
    expires in [invoke + N, complete + N]. A get returning value X is a violation only if
    every write of X (set or cas, ok or unknown; failed ones never took effect) is ok and
    has a TTL, and the get was invoked after the latest ``complete + ttl`` of them plus the
    drift. An unknown write of X may take effect at any later instant, so it rules out
    an alarm, as does a write of X without a TTL. ``time_unit`` as for ``check`` ('auto':
    float timestamps are seconds, integers nanoseconds) converts ``ttl_ms`` to the
    history's unit. Returns the violations, in history order (empty: none).
    """
    ops = normalize(history)
    return _expiry_violations(ops, _Clock(ops, time_unit), drift_seconds)


def _check_ttl_key(key: Any, ops: List[Operation], clock: _Clock,
                   expired: List[ExpiryViolation]) -> KeyResult:
    """A key with a TTL: no register search (a value vanishing at expiry is not a register
    behaviour), only the checks that need none, and the expiry check's findings."""
    started = time.monotonic()
    result = KeyResult(key, True, 0, 0, 0, 0.0, searched=False, expired_reads=expired)
    lines: List[str] = []
    window: List[Operation] = []
    try:
        _static_check(ops)
    except _Violation as v:
        lines.append(f"  {v}.")
        window += v.window
    # One line per expired write, about its latest read: the clearest evidence.
    by_write: Dict[int, List[ExpiryViolation]] = {}
    for e in expired:
        by_write.setdefault(e.write.index, []).append(e)
    for reads in list(by_write.values())[:5]:
        worst = max(reads, key=lambda e: e.late)
        more = f" ({len(reads) - 1} more gets returned that value after it expired)" if len(reads) > 1 else ""
        lines.append(f"  {worst.message}{more}.")
        window += [worst.write, worst.read]
    if len(by_write) > 5:
        lines.append(f"  ... and {len(by_write) - 5} more expired values read, {len(expired)} reads in all.")
    if lines:
        shown = sorted({o.index: o for o in window}.values(), key=lambda o: (o.invoke, o.index))
        lines = ([f"key {key!r}: {VERDICT_BAD} (a key with a TTL: no register search)"] + lines
                 + ["  Operations (times relative to history start):"]
                 + [f"    {describe(o, clock)}" for o in shown])
        result.ok, result.explanation, result.window = False, "\n".join(lines), shown
    result.ops, result.seconds = len(ops), time.monotonic() - started
    return result


def check(history: Any, budget_seconds: Optional[float] = None,
          max_steps: Optional[int] = None, time_unit: str = "auto",
          drift_seconds: float = DEFAULT_DRIFT_SECONDS) -> Result:
    """Check a whole history; keys are split apart and checked independently.

    ``history``: a JSON-lines path, a list of dicts or a list of Operations.
    ``budget_seconds`` / ``max_steps``: limits for each key's search; a key that exceeds
    them is reported as undecided (``ok`` None), never as a pass.
    ``time_unit``: 's', 'ns' or 'auto' (float timestamps mean seconds, ints nanoseconds);
    it affects how times are printed and how ``ttl_ms`` converts to the history's unit.
    ``drift_seconds``: the clock drift the expiry check allows (see ``check_expiry``).
    Keys with a TTL write are not searched; they get the expiry check instead.
    """
    started = time.monotonic()
    ops = normalize(history)
    clock = _Clock(ops, time_unit)
    expired: Dict[Any, List[ExpiryViolation]] = {}
    for e in _expiry_violations(ops, clock, drift_seconds):
        expired.setdefault(_key_id(e.key), []).append(e)
    ttl_keys = _ttl_keys(ops)
    per_key: Dict[Any, List[Operation]] = {}
    for o in ops:
        per_key.setdefault(_key_id(o.key), []).append(o)
    results: Dict[Any, KeyResult] = {}
    for key_id in sorted(per_key, key=lambda k: (type(k).__name__, str(k))):
        key_ops = per_key[key_id]
        key = key_ops[0].key
        if key_id in ttl_keys:
            results[key] = _check_ttl_key(key, key_ops, clock, expired.get(key_id, []))
        else:  # no TTL write, so no expiry violation either
            results[key] = check_key(key, key_ops, clock, budget_seconds, max_steps)
    verdicts = [r.ok for r in results.values()]
    ok = False if False in verdicts else None if None in verdicts else True
    return Result(ok, results, summary(ops), time.monotonic() - started)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        description="Check a raft-cache history (JSON lines) for linearizability. Exit status:"
                    " 0 linearizable, 1 not, 2 bad input, 3 search budget exceeded.")
    parser.add_argument("history", help="JSON-lines history file, or - for stdin")
    parser.add_argument("--budget", type=float, default=None, metavar="SECONDS",
                        help="search time limit per key (default: none)")
    parser.add_argument("--max-steps", type=int, default=None, help="search step limit per key")
    parser.add_argument("--time-unit", choices=("auto", "s", "ns"), default="auto",
                        help="unit of invoke/complete, for display and ttl_ms (default: auto)")
    parser.add_argument("--drift", type=float, default=DEFAULT_DRIFT_SECONDS, metavar="SECONDS",
                        help="clock drift the expiry check allows: a get invoked more than this"
                             " after a value's latest possible expiry must not return it"
                             f" (default: {DEFAULT_DRIFT_SECONDS})")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every key's verdict")
    args = parser.parse_args(argv)
    if args.drift < 0 or not math.isfinite(args.drift):
        parser.error("--drift must be a finite number of seconds >= 0")
    try:
        result = check(args.history, args.budget, args.max_steps, args.time_unit, args.drift)
    except (HistoryError, OSError) as e:
        print(f"bad input: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(result.report())
    if args.verbose:
        for r in result.keys.values():
            how = "" if r.searched else ", TTL key: not searched"
            print(f"  key {r.key!r}: {r.verdict} ({r.ops} ops, {r.dropped} dropped,"
                  f" {r.steps} steps, {r.seconds:.3f}s{how})")
    return EXIT_OK if result.ok else EXIT_VIOLATION if result.ok is False else EXIT_UNDECIDED


if __name__ == "__main__":
    sys.exit(main())
