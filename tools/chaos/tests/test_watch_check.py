"""The watcher checker (tools/chaos/watch_check.py) on hand-made logs: watchers that saw
every change exactly once, in order - throughout, across a break and a resume on another
node, or from a late start - pass; a gap, a duplicate, a change out of order, a change the
reference lacks or that differs from it, a progress note going back, OUT_OF_RANGE, an
acknowledged write missing from the reference and a value no write made each fail, named."""

import copy
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import watch_check as wc  # noqa: E402

ORIGIN = 100.0  # when the first watcher started (time.monotonic())
SINCE = 10      # the index it started at
LAST = 40


def changes_at(index):
    """The reference's events at `index`: none where the entry changed no k* key (a t* key's),
    a batch of two sets at 13, else a set of k<index % 3>, or every fifth index its delete."""
    if index % 4 == 0:
        return []
    if index == 13:
        return [(wc.SET, "k0", "p0-13", 13), (wc.SET, "k2", "p1-13", 13)]
    if index % 5 == 0:
        return [(1, f"k{index % 3}", None, index - 3)]
    return [(wc.SET, f"k{index % 3}", f"p{index % 2}-{index}", index)]


def entries(first, last):
    return [(i, changes_at(i)) for i in range(first, last + 1) if changes_at(i)]


def write(process, key, value, invoke, outcome="ok", op="set"):
    return {"process": process, "op": op, "key": key, "value": value, "invoke": invoke,
            "complete": invoke + 0.005 if outcome != "unknown" else None, "outcome": outcome}


def world():
    """(watcher logs, reference, history) of a round in which all went well."""
    reference = wc.WatcherLog("reference", entries(SINCE + 1, LAST) + [(LAST, [])], [(0, "n1", SINCE)])
    history = []
    for index, events in reference.responses:
        for _, key, value, _ in (e for e in events if e[0] == wc.SET):
            op = "cas" if index % 7 == 0 else "set"
            history.append(write(index % 2, key, value, ORIGIN + index / 100, "unknown" if index == 17 else "ok", op))
    history += [write(5, "k1", "p5-1", ORIGIN + 0.2, "fail"), write(5, "k1", "p5-2", ORIGIN + 0.3, "unknown"),
                write(6, "t0", "p6-1", ORIGIN + 0.3),  # not watched
                write(6, "k2", "p6-2", ORIGIN - 1)]    # ok, but before any watcher started: maybe before the reference
    throughout = wc.WatcherLog("n1", [(SINCE, [])] + entries(SINCE + 1, 25) + [(25, []), (25, [])] +
                               entries(26, LAST) + [(LAST, [])], [(0, "n1", 0)], started=ORIGIN)
    first, second = [(SINCE, [])] + entries(SINCE + 1, 21), entries(22, LAST)
    resumed = wc.WatcherLog("n2", first + second, [(0, "n2", 0), (len(first), "n3", 21)],
                            [(len(first), "n2", "ConnectionError: the node closed the connection")],
                            started=ORIGIN + 0.01)
    late = wc.WatcherLog("n3", [(27, [])] + entries(28, 33), [(0, "n3", 0)], started=ORIGIN + 0.2)
    return [throughout, resumed, late], reference, history


def check(logs, reference, history):
    return wc.check(logs, reference, history)


def failing(logs, reference, history, *needles):
    result = check(logs, reference, history)
    assert not result.ok and result.verdict == wc.VERDICT_BAD
    report = result.report()
    for needle in needles:
        assert needle in report, report
    return result


def test_watchers_that_saw_every_change_once_in_order_pass():
    logs, reference, history = world()
    result = check(logs, reference, history)
    assert result.ok, result.report()
    assert logs[0].changes() == logs[1].changes() == 23 and logs[2].changes() == 4
    assert result.summary() == "3 watchers, 1 break, 1 resume, 4 to 23 changes each, verdict: exactly once, in order"
    assert check(logs[:2], reference, history).summary().startswith("2 watchers, 1 break, 1 resume, 23 changes each")


def test_a_gap_fails():
    logs, reference, history = world()
    resumed = logs[1]
    lost = resumed.sessions[1][0] + 1
    index = resumed.responses.pop(lost)[0]
    failing(logs, reference, history, f"n2: gap: index {index} never received (in the watch on n3 resumed with "
                                      f"since 21): expected set k{index % 3}=")


