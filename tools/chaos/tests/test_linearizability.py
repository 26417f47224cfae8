"""The linearizability checker: hand-written histories with known verdicts (set, get,
delete and compare-and-set), agreement with a brute-force checker on small random
histories, random histories from a simulated linearizable register (must pass) and their
mutations (must fail), the expiry check of keys with a TTL, bad input, the CLI, the search
budget, and speed on a 2,000-operation key."""

import functools
import heapq
import itertools
import json
import math
import os
import random
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import linearizability as lin  # noqa: E402

SCRIPT = os.path.join(os.path.dirname(HERE), "linearizability.py")


# --------------------------------------------------------------------------- helpers


def op(process, kind, value, invoke, complete, outcome="ok", key="k", expect=None):
    record = {"process": process, "op": kind, "key": key, "invoke": invoke,
              "complete": complete, "outcome": outcome}
    if kind != "delete":
        record["value"] = value
    if kind == "cas":
        record["expect"] = expect
    return record


def put(p, value, t0, t1, outcome="ok", key="k"):
    return op(p, "set", value, t0, t1 if outcome != "unknown" else None, outcome, key)


def get(p, value, t0, t1, outcome="ok", key="k"):
    return op(p, "get", value, t0, t1 if outcome != "unknown" else None, outcome, key)


def delete(p, t0, t1, outcome="ok", key="k"):
    return op(p, "delete", None, t0, t1 if outcome != "unknown" else None, outcome, key)


def cas(p, expect, value, t0, t1, outcome="ok", key="k"):
    return op(p, "cas", value, t0, t1 if outcome != "unknown" else None, outcome, key, expect)


def put_ttl(p, value, ttl_ms, t0, t1, outcome="ok", key="t"):
    return dict(put(p, value, t0, t1, outcome, key), ttl_ms=ttl_ms)


def verdict(history, **kwargs):
    return lin.check(history, **kwargs).ok


def culprit_lines(explanation):
    """The op numbers an explanation marks as the first that cannot be explained."""
    return [line.split()[0] for line in explanation.splitlines() if "cannot be explained" in line]


# --------------------------------------------------------------------------- known verdicts


def test_sequential_history_is_linearizable():
    h = [get(1, None, 0.0, 0.1), put(1, "a", 0.2, 0.3), get(2, "a", 0.4, 0.5),
         put(2, "b", 0.6, 0.7), get(1, "b", 0.8, 0.9), delete(1, 1.0, 1.1),
         get(2, None, 1.2, 1.3), put(3, "c", 1.4, 1.5), get(3, "c", 1.6, 1.7)]
    result = lin.check(h)
    assert result.ok is True
    assert result.verdict == "linearizable"
    assert result.keys["k"].ok is True


def test_sequential_history_with_a_wrong_read_fails():
    h = [put(1, "a", 0.0, 0.1), put(1, "b", 0.2, 0.3), get(2, "a", 0.4, 0.5)]
    assert verdict(h) is False


@pytest.mark.parametrize("seen", ["a", "b"])
def test_concurrent_sets_a_get_may_see_either(seen):
    h = [put(1, "a", 0.0, 1.0), put(2, "b", 0.1, 1.1), get(3, seen, 1.2, 1.3),
         get(3, seen, 1.4, 1.5)]
    assert verdict(h) is True


def test_concurrent_sets_cannot_be_seen_in_both_orders_after_both_finished():
    h = [put(1, "a", 0.0, 1.0), put(2, "b", 0.1, 1.1), get(3, "b", 1.2, 1.3),
         get(3, "a", 1.4, 1.5)]
    assert verdict(h) is False


def test_get_overlapping_a_set_may_see_old_or_new():
    for seen in (None, "a"):
        assert verdict([put(1, "a", 0.0, 1.0), get(2, seen, 0.5, 0.6)]) is True


def test_stale_read_after_a_later_set_completed_is_a_violation():
    h = [put(1, "old", 0.0, 0.1), put(1, "new", 0.2, 0.3), get(2, "old", 0.4, 0.5)]
    result = lin.check(h)
    assert result.ok is False
    explanation = result.keys["k"].explanation
    assert "linearizable up to +0.300000s" in explanation
    assert culprit_lines(explanation) == ["#3"]


def test_stale_read_is_fine_while_the_later_set_is_still_running():
    h = [put(1, "old", 0.0, 0.1), put(1, "new", 0.2, 0.6), get(2, "old", 0.4, 0.5)]
    assert verdict(h) is True


def test_lost_write_read_as_absent_is_a_violation():
    h = [put(1, "a", 0.0, 0.1), get(2, None, 0.2, 0.3)]
    assert verdict(h) is False


def test_lost_write_read_as_older_value_is_a_violation():
    h = [put(1, "a", 0.0, 0.1), put(2, "b", 0.2, 0.3), get(3, "b", 0.4, 0.5),
         put(1, "c", 0.6, 0.7), get(2, "b", 0.8, 0.9)]
    assert verdict(h) is False


def test_read_of_a_value_never_written_is_a_violation():
    h = [put(1, "a", 0.0, 0.1), get(2, "zzz", 0.2, 0.3)]
    result = lin.check(h)
    assert result.ok is False
    assert "by no set" in result.keys["k"].explanation


def test_read_before_the_only_write_started_is_a_violation():
    h = [get(2, "a", 0.0, 0.1), put(1, "a", 0.2, 0.3)]
    assert verdict(h) is False


def test_unknown_set_observed_by_a_later_get_is_fine():
    h = [put(1, "a", 0.0, 0.1), put(2, "b", 0.2, None, "unknown"), get(3, "b", 5.0, 5.1),
         get(1, "b", 6.0, 6.1)]
    assert verdict(h) is True


def test_unknown_set_taking_effect_long_after_its_timeout_is_fine():
    # A complete time given with an unknown outcome (the client's timeout) is ignored.
    h = [put(1, "a", 0.0, 0.1), op(2, "set", "b", 0.2, 0.7, "unknown"), get(3, "a", 1.0, 1.1),
         get(3, "b", 2.0, 2.1)]
    assert verdict(h) is True


