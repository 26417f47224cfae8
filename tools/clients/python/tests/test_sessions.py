"""Client sessions (exactly-once writes) on real processes: a write sent twice with the same
sequence, through different nodes and over both protocols, is applied once and answered
alike; increments through a session survive leader kills counted exactly once each, where
plain retries may count twice; sessions end when idle, refuse stale and unknown sequences, and
survive snapshots and restarts."""

import json
import os
import sys
import tempfile
import threading

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import raftcache_client as rc  # noqa: E402

from raftcache_cluster import BINARY, eventually, founder_and_joiners, kill_leaders, leader_of, running  # noqa: E402

pytestmark = pytest.mark.skipif(not os.path.exists(BINARY), reason="raft-cache is not built")

FAILED_PRECONDITION = rc.wire.wire_pb2.STATUS_CODE_FAILED_PRECONDITION
INCR = "/raftcache.KV/Incr"


@pytest.fixture(scope="module")
def cluster():
    workdir = tempfile.mkdtemp(prefix="raft-cache-sessions-")
    yield from running(workdir, founder_and_joiners(workdir))


def value(node, key):
    with node.client() as client:
        return int(client.get(key) or b"0")


def test_the_same_sequence_twice_applies_once_over_both_protocols(cluster):
    first, second = cluster[0], cluster[1]
    with first.client() as c:
        session, timeout_ms = c.open_session()
        assert session > 0 and timeout_ms == 3_600_000
        answer = c.call(INCR, rc.kv_pb2.IncrRequest(key=b"once", by=7), session=(session, 1, 1))
    # The retry through another node (a follower forwards it) gets the first answer.
    with second.client() as c:
        again = c.call(INCR, rc.kv_pb2.IncrRequest(key=b"once", by=7), session=(session, 1, 1))
    assert (again.value, again.index) == (answer.value, answer.index) == (7, answer.index)
    assert value(first, b"once") == 7

    # Over HTTP: a session from POST /api/v1/session, the pair of headers on each write.
    code, body, _ = second.request("POST", "/api/v1/session")
    assert code == 200, body
    http_session = json.loads(body)["session_id"]
    headers = {"X-Raft-Session": str(http_session), "X-Raft-Sequence": "1"}
    answers = [json.loads(node.request("POST", "/api/v1/key/once/incr?by=3", headers=headers)[1]) for node in cluster]
    assert answers[0] == answers[1] == answers[2] and answers[0]["value"] == 10
    assert value(first, b"once") == 10


def test_stale_unknown_and_malformed_sequences_are_refused(cluster):
    node = cluster[0]
    with node.client() as c:
        session, _ = c.open_session()
        c.call(INCR, rc.kv_pb2.IncrRequest(key=b"refused", by=1), session=(session, 1, 1))
        c.call(INCR, rc.kv_pb2.IncrRequest(key=b"refused", by=1), session=(session, 2, 2))
        # Sequence 1 was acknowledged: a late duplicate of it is not applied.
        with pytest.raises(rc.RPCError) as late:
            c.call(INCR, rc.kv_pb2.IncrRequest(key=b"refused", by=1), session=(session, 1, 1))
        assert late.value.status == FAILED_PRECONDITION and late.value.detail.session == "acknowledged"
        with pytest.raises(rc.RPCError) as unknown:
            c.call(INCR, rc.kv_pb2.IncrRequest(key=b"refused", by=1), session=(session + 10_000, 1, 1))
        assert unknown.value.status == FAILED_PRECONDITION and unknown.value.detail.session == "expired"
        with pytest.raises(rc.RPCError) as zero:
            c.call(INCR, rc.kv_pb2.IncrRequest(key=b"refused", by=1), session=(session, 0, 0))
        assert zero.value.status == rc.wire.wire_pb2.STATUS_CODE_INVALID_ARGUMENT
    assert value(node, b"refused") == 2
    code, body, _ = node.request("POST", "/api/v1/key/refused/incr", headers={"X-Raft-Session": str(session)})
    assert code == 400 and b"X-Raft-Sequence" in body
    code, body, _ = node.request("POST", "/api/v1/key/refused/incr",
                                 headers={"X-Raft-Session": str(session + 10_000), "X-Raft-Sequence": "1"})
    assert code == 409 and json.loads(body)["session"] == "expired"


def test_increments_through_leader_kills_count_exactly_once(cluster):
    """A writer increments through a session while the leader is killed (and restarted) again
    and again: every increment it was told of counts once, none twice, none lost."""
    addrs = [node.addr for node in cluster]
    done, kills = threading.Event(), []

    with rc.Session(addrs, timeout=1.0, retry_for=60.0) as session:
        killer = threading.Thread(target=lambda: kills.extend(kill_leaders(cluster, 3, lambda: not done.is_set())))
        killer.start()
        count = 0
        try:
            while count < 400 or killer.is_alive():
                answered, _ = session.incr(b"exactly-once")
                count += 1
                assert answered == count  # Each answer is the one increment's own.
        finally:
            done.set()
            killer.join(timeout=120)
        retries = session.retries
    eventually("every node applied them", lambda: all(value(node, b"exactly-once") == count for node in cluster), timeout=30)
    print(f"\n{count} increments through {len(kills)} leader kills, {retries} retries, counted once each")
    assert len(kills) == 3
    assert retries > 0  # The kills made the writer retry: the test saw what it is about.


def test_sessions_survive_snapshots_and_restarts_and_end_when_idle():
    workdir = tempfile.mkdtemp(prefix="raft-cache-session-expiry-")
    for nodes in running(workdir, founder_and_joiners(workdir, args=["--session-timeout=8s"])):
        leader = leader_of(nodes)
        with leader.client() as c:
            session, timeout_ms = c.open_session()
            assert timeout_ms == 8_000
            first = c.call(INCR, rc.kv_pb2.IncrRequest(key=b"kept", by=1), session=(session, 1, 1))
        # The leader's snapshot holds the session and its answer; a restart loads it.
        assert leader.request("POST", "/api/v1/snapshot")[0] == 200
        for node in nodes:
            node.stop()
            node.start()
        eventually("a leader", lambda: leader_of(nodes) is not None, timeout=30)
        with leader_of(nodes).client() as c:
            again = c.call(INCR, rc.kv_pb2.IncrRequest(key=b"kept", by=1), session=(session, 1, 1))
        assert (again.value, again.index) == (first.value, first.index) == (1, first.index)

        # Idle for the timeout by the leader's clock, the next sweep (once a second) ends it on
        # every member; watched through the status, which does not touch the session.
        def open_sessions():
            return [node.status().client_sessions for node in nodes]
        assert open_sessions() == [1, 1, 1]
        eventually("the idle session ended everywhere", lambda: open_sessions() == [0, 0, 0], timeout=20)
        with leader_of(nodes).client() as c:
            with pytest.raises(rc.RPCError) as ended:
                c.call(INCR, rc.kv_pb2.IncrRequest(key=b"kept", by=1), session=(session, 2, 2))
        assert ended.value.detail.session == "expired"
        assert value(leader_of(nodes), b"kept") == 1