def test_a_duplicate_fails():
    logs, reference, history = world()
    resumed = logs[1]
    at = resumed.sessions[1][0]
    resumed.sessions[1] = (at, "n3", 19)  # Resumed from too far back: 21 again (20 has no change).
    resumed.responses[at:at] = entries(20, 21)
    failing(logs, reference, history, "n2: index 21 from n3: duplicate: received again (set k0='p1-21' (mod 21))")


def test_a_change_out_of_order_fails():
    logs, reference, history = world()
    responses = logs[0].responses
    responses[3], responses[4] = responses[4], responses[3]
    failing(logs, reference, history,
            f"n1: index {responses[4][0]} from n1: out of order: received after index {responses[3][0]}")


def test_a_change_the_reference_lacks_fails():
    logs, reference, history = world()
    late = logs[2]
    late.responses.insert(2, (28, [(wc.SET, "k1", "p0-17", 28)]))  # 28 changed no k* key
    late.responses.sort(key=lambda r: r[0])
    failing(logs, reference, history, "n3: index 28 from n3: a change the reference lacks (it has none at that "
                                      "index): got set k1='p0-17' (mod 28)")


def test_a_change_that_differs_from_the_reference_fails():
    logs, reference, history = world()
    logs[0].responses[1] = (11, [(wc.SET, "k2", "p9-9", 11)])
    failing(logs, reference, history,
            "n1: index 11 from n1: expected set k2='p1-11' (mod 11), got set k2='p9-9' (mod 11)")


def test_a_progress_note_going_back_fails():
    logs, reference, history = world()
    logs[2].responses.append((30, []))
    failing(logs, reference, history, "n3: index 30 from n3: a progress note after index 33: it went back")


def test_out_of_range_fails():
    logs, reference, history = world()
    logs[1].out_of_range.append(("n2", 21, 500, "changes after index 21 are no longer held here"))
    failing(logs, reference, history,
            "n2: OUT_OF_RANGE from n2 for since 21 (oldest index 500): changes after index 21")


def test_an_acknowledged_write_missing_from_the_reference_fails():
    logs, reference, history = world()
    history.append(write(7, "k1", "p7-1", ORIGIN + 0.25))
    failing(logs, reference, history, "acknowledged write missing from the reference: set k1='p7-1' by process 7, "
                                      "invoked 0.250 s after the first watcher started")


def test_a_value_no_write_made_or_only_a_failed_one_fails():
    logs, reference, history = world()
    history = [op for op in history if op["value"] != "p1-11"]
    for op in history:
        if op["value"] == "p0-14":
            op["outcome"] = "fail"
    failing(logs, reference, history, "reference: index 11: set k2='p1-11', a value no write of the history wrote",
            "reference: index 14: set k2='p0-14', a value only writes that failed wrote")


def test_a_write_applied_twice_fails():
    logs, reference, history = world()
    for log in logs[:2] + [reference]:
        for position, (index, events) in enumerate(log.responses):
            if index == 35:
                log.responses[position] = (35, [(wc.SET, "k2", "p1-11", 35)])
    failing(logs, reference, history, "reference: k2='p1-11' set at indexes 11, 35: one write applied more than once")


def test_a_watcher_that_never_started_or_no_reference_fails():
    logs, reference, history = world()
    logs.append(wc.WatcherLog("n4"))
    failing(logs, reference, history, "n4: never received anything")
    nothing = wc.WatcherLog("reference", breaks=[(0, "n1", "nothing for 7 s"), (0, "n2", "ConnectionRefusedError")])
    failing(logs[:3], nothing, history,
            "no reference watch could be read (n1: nothing for 7 s; n2: ConnectionRefusedError)")


def test_the_report_lists_the_first_violations_and_counts_the_rest():
    logs, reference, history = world()
    logs[0].responses = logs[0].responses[:1] + [(LAST, [])]  # every change of n1's range missing
    result = failing(logs, reference, history, "n1: gap: index 11 never received (in the first watch, on n1)")
    lines = result.report().splitlines()
    assert len(lines) == wc.SHOWN + 1
    assert lines[-1] == f"watch violation: ... and {len(result.violations) - wc.SHOWN} more"


def test_the_logs_are_left_as_they_were():
    logs, reference, history = world()
    before = copy.deepcopy((logs, reference, history))
    check(logs, reference, history)
    assert (logs, reference, history) == before