def test_unknown_set_never_observed_is_fine():
    h = [put(1, "a", 0.0, 0.1), put(2, "b", 0.2, None, "unknown"), get(3, "a", 1.0, 1.1),
         get(3, "a", 2.0, 2.1)]
    assert verdict(h) is True


def test_unknown_set_observed_then_earlier_value_again_is_a_violation():
    h = [put(1, "a", 0.0, 0.1), put(2, "b", 0.2, None, "unknown"), get(3, "b", 1.0, 1.1),
         get(3, "a", 2.0, 2.1)]
    assert verdict(h) is False


def test_unknown_sets_with_the_same_value_can_each_take_effect_once():
    # Two unknown writes of "b" can explain reading b, then a (written again), then b.
    h = [put(1, "a", 0.0, 0.1), put(2, "b", 0.2, None, "unknown"),
         put(4, "b", 0.3, None, "unknown"), get(3, "b", 1.0, 1.1),
         put(1, "a", 1.2, 1.3), get(3, "a", 1.4, 1.5), get(3, "b", 2.0, 2.1)]
    assert verdict(h) is True
    # A third stretch of b after a is written once more would need a third write of b.
    h += [put(1, "a", 2.2, 2.3), get(3, "a", 2.4, 2.5), get(3, "b", 3.0, 3.1)]
    assert verdict(h) is False


def test_unknown_delete_may_explain_a_later_absent_read():
    h = [put(1, "a", 0.0, 0.1), delete(2, 0.2, None, "unknown"), get(3, "a", 1.0, 1.1),
         get(3, None, 2.0, 2.1)]
    assert verdict(h) is True
    h.append(get(3, "a", 3.0, 3.1))
    assert verdict(h) is False


def test_orders_reaching_the_same_ops_with_different_values_are_told_apart():
    # Found by shrinking a random history: a search remembering only *which* ops it
    # linearized (not the value held) would wrongly call this a violation.
    h = [delete(1, 2.0, 9.0), put(3, "x", 3.0, 4.0), get(3, None, 4.5, 5.0),
         delete(2, 4.6, 15.0), put(3, "x", 6.0, 10.0), get(1, "x", 12.0, 14.0),
         get(0, None, 16.0, 17.0)]
    assert reference(h) is True
    assert verdict(h) is True


def test_unknown_writes_do_not_count_towards_the_ok_ones():
    # Found by shrinking a random history: the final get needs a write of x after z.
    h = [put(3, "x", 1.0, None, "unknown"), get(2, "x", 3.0, 5.0),
         put(2, "y", 6.0, None, "unknown"), put(2, "y", 8.5, 12.7), get(1, "y", 8.8, 12.3),
         put(3, "x", 13.0, 17.5), put(1, "z", 18.0, 19.0), get(3, "x", 19.5, 35.0)]
    assert reference(h) is False
    assert verdict(h) is False


def test_delete_then_get_absent_is_fine():
    h = [put(1, "a", 0.0, 0.1), delete(1, 0.2, 0.3), get(2, None, 0.4, 0.5)]
    assert verdict(h) is True


def test_get_returning_deleted_value_after_delete_completed_is_a_violation():
    h = [put(1, "a", 0.0, 0.1), delete(1, 0.2, 0.3), get(2, "a", 0.4, 0.5)]
    assert verdict(h) is False


def test_delete_result_field_is_ignored():
    h = [put(1, "a", 0.0, 0.1), dict(delete(1, 0.2, 0.3), value=False), get(2, None, 0.4, 0.5)]
    assert verdict(h) is True


def test_failed_set_observed_by_a_get_is_a_violation():
    h = [put(1, "a", 0.0, 0.1), put(2, "b", 0.2, 0.3, "fail"), get(3, "b", 0.4, 0.5)]
    result = lin.check(h)
    assert result.ok is False
    assert "failed" in result.keys["k"].explanation


def test_failed_set_not_observed_is_fine_and_unknown_get_is_ignored():
    h = [put(1, "a", 0.0, 0.1), put(2, "b", 0.2, 0.3, "fail"), get(3, "a", 0.4, 0.5),
         get(3, "nonsense", 0.6, None, "unknown")]
    assert verdict(h) is True


def test_touching_operations_count_as_concurrent():
    # The get starts at the very instant the set completes: either order is allowed.
    assert verdict([put(1, "a", 0.0, 1.0), get(2, None, 1.0, 2.0)]) is True
    assert verdict([put(1, "a", 0.0, 1.0), get(2, None, 1.001, 2.0)]) is False


def test_keys_are_independent_and_the_violating_key_is_reported():
    h = [put(1, "a", 0.0, 0.1, key="good"), get(2, "a", 0.2, 0.3, key="good"),
         put(1, "x", 0.0, 0.1, key="bad"), put(1, "y", 0.2, 0.3, key="bad"),
         get(2, "x", 0.4, 0.5, key="bad"),
         # the same values on another key do not explain anything here
         put(3, "x", 0.35, 0.36, key="other"), get(3, "x", 0.4, 0.5, key="other")]
    result = lin.check(h)
    assert result.ok is False
    assert [r.key for r in result.failures] == ["bad"]
    assert result.keys["good"].ok is True and result.keys["other"].ok is True
    explanation = result.keys["bad"].explanation
    assert "'bad'" in explanation and "get -> \"x\"" in explanation
    assert {o.value for o in result.keys["bad"].window} >= {"x", "y"}


def test_violation_window_is_readable():
    h = [put(1, "old", 10.0, 10.1), put(1, "new", 10.2, 10.3), get(7, "old", 10.4, 10.5)]
    text = lin.check(h).report()
    assert "NOT linearizable" in text
    assert "p7" in text and "+0.400000s .. +0.500000s" in text
    assert culprit_lines(text) == ["#3"]
    assert [o.index for o in lin.check(h).keys["k"].window] == [1, 2, 3]


def test_fallback_explanation_when_there_is_no_budget_to_pinpoint(monkeypatch):
    monkeypatch.setattr(lin, "_first_failing_instant", lambda *args: None)
    h = [put(1, "old", 10.0, 10.1), put(1, "new", 10.2, 10.3), get(7, "old", 10.4, 10.5)]
    result = lin.check(h)
    assert result.ok is False
    text = result.keys["k"].explanation
    assert "got furthest" in text and "stuck here" in text
    assert "#3" in text and "cannot read this any more" in text


def test_integer_nanosecond_timestamps():
    s = 1_000_000_000
    h = [put(1, "a", 5 * s, 5 * s + 100), get(2, "a", 6 * s, 6 * s + 100)]
    assert lin.check(h).ok is True
    h.append(get(2, None, 7 * s, 7 * s + 100))
    result = lin.check(h)
    assert result.ok is False
    assert "+2.000000s" in result.report()


def test_summary_counts_by_outcome():
    h = [put(1, "a", 0, 1), put(2, "b", 2, None, "unknown"), get(3, "a", 3, 4, "fail"),
         delete(1, 5, 6), get(2, None, 7, 8, key="k2")]
    s = lin.summary(h)
    assert (s["total"], s["ok"], s["fail"], s["unknown"], s["keys"]) == (5, 3, 1, 1, 2)
    assert s["by_op"]["set"] == {"ok": 1, "fail": 0, "unknown": 1}
    assert lin.check(h).summary == s


# --------------------------------------------------------------------------- compare-and-set


def test_sequential_cas_chain_is_linearizable():
    h = [cas(1, None, "a", 0.0, 0.1), get(2, "a", 0.2, 0.3), cas(2, "a", "b", 0.4, 0.5),
         cas(3, "b", "c", 0.6, 0.7), get(1, "c", 0.8, 0.9), delete(1, 1.0, 1.1),
         cas(2, None, "d", 1.2, 1.3), put(3, "e", 1.4, 1.5), cas(1, "e", "f", 1.6, 1.7),
         get(3, "f", 1.8, 1.9)]
    assert verdict(h) is True


def test_concurrent_cases_can_be_ordered_into_a_chain():
    # Overlapping cases: a -> b -> c works in one order only, and the search finds it.
    h = [put(1, "a", 0.0, 0.1), cas(2, "b", "c", 0.2, 1.0), cas(3, "a", "b", 0.3, 1.1),
         get(1, "c", 1.2, 1.3)]
    assert verdict(h) is True


def test_two_ok_cases_expecting_the_same_value_is_a_violation():
    # Both succeeded, so both saw "a"; but "a" was written once, and the first to take
    # effect replaced it.
    h = [put(1, "a", 0.0, 0.1), cas(2, "a", "b", 0.2, 0.5), cas(3, "a", "c", 0.3, 0.6)]
    result = lin.check(h)
    assert result.ok is False
    assert 'cas "a" -> ' in result.report()
    # Sequential, too: the second expects a value the first already replaced.
    assert verdict([put(1, "a", 0.0, 0.1), cas(2, "a", "b", 0.2, 0.3),
                    cas(3, "a", "c", 0.4, 0.5)]) is False
    # If one of them failed, it is fine.
    assert verdict([put(1, "a", 0.0, 0.1), cas(2, "a", "b", 0.2, 0.5),
                    cas(3, "a", "c", 0.3, 0.6, "fail")]) is True


def test_cas_expecting_a_value_overwritten_before_it_was_invoked_is_a_violation():
    h = [put(1, "a", 0.0, 0.1), put(2, "b", 0.2, 0.3), cas(3, "a", "c", 0.4, 0.5)]
    result = lin.check(h)
    assert result.ok is False
    assert culprit_lines(result.keys["k"].explanation) == ["#3"]
    # While the overwriting set is still running, the cas may come first.
    assert verdict([put(1, "a", 0.0, 0.1), put(2, "b", 0.2, 0.6), cas(3, "a", "c", 0.4, 0.5)]) is True


def test_stale_cas_is_explained_by_the_search_fallback_too(monkeypatch):
    monkeypatch.setattr(lin, "_first_failing_instant", lambda *args: None)
    h = [put(1, "a", 0.0, 0.1), put(2, "b", 0.2, 0.3), cas(3, "a", "c", 0.4, 0.5),
         get(1, "c", 0.6, 0.7)]
    result = lin.check(h)
    assert result.ok is False
    text = result.keys["k"].explanation
    assert "got furthest" in text and 'cas "a" -> "c"' in text


def test_create_only_cas_after_a_delete_passes_and_on_a_present_key_fails():
    h = [put(1, "a", 0.0, 0.1), delete(2, 0.2, 0.3), cas(3, None, "b", 0.4, 0.5),
         get(1, "b", 0.6, 0.7)]
    assert verdict(h) is True
    assert verdict([cas(3, None, "b", 0.0, 0.1), get(1, "b", 0.2, 0.3)]) is True  # never written
    h = [put(1, "a", 0.0, 0.1), cas(3, None, "b", 0.2, 0.3)]
    assert verdict(h) is False
    # ... unless a delete may have come in between
    assert verdict([put(1, "a", 0.0, 0.1), delete(2, 0.15, 0.4), cas(3, None, "b", 0.2, 0.3)]) is True
    assert verdict([put(1, "a", 0.0, 0.1), delete(2, 0.15, None, "unknown"),
                    cas(3, None, "b", 0.2, 0.3)]) is True


def test_unknown_cas_observed_by_a_later_read_passes():
    h = [put(1, "a", 0.0, 0.1), cas(2, "a", "b", 0.2, None, "unknown"), get(3, "b", 5.0, 5.1)]
    assert verdict(h) is True
    # ... but not if its expected value was gone before it was invoked
    h = [put(1, "a", 0.0, 0.1), put(1, "x", 0.15, 0.18), cas(2, "a", "b", 0.2, None, "unknown"),
         get(3, "b", 5.0, 5.1)]
    assert verdict(h) is False


def test_unknown_cases_can_chain():
    # Each unknown cas needs the one before to have taken effect; nothing ok reads the
    # middle value, yet the writes of it must not be dropped.
    h = [put(1, "a", 0.0, 0.1), cas(2, "a", "b", 0.2, None, "unknown"),
         cas(3, "b", "c", 0.3, None, "unknown"), get(1, "c", 1.0, 1.1)]
    assert verdict(h) is True
    h = [put(1, "x", 0.0, None, "unknown"), cas(2, "x", "y", 0.1, None, "unknown"),
         get(3, "y", 1.0, 1.1)]
    assert verdict(h) is True
    # The value a cas needs must be written before the read of its value completes.
    h = [put(1, "a", 0.0, 0.1), cas(3, "b", "c", 0.2, None, "unknown"), get(1, "c", 0.3, 0.4),
         cas(2, "a", "b", 0.5, None, "unknown")]
    assert verdict(h) is False


def test_failed_cas_changes_nothing():
    h = [put(1, "a", 0.0, 0.1), cas(2, "a", "b", 0.2, 0.3, "fail"), get(3, "a", 0.4, 0.5)]
    assert verdict(h) is True
    h = [put(1, "a", 0.0, 0.1), cas(2, "a", "b", 0.2, 0.3, "fail"), get(3, "b", 0.4, 0.5)]
    result = lin.check(h)
    assert result.ok is False
    assert "only by a write that failed" in result.keys["k"].explanation


def test_cas_expecting_a_value_nobody_wrote_is_a_violation():
    h = [put(1, "a", 0.0, 0.1), cas(2, "zzz", "b", 0.2, 0.3)]
    result = lin.check(h)
    assert result.ok is False
    assert '#2 (p2 cas "zzz" -> "b") expected a value written by no set' in result.report()
    h = [cas(2, "a", "b", 0.0, 0.1), put(1, "a", 0.2, 0.3)]
    assert "completed before #2, the only write" in lin.check(h).report()


def test_unknown_cas_expecting_a_value_nobody_wrote_never_takes_effect():
    h = [put(1, "a", 0.0, 0.1), cas(2, "zzz", "b", 0.2, None, "unknown"), get(3, "a", 0.4, 0.5)]
    assert verdict(h) is True
    assert verdict(h + [get(3, "b", 0.6, 0.7)]) is False


def test_stale_read_next_to_a_cas_of_the_value_is_still_caught():
    # The register must keep "a" for the late get; the cas expecting "a" may take it
    # first only if the get can still be served, which it cannot.
    h = [put(1, "a", 0.0, 0.1), cas(2, "a", "b", 0.2, 0.3), get(3, "a", 0.4, 0.5)]
    assert verdict(h) is False
    h = [put(1, "a", 0.0, 0.1), cas(2, "a", "b", 0.2, 0.6), get(3, "a", 0.4, 0.5)]
    assert verdict(h) is True


def test_cas_describes_itself_in_reports():
    h = [put(1, "p3-7", 0.0, 0.1), put(2, "x", 0.2, 0.3), cas(3, "p3-7", "p3-9", 0.4, 0.5)]
    text = lin.check(h).report()
    assert 'cas "p3-7" -> "p3-9"' in text
    o = lin.parse_operation(cas(3, None, "v", 0.0, 0.1), 1)
    assert lin.describe_short(o) == 'p3 cas absent -> "v"'


def test_summary_counts_cas():
    h = [cas(1, None, "a", 0, 1), cas(2, "a", "b", 2, 3, "fail"), cas(2, "a", "c", 2, None, "unknown")]
    assert lin.summary(h)["by_op"]["cas"] == {"ok": 1, "fail": 1, "unknown": 1}


# --------------------------------------------------------------------------- expiry (TTL)


def test_read_just_before_expiry_passes():
    h = [put_ttl(1, "a", 500, 0.0, 0.1), get(2, "a", 0.55, 0.56, key="t")]
    result = lin.check(h)
    assert result.ok is True
    assert result.keys["t"].searched is False
    assert lin.check_expiry(h, 0.0) == []


def test_read_long_after_expiry_fails():
    h = [put(1, "x", 0.0, 0.01), put_ttl(1, "a", 500, 0.3, 0.4), get(2, "a", 0.5, 0.6, key="t"),
         get(2, "a", 1.7, 1.8, key="t")]
    result = lin.check(h)
    assert result.ok is False
    assert [r.key for r in result.failures] == ["t"]
    text = result.report()
    assert "NOT linearizable" in text
    assert ('#4 (p2 get t -> "a", invoked at +1.700000s) returned a value 0.800 s after it expired'
            " (set #2 with ttl 500 ms completed at +0.400000s") in text
    assert {o.index for o in result.keys["t"].window} == {2, 4}
    found = lin.check_expiry(h)
    assert [(e.read.index, e.write.index, round(e.late, 6)) for e in found] == [(4, 2, 0.8)]


def test_read_within_the_drift_passes():
    h = [put_ttl(1, "a", 500, 0.0, 0.1), get(2, "a", 0.63, 0.64, key="t")]
    assert lin.check(h).ok is True                     # 30 ms late, default drift 50 ms
    assert lin.check(h, drift_seconds=0.0).ok is False
    assert lin.check(h, drift_seconds=0.02).ok is False
    assert lin.check(h, drift_seconds=0.04).ok is True


def test_expiry_uses_the_latest_possible_expiry_of_every_write_of_the_value():
    late_get = get(2, "a", 2.0, 2.1, key="t")
    # an unknown write of the value may take effect at any later instant
    assert lin.check([put_ttl(1, "a", 500, 0.0, 0.1, "unknown"), late_get]).ok is True
    # a write of the value without a TTL keeps it for good
    assert lin.check([put_ttl(1, "a", 500, 0.0, 0.1), put(3, "a", 0.2, 0.3, key="t"), late_get]).ok is True
    # a second TTL write of the value that expires later explains it ...
    assert lin.check([put_ttl(1, "a", 500, 0.0, 0.1), put_ttl(3, "a", 2000, 0.2, 0.3), late_get]).ok is True
    # ... and is the one named when even it has expired
    found = lin.check_expiry([put_ttl(1, "a", 500, 0.0, 0.1), put_ttl(3, "a", 1000, 0.2, 0.3), late_get])
    assert [e.write.index for e in found] == [2]
    # a failed write does not count, and reading absent is no expiry violation
    assert lin.check([put_ttl(1, "a", 500, 0.0, 0.1), put_ttl(3, "a", 5000, 0.2, 0.3, "fail"),
                      late_get]).ok is False
    assert lin.check([put_ttl(1, "a", 500, 0.0, 0.1), get(2, None, 2.0, 2.1, key="t")]).ok is True


def test_ttl_keys_are_not_searched_but_keep_the_simple_checks():
    # As a plain register this would be a lost write; with a TTL the value simply expired.
    h = [put_ttl(1, "a", 200, 0.0, 0.1), get(2, "a", 0.15, 0.2, key="t"),
         get(2, None, 1.0, 1.1, key="t")]
    assert lin.check(h).ok is True
    assert "keys with a TTL" in lin.check(h).report()
    # A read of a value never written, or before its only write started, still fails.
    result = lin.check(h + [get(3, "zzz", 1.2, 1.3, key="t")])
    assert result.ok is False and "by no set" in result.report()
    result = lin.check([get(3, "b", 0.0, 0.1, key="t"), put_ttl(1, "b", 200, 0.2, 0.3)])
    assert result.ok is False and "completed before" in result.report()
    # The other keys are still searched.
    h += [put(1, "x", 0.0, 0.1, key="k"), put(1, "y", 0.2, 0.3, key="k"), get(2, "x", 0.4, 0.5, key="k")]
    result = lin.check(h)
    assert [r.key for r in result.failures] == ["k"] and result.keys["k"].searched


def test_expiry_with_integer_nanosecond_timestamps():
    s = 1_000_000_000
    h = [put_ttl(1, "a", 500, 0, s // 10), get(2, "a", s // 2, s // 2 + 1, key="t")]
    assert lin.check(h).ok is True
    h.append(get(2, "a", 2 * s, 2 * s + 1, key="t"))
    result = lin.check(h)
    assert result.ok is False
    assert "1.400 s after it expired" in result.report()


def test_summary_counts_ttl_writes_and_keys():
    h = [put_ttl(1, "a", 500, 0.0, 0.1), put_ttl(1, "b", 500, 0.2, 0.3, key="u"),
         put(1, "c", 0.4, 0.5), get(2, "a", 0.6, 0.7, key="t")]
    s = lin.summary(h)
    assert (s["ttl_writes"], s["ttl_keys"], s["keys"]) == (2, 2, 3)


@pytest.mark.parametrize("record, message", [
    ({"op": "set", "key": "k", "value": 1, "invoke": 0, "complete": 1}, "outcome"),
    ({"op": "put", "key": "k", "value": 1, "invoke": 0, "complete": 1, "outcome": "ok"}, "op"),
    ({"op": "get", "key": "k", "value": 1, "invoke": 0, "complete": None, "outcome": "ok"},
     "complete"),
    ({"op": "get", "key": "k", "value": 1, "invoke": 2, "complete": 1, "outcome": "ok"},
     "before invoke"),
    ({"op": "set", "key": "k", "invoke": 0, "complete": 1, "outcome": "ok"}, "value"),
    ({"op": "set", "key": "k", "value": 1, "invoke": "0", "complete": 1, "outcome": "ok"},
     "invoke"),
    ({"op": "cas", "key": "k", "value": 1, "invoke": 0, "complete": 1, "outcome": "ok"}, "expect"),
    ({"op": "cas", "key": "k", "expect": 1, "invoke": 0, "complete": 1, "outcome": "fail"}, "value"),
    ({"op": "get", "key": "k", "value": 1, "ttl_ms": 5, "invoke": 0, "complete": 1, "outcome": "ok"},
     "ttl_ms"),
    ({"op": "set", "key": "k", "value": 1, "ttl_ms": -5, "invoke": 0, "complete": 1, "outcome": "ok"},
     "ttl_ms"),
    ({"op": "set", "key": "k", "value": 1, "ttl_ms": "5", "invoke": 0, "complete": 1, "outcome": "ok"},
     "ttl_ms"),
])
def test_bad_records_are_rejected(record, message):
    with pytest.raises(lin.HistoryError, match=message):
        lin.check([record])


# --------------------------------------------------------------------------- brute force


def brute_force(history):
    """Try every subset of unknown writes and every order: the definition, slowly."""
    ops = [o for o in history
           if o["outcome"] == "ok" or (o["outcome"] == "unknown" and o["op"] != "get")]
    required = [o for o in ops if o["outcome"] == "ok"]
    optional = [o for o in ops if o["outcome"] == "unknown"]

    def fits(order):
        for a, b in itertools.combinations(order, 2):
            # b is placed after a, so b must not have finished before a started.
            if b["outcome"] == "ok" and b["complete"] < a["invoke"]:
                return False
        value = None
        for o in order:
            if o["op"] == "set":
                value = o["value"]
            elif o["op"] == "delete":
                value = None
            elif o["op"] == "cas":
                if o["expect"] != value:
                    return False
                value = o["value"]
            elif o["value"] != value:
                return False
        return True

    for n in range(len(optional) + 1):
        for extra in itertools.combinations(optional, n):
            if any(fits(order) for order in itertools.permutations(required + list(extra))):
                return True
    return False


def random_small_history(rng, cas_weight=0):
    """A few ops on one key, tiny value set and integer times: ties and duplicates (with
    ``cas_weight``, cases too, expecting any of the values or absent)."""
    h = []
    for p in range(rng.randint(1, 6)):
        t0 = rng.randint(0, 8)
        t1 = t0 + rng.randint(0, 4)
        outcome = rng.choices(["ok", "unknown", "fail"], [7, 2, 1])[0]
        kind = rng.choices(["set", "get", "delete", "cas"], [4, 5, 1, cas_weight])[0]
        value = rng.choice(["a", "b"]) if kind in ("set", "cas") else rng.choice([None, "a", "b"])
        expect = rng.choice([None, "a", "b"]) if kind == "cas" else None
        h.append(op(p, kind, value, t0, t1 if outcome != "unknown" else None, outcome, expect=expect))
    return h


def test_agrees_with_brute_force_on_small_random_histories():
    rng = random.Random(1234)
    verdicts = []
    for _ in range(1500):
        h = random_small_history(rng) if rng.random() < 0.6 else \
            simulate(rng, processes=3, count=6, keys=["k"], values_per_process=2)
        expected = brute_force(h)
        assert verdict(h) is expected, json.dumps(h)
        verdicts.append(expected)
    # the sample must contain plenty of both verdicts to mean anything
    assert verdicts.count(True) > 300 and verdicts.count(False) > 300


def test_agrees_with_brute_force_on_small_random_histories_with_cas():
    rng = random.Random(4321)
    verdicts, cases = [], 0
    for _ in range(2000):
        h = random_small_history(rng, cas_weight=4) if rng.random() < 0.6 else \
            simulate(rng, processes=3, count=6, keys=["k"], values_per_process=2, cas_weight=4)
        expected = brute_force(h)
        assert verdict(h) is expected, json.dumps(h)
        verdicts.append(expected)
        cases += any(o["op"] == "cas" and o["outcome"] != "fail" for o in h)
    assert verdicts.count(True) > 300 and verdicts.count(False) > 300
    assert cases > 1000


def reference(history):
    """An independent exact search, memoised on (linearized set, value): an op may come
    next when no other remaining op completed before it was invoked. Fine up to ~16 ops."""
    ops = [o for o in history
           if o["outcome"] == "ok" or (o["outcome"] == "unknown" and o["op"] != "get")]
    invoke = [o["invoke"] for o in ops]
    complete = [o["complete"] if o["outcome"] == "ok" else math.inf for o in ops]
    required = frozenset(i for i, o in enumerate(ops) if o["outcome"] == "ok")

    @functools.lru_cache(maxsize=None)
    def search(done, value):
        if required <= done:
            return True
        rest = [j for j in range(len(ops)) if j not in done]
        deadline = min(complete[j] for j in rest)
        for i in rest:
            o = ops[i]
            if invoke[i] > deadline:
                continue
            if o["op"] == "get":
                if o["value"] == value and search(done | {i}, value):
                    return True
            elif o["op"] == "cas":
                if o["expect"] == value and search(done | {i}, o["value"]):
                    return True
            elif search(done | {i}, o["value"] if o["op"] == "set" else None):
                return True
        return False

    return search(frozenset(), None)


def random_medium_history(rng, cas_weight=0):
    """Up to 15 ops: simulated (sometimes with one get, or with ``cas_weight`` one cas's
    expected value, corrupted to another value that was written) or fully random, with
    repeated values and unknown outcomes."""
    if rng.random() < 0.3:
        h = []
        for p in range(rng.randint(6, 14)):
            t0 = rng.randint(0, 3 * 14)
            outcome = rng.choices(["ok", "unknown", "fail"], [7, 2, 1])[0]
            kind = rng.choices(["set", "get", "delete", "cas"], [4, 5, 1, cas_weight])[0]
            values = ["a", "b", "c", "d"][:rng.randint(1, 4)]
            value = rng.choice(values) if kind in ("set", "cas") else rng.choice([None] + values)
            expect = rng.choice([None] + values) if kind == "cas" else None
            h.append(op(p % 4, kind, value, t0, t0 + rng.randint(0, 6), outcome, expect=expect))
            if outcome == "unknown":
                h[-1]["complete"] = None
        return h
    h = simulate(rng, processes=rng.randint(2, 5), count=rng.randint(6, 15), keys=["k"],
                 values_per_process=rng.choice([None, 1, 2]), p_unknown=rng.choice([0.1, 0.3]),
                 cas_weight=cas_weight)
    readers = _ok_gets(h) + [o for o in h if o["op"] == "cas" and o["outcome"] == "ok"]
    if readers and rng.random() < 0.5:
        victim = rng.choice(readers)
        wrong = rng.choice([o["value"] for o in h if o["op"] in ("set", "cas")] + [None])
        victim["expect" if victim["op"] == "cas" else "value"] = wrong
    return h


def test_agrees_with_an_exact_reference_on_medium_random_histories():
    rng = random.Random(2718)
    verdicts = []
    for _ in range(3000):
        h = random_medium_history(rng)
        expected = reference(h)
        assert verdict(h) is expected, json.dumps(h)
        verdicts.append(expected)
    assert verdicts.count(True) > 800 and verdicts.count(False) > 800


def test_agrees_with_an_exact_reference_on_medium_random_histories_with_cas():
    rng = random.Random(3141)
    verdicts = []
    for _ in range(3000):
        h = random_medium_history(rng, cas_weight=rng.choice([2, 4, 8]))
        expected = reference(h)
        assert verdict(h) is expected, json.dumps(h)
        verdicts.append(expected)
    assert verdicts.count(True) > 800 and verdicts.count(False) > 800


# --------------------------------------------------------------------------- simulation


def simulate(rng, processes, count, keys, p_unknown=0.08, p_fail=0.04,
             values_per_process=None, cas_weight=0):
    """Run ``count`` operations of ``processes`` clients against a real register.

    Each operation takes effect at a random instant of its window (an unknown write:
    maybe never, maybe well after its timeout), so the history is linearizable by
    construction. Set values are unique unless ``values_per_process`` limits them.

    With ``cas_weight`` (against set 4, get 5, delete 1) some operations are cases. A
    cas that takes effect mostly expects the value the register holds at that instant
    (as a client that just read it would); otherwise its condition fails, and an ok one
    becomes a failed one (an unknown one stays unknown, with no effect). A cas that never
    takes effect expects a value from the key's past.
    """
    ready = [(rng.uniform(0, 0.01), p) for p in range(processes)]
    heapq.heapify(ready)
    ops, effects = [], []
    serial = itertools.count()
    for _ in range(count):
        start, p = heapq.heappop(ready)
        invoke = start + rng.uniform(0, 0.002)
        complete = invoke + rng.expovariate(1 / 0.005)
        kind = rng.choices(["set", "get", "delete", "cas"], [4, 5, 1, cas_weight])[0]
        outcome = rng.choices(["ok", "unknown", "fail"], [1 - p_unknown - p_fail, p_unknown, p_fail])[0]
        n = next(serial)
        if values_per_process:
            value = f"p{p}-{n % values_per_process}"
        else:
            value = f"p{p}-{n}"
        record = op(p, kind, value if kind in ("set", "cas") else None, invoke,
                    complete if outcome != "unknown" else None, outcome, rng.choice(keys))
        if outcome == "ok":
            effects.append((rng.uniform(invoke, complete), n, record))
        elif outcome == "unknown" and kind != "get" and rng.random() < 0.5:
            effects.append((invoke + rng.uniform(0, 3 * (complete - invoke)), n, record))
        ops.append(record)
        heapq.heappush(ready, (complete, p))
    registers, past, decided = {}, {}, set()
    for _, _, record in sorted(effects, key=lambda e: (e[0], e[1])):
        key = record["key"]
        if record["op"] == "cas":
            decided.add(id(record))
            if rng.random() < 0.8:
                record["expect"] = registers.get(key)
            else:
                record["expect"] = rng.choice([None] + past.get(key, []))
                if record["expect"] != registers.get(key):
                    if record["outcome"] == "ok":
                        record["outcome"] = "fail"
                    continue
        if record["op"] in ("set", "cas"):
            registers[key] = record["value"]
            past.setdefault(key, []).append(record["value"])
        elif record["op"] == "delete":
            registers.pop(key, None)
        else:
            record["value"] = registers.get(key)
    for record in ops:  # cases that never took effect expect something from the key's past
        if record["op"] == "cas" and id(record) not in decided:
            record["expect"] = rng.choice([None] + past.get(record["key"], []))
    return ops


def test_random_histories_from_a_linearizable_register_pass():
    rng = random.Random(42)
    for n in range(200):
        h = simulate(rng, processes=rng.randint(2, 10), count=rng.randint(5, 300),
                     keys=["k1", "k2", "k3"][:rng.randint(1, 3)])
        result = lin.check(h)
        assert result.ok is True, (n, result.report())


def _ok_gets(h):
    return [o for o in h if o["op"] == "get" and o["outcome"] == "ok"]


def test_a_get_mutated_to_a_never_written_value_fails():
    rng = random.Random(7)
    for n in range(100):
        h = simulate(rng, processes=rng.randint(2, 10), count=rng.randint(5, 200), keys=["k1", "k2"])
        gets = _ok_gets(h)
        if not gets:
            continue
        victim = rng.choice(gets)
        victim["value"] = "never-written"
        result = lin.check(h)
        assert result.ok is False, n
        assert [r.key for r in result.failures] == [victim["key"]]


def stale_read_mutation(h, rng):
    """Make a late get return the value of an early set that a later set overwrote
    strictly before the get started: a violation the search itself has to find."""
    sets = [o for o in h if o["op"] == "set" and o["outcome"] == "ok"]
    gets = _ok_gets(h)
    for _ in range(100):
        g = rng.choice(gets[len(gets) // 2:])
        early = [s for s in sets if s["complete"] < g["invoke"]]
        for s1 in early[: len(early) // 2]:
            if any(s2["invoke"] > s1["complete"] and s2["complete"] < g["invoke"] for s2 in sets):
                g["value"] = s1["value"]
                return g
    raise AssertionError("no stale read to plant")


def test_random_histories_with_cas_from_a_linearizable_register_pass():
    rng = random.Random(43)
    for n in range(150):
        h = simulate(rng, processes=rng.randint(2, 10), count=rng.randint(5, 300),
                     keys=["k1", "k2", "k3"][:rng.randint(1, 3)], cas_weight=rng.choice([1, 3, 10]),
                     p_unknown=rng.choice([0.08, 0.3]))
        result = lin.check(h)
        assert result.ok is True, (n, result.report())


def stale_cas_mutation(h, rng):
    """Make a late ok cas expect the value of an early write that a later write overwrote
    strictly before the cas started."""
    writes = [o for o in h if o["op"] in ("set", "cas") and o["outcome"] == "ok"]
    cases = [o for o in h if o["op"] == "cas" and o["outcome"] == "ok"]
    for _ in range(100):
        c = rng.choice(cases[len(cases) // 2:])
        early = [w for w in writes if w["complete"] < c["invoke"]]
        for w1 in early[: len(early) // 2]:
            if any(w2["invoke"] > w1["complete"] and w2["complete"] < c["invoke"] for w2 in writes):
                c["expect"] = w1["value"]
                return c
    raise AssertionError("no stale cas to plant")


def test_a_planted_stale_cas_fails():
    rng = random.Random(98)
    for n in range(60):
        h = simulate(rng, processes=rng.randint(2, 8), count=rng.randint(60, 300), keys=["k"],
                     cas_weight=3)
        victim = stale_cas_mutation(h, rng)
        result = lin.check(h)
        assert result.ok is False, n
        # The cas itself, or a read of the value it wrote, is the first that cannot be explained.
        culprits = culprit_lines(result.keys["k"].explanation)
        readers = {f"#{i + 1}" for i, o in enumerate(h) if o["op"] == "get" and o.get("value") == victim["value"]
                   or o["op"] == "cas" and o["outcome"] == "ok" and o["expect"] == victim["value"]}
        assert set(culprits) <= {f"#{h.index(victim) + 1}"} | readers, result.report()


def test_a_planted_stale_read_fails():
    rng = random.Random(99)
    for n in range(60):
        h = simulate(rng, processes=rng.randint(2, 8), count=rng.randint(40, 300), keys=["k"])
        victim = stale_read_mutation(h, rng)
        result = lin.check(h)
        assert result.ok is False, n
        assert culprit_lines(result.keys["k"].explanation) == [f"#{h.index(victim) + 1}"], \
            result.report()


# --------------------------------------------------------------------------- budget, CLI, speed


def test_budget_exceeded_is_reported_as_undecided_not_as_a_pass():
    rng = random.Random(5)
    h = simulate(rng, processes=8, count=2000, keys=["k"])
    result = lin.check(h, max_steps=1000)  # this key needs a few thousand
    assert result.ok is None
    assert not result
    assert result.keys["k"].verdict == "unknown (search budget exceeded)"
    assert "budget" in result.report()
    assert lin.check(h, budget_seconds=0.0).ok is None
    # the same history with room to finish is decided
    assert lin.check(h).ok is True
    assert lin.check(h, budget_seconds=60).ok is True


def test_step_budget_is_exact_and_applies_per_key():
    h = [put(1, "a", 0.0, 0.1), get(2, "a", 0.2, 0.3), put(1, "b", 0.4, 0.5), get(2, "b", 0.6, 0.7),
         put(1, "c", 0.0, 0.1, key="other")]
    assert lin.check(h, max_steps=3).keys["k"].ok is None
    result = lin.check(h, max_steps=100)
    assert result.ok is True and result.keys["k"].steps < 100


def run_cli(tmp_path, lines, *args):
    path = tmp_path / "history.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return subprocess.run([sys.executable, SCRIPT, str(path), *args],
                          capture_output=True, text=True, timeout=120)


def test_cli_exit_status(tmp_path):
    good = [json.dumps(o) for o in [put(1, "a", 0.0, 0.1), get(2, "a", 0.2, 0.3)]]
    done = run_cli(tmp_path, good)
    assert done.returncode == 0 and "verdict: linearizable" in done.stdout

    bad = good + [json.dumps(get(2, None, 0.4, 0.5))]
    done = run_cli(tmp_path, bad)
    assert done.returncode == 1 and "NOT linearizable" in done.stdout

    done = run_cli(tmp_path, good + ["{not json"])
    assert done.returncode == 2 and "line 3" in done.stderr

    done = run_cli(tmp_path, good + ['{"op": "get", "key": "k"}'])
    assert done.returncode == 2 and "missing field" in done.stderr


def test_cli_drift(tmp_path):
    lines = [json.dumps(o) for o in [put_ttl(1, "a", 500, 0.0, 0.1), get(2, "a", 0.63, 0.64, key="t")]]
    done = run_cli(tmp_path, lines)
    assert done.returncode == 0 and "verdict: linearizable" in done.stdout
    done = run_cli(tmp_path, lines, "--drift", "0.01")
    assert done.returncode == 1 and "after it expired" in done.stdout
    done = run_cli(tmp_path, lines, "--drift", "-1")
    assert done.returncode == 2 and "--drift" in done.stderr


def test_cli_budget_exceeded_exit_status(tmp_path):
    rng = random.Random(5)
    h = simulate(rng, processes=8, count=2000, keys=["k"])
    done = run_cli(tmp_path, [json.dumps(o) for o in h], "--max-steps", "1000")
    assert done.returncode == 3 and "budget exceeded" in done.stdout
    done = run_cli(tmp_path, [json.dumps(o) for o in h], "--budget", "60")
    assert done.returncode == 0 and "verdict: linearizable" in done.stdout


def test_two_thousand_ops_on_one_key_across_eight_processes_is_fast():
    rng = random.Random(2024)
    h = simulate(rng, processes=8, count=2000, keys=["k"])
    started = time.monotonic()
    result = lin.check(h)
    elapsed = time.monotonic() - started
    assert result.ok is True
    assert elapsed < 20, elapsed
    print(f"\n2000 ops / 8 processes / 1 key: linearizable in {elapsed:.3f}s")

    stale_read_mutation(h, rng)
    started = time.monotonic()
    result = lin.check(h)
    elapsed = time.monotonic() - started
    assert result.ok is False
    assert elapsed < 20, elapsed
    print(f"same history with a planted stale read: violation found in {elapsed:.3f}s")

    # Set values repeated (each process cycles through 3) make the search harder.
    h = simulate(random.Random(7), processes=8, count=2000, keys=["k"], values_per_process=3)
    started = time.monotonic()
    result = lin.check(h)
    elapsed = time.monotonic() - started
    assert result.ok is True
    assert elapsed < 20, elapsed
    print(f"2000 ops / 8 processes / 1 key / repeated values: linearizable in {elapsed:.3f}s")


def test_two_thousand_ops_on_one_key_with_a_fifth_cas_is_fast():
    rng = random.Random(2025)
    # weights set 4, get 5, delete 1, cas 2.5: a fifth of the operations are cases
    h = simulate(rng, processes=8, count=2000, keys=["k"], cas_weight=2.5)
    assert 300 < sum(o["op"] == "cas" for o in h) < 500
    started = time.monotonic()
    result = lin.check(h)
    elapsed = time.monotonic() - started
    assert result.ok is True
    assert elapsed < 20, elapsed
    print(f"\n2000 ops (20% cas) / 8 processes / 1 key: linearizable in {elapsed:.3f}s")

    stale_cas_mutation(h, rng)
    started = time.monotonic()
    result = lin.check(h)
    elapsed = time.monotonic() - started
    assert result.ok is False
    assert elapsed < 20, elapsed
    print(f"same history with a planted stale cas: violation found in {elapsed:.3f}s")

    h = simulate(random.Random(8), processes=8, count=2000, keys=["k"], cas_weight=2.5, p_unknown=0.2)
    started = time.monotonic()
    result = lin.check(h)
    elapsed = time.monotonic() - started
    assert result.ok is True
    assert elapsed < 20, elapsed
    print(f"2000 ops (20% cas, 20% unknown) / 8 processes / 1 key: linearizable in {elapsed:.3f}s")

    h = simulate(random.Random(9), processes=8, count=2000, keys=["k"], values_per_process=3, cas_weight=2.5)
    started = time.monotonic()
    result = lin.check(h)
    elapsed = time.monotonic() - started
    assert result.ok is True
    assert elapsed < 20, elapsed
    print(f"2000 ops (20% cas) / 8 processes / 1 key / repeated values: linearizable in {elapsed:.3f}s")
