"""The cache's own semantics on real processes: keys that expire (the same on every member, and
hidden from reads by the reader's clock), transactions and batches over both protocols, and the
memory bound with its eviction policies. The binary is RAFT_CACHE_BIN or .build/debug/raft-cache."""

import json
import os
import sys
import tempfile
import threading
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import raftcache_client as rc  # noqa: E402

from raftcache_cluster import BINARY, converged, eventually, founder_and_joiners, leader_of, running  # noqa: E402

pytestmark = pytest.mark.skipif(not os.path.exists(BINARY), reason=f"{BINARY} is not built")
wire = rc.wire


@pytest.fixture
def cluster():
    workdir = tempfile.mkdtemp(prefix="raft-cache-cache-")
    yield from running(workdir, founder_and_joiners(workdir))


def index_of(answer):
    status, body, _ = answer
    assert status == 200, body
    return json.loads(body)["index"]


def test_keys_expire_on_every_member(cluster):
    """A TTL given as a Go duration or milliseconds; every node tells the time left and stops
    answering the key once it has passed; the leader's expiry removes it everywhere alike;
    PATCH changes or removes a TTL."""
    one, two, three = cluster
    index_of(one.request("PUT", "/api/v1/key/short?ttl=1500ms", b"s"))
    index_of(two.request("POST", "/api/v1/key/kept/value/k?ttl=1500"))
    index_of(three.request("POST", "/api/v1/key/long/l?ttl=1h"))
    with two.client() as c:
        c.set(b"binary", b"b", ttl_ms=1_500)
    for node in cluster:
        status, body, headers = node.request("GET", "/api/v1/key/short")
        assert (status, body) == (200, b"s\n")
        assert 0 < int(headers["X-Raft-TTL-Ms"]) <= 1_500
        assert 3_590_000 < int(node.request("GET", "/api/v1/key/long?consistency=stale")[2]["X-Raft-TTL-Ms"]) <= 3_600_000
        with node.client() as c:
            assert 0 < c.get_versioned(b"binary").ttl_ms <= 1_500
    # The TTL removed from one key, and a key without one says nothing of it.
    index_of(three.request("PATCH", "/api/v1/key/kept?ttl=0"))
    assert "X-Raft-TTL-Ms" not in one.request("GET", "/api/v1/key/kept")[2]
    started = time.monotonic()
    for node in cluster:
        eventually(f"{node.id} to stop answering the expired key",
                   lambda: node.request("GET", "/api/v1/key/short?consistency=stale")[0] == 404, timeout=5)
    assert time.monotonic() - started < 3
    eventually("the expired keys removed from every map", lambda: converged(cluster) and all(
        node.status().keys == 2 and node.status().expired_keys == 2 for node in cluster), timeout=10)
    for node in cluster:
        assert node.request("GET", "/api/v1/key/kept")[1] == b"k\n"
        assert node.http_status()["memory"]["expiring_keys"] == 1
    # A TTL changed on the wire, a missing key, and TTLs that are not durations.
    with one.client() as c:
        c.set_ttl(b"long", 60_000)
        assert 59_000 < c.get_versioned(b"long").ttl_ms <= 60_000
        with pytest.raises(rc.RPCError) as missing:
            c.set_ttl(b"short", 1_000)
        assert missing.value.status == wire.wire_pb2.STATUS_CODE_NOT_FOUND
    assert one.request("PATCH", "/api/v1/key/short?ttl=1s")[0] == 404
    for bad in ("?ttl=soon", "?ttl=-1s", "?ttl=1x", "?ttl=" + "9" * 30, "?ttl=999999999999999"):
        status, body, _ = one.request("PUT", "/api/v1/key/bad" + bad, b"v")
        assert status == 400 and "ttl" in json.loads(body)["message"] or "time to live" in json.loads(body)["message"], (bad, body)
    assert one.request("PATCH", "/api/v1/key/long")[0] == 400


def test_many_keys_expiring_together_leave_in_batches(cluster):
    """20,000 keys written in batches with the same TTL expire together: the leader removes
    them a thousand per entry, and every member ends with the same map."""
    one, two, _ = cluster
    with one.client() as c:
        for batch in range(20):
            ops = [rc.op("set", f"e{batch}-{i}".encode(), b"v", ttl_ms=2_000) for i in range(1_000)]
            response = c.batch(ops)
            assert len(response.results) == 1_000 and all(r.found for r in response.results)
        c.set(b"stays", b"v")
    assert two.status().expiring_keys == 20_000
    eventually("20,000 keys expired on every member", lambda: converged(cluster) and all(
        node.status().keys == 1 and node.status().expired_keys == 20_000 for node in cluster), timeout=20)
    # In entries of at most a thousand keys each: at least 20 of them.
    assert one.status().applied_index >= 20 + 1 + 20


def test_transactions_and_batches(cluster):
    """A lock taken by a transaction: of many takers through every node exactly one wins; the
    others read who holds it. Batches read at a consistency level or write in one entry; bad
    requests are refused with a reason."""
    one, two, three = cluster
    take = {"compare": [{"key": "lock", "target": "exists", "result": "!="}],
            "success": [{"op": "set", "key": "lock", "value": "", "ttl": "30s"}],
            "failure": [{"op": "get", "key": "lock"}]}
    answers = []

    def taker(node, name):
        request = json.loads(json.dumps(take))
        request["success"][0]["value"] = name
        status, body, _ = node.request("POST", "/api/v1/txn", json.dumps(request).encode())
        answers.append((status, json.loads(body), name))
    threads = [threading.Thread(target=taker, args=(node, f"{node.id}-{i}")) for node in cluster for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(answers) == 12 and all(status == 200 for status, _, _ in answers), answers
    winners = [name for _, body, name in answers if body["succeeded"]]
    assert len(winners) == 1, answers
    for _, body, _ in answers:
        result = body["results"][0]
        if not body["succeeded"]:
            assert result["value"] == winners[0] and 0 < result["ttl_ms"] <= 30_000
    # Compare on value and mod index; the binary Txn says the same.
    status, body, headers = two.request("GET", "/api/v1/key/lock")
    version = int(headers["X-Raft-Mod-Index"])
    release = {"compare": [{"key": "lock", "target": "mod_index", "mod_index": version},
                           {"key": "lock", "target": "value", "value": winners[0]}],
               "success": [{"op": "delete", "key": "lock"}]}
    status, body, _ = three.request("POST", "/api/v1/txn", json.dumps(release).encode())
    assert status == 200 and json.loads(body)["succeeded"] and json.loads(body)["results"] == [{"found": True}]
    with one.client() as c:
        response = c.txn([rc.compare(b"lock", "exists", "!=")], [rc.op("set", b"lock", b"bin"), rc.op("get", b"lock")])
        assert response.succeeded and response.results[1].value == b"bin"
        assert response.results[1].mod_index == response.index
    # Batches: writes in one entry, then reads at each consistency level, on a follower too.
    status, body, _ = one.request("POST", "/api/v1/batch", json.dumps({"ops": [
        {"op": "set", "key": "a", "value": "1"}, {"op": "set", "key": "b", "value": "2", "ttl": "1m"},
        {"op": "delete", "key": "lock"}]}).encode())
    written = json.loads(body)
    assert status == 200 and [r["found"] for r in written["results"]] == [True, True, True], body
    assert written["results"][0]["mod_index"] == written["results"][1]["mod_index"] == written["index"]
    for level in ("linearizable", "lease", "stale"):
        node = three
        eventually("the batch applied", lambda: node.status().applied_index >= written["index"])
        status, body, _ = node.request("POST", "/api/v1/batch", json.dumps({"consistency": level, "ops": [
            {"op": "get", "key": "a"}, {"op": "get", "key": "b"}, {"op": "get", "key": "lock"}]}).encode())
        read = json.loads(body)
        assert status == 200 and [r.get("value") for r in read["results"]] == ["1", "2", None], body
        assert read["index"] >= written["index"] and 0 < read["results"][1]["ttl_ms"] <= 60_000
    with two.client() as c:
        response = c.batch([rc.op("get", b"a"), rc.op("get", b"nope")], "stale")
        assert [r.found for r in response.results] == [True, False]
    # Refusals, each with its reason.
    bad = [
        ("/api/v1/txn", b"not json"), ("/api/v1/txn", b"{}"),
        ("/api/v1/txn", json.dumps({"compare": [{"key": "k", "target": "size"}], "success": [{"op": "get", "key": "k"}]}).encode()),
        ("/api/v1/txn", json.dumps({"compare": [{"key": "k", "target": "exists", "result": "<"}], "success": [{"op": "get", "key": "k"}]}).encode()),
        ("/api/v1/txn", json.dumps({"compare": [{"key": "k", "target": "value"}], "success": [{"op": "get", "key": "k"}]}).encode()),
        ("/api/v1/txn", json.dumps({"success": [{"op": "set", "key": "k"}]}).encode()),
        ("/api/v1/batch", json.dumps({"ops": []}).encode()),
        ("/api/v1/batch", json.dumps({"ops": [{"op": "get", "key": ""}]}).encode()),
        ("/api/v1/batch", json.dumps({"ops": [{"op": "get", "key": "k"}] * 1025}).encode()),
        ("/api/v1/batch", json.dumps({"ops": [{"op": "get", "key": "k", "ttl": "1s"}]}).encode()),
        ("/api/v1/batch", json.dumps({"ops": [{"op": "set", "key": "k", "value": "v", "ttl": "later"}]}).encode()),
        ("/api/v1/batch", json.dumps({"ops": [{"op": "get", "key": "k"}], "consistency": "eventual"}).encode()),
    ]
    for path, request in bad:
        status, body, _ = one.request("POST", path, request)
        assert status == 400 and json.loads(body)["message"], (path, request, body)
    status, body, _ = one.request("POST", "/api/v1/batch", json.dumps({"ops": [
        {"op": "set", "key": f"k{i}", "value": "v" * 1_000} for i in range(70)]}).encode())
    assert status == 413 and json.loads(body)["limit"] == "max-value-size", body
    assert converged(cluster) or eventually("converged", lambda: converged(cluster))


def bounded_cluster(policy, bound="1MiB"):
    workdir = tempfile.mkdtemp(prefix="raft-cache-bounded-")
    return running(workdir, founder_and_joiners(workdir, args=[f"--max-memory={bound}", f"--eviction-policy={policy}"]))


@pytest.fixture
def lru_cluster():
    yield from bounded_cluster("allkeys-lru")


@pytest.fixture
def full_cluster():
    yield from bounded_cluster("noeviction")


def test_eviction_keeps_the_map_within_its_bound(lru_cluster):
    """Three times the bound in distinct keys, through every node: every write succeeds, the
    map stays within 5% of the bound, keys read often stay, and the members hold the same map."""
    one, two, three = lru_cluster
    value = b"x" * 1_000
    with one.client() as c:
        for i in range(20):
            c.set(f"hot{i}".encode(), value)
    for round in range(3):
        for node in lru_cluster:
            with node.client() as c:
                for i in range(350):
                    c.set(f"r{round}-{node.id}-{i}".encode(), value)
                with one.client() as reader:
                    for i in range(20):
                        reader.get(f"hot{i}".encode(), "lease")
            used = node.status().memory_used_bytes
            assert used <= 1.05 * (1 << 20), used
    eventually("the members hold the same map", lambda: converged(lru_cluster))
    for node in lru_cluster:
        status = node.status()
        assert 0.9 * (1 << 20) < status.memory_used_bytes <= 1.05 * (1 << 20)
        assert status.evicted_keys > 2_000 and status.max_memory_bytes == 1 << 20 and status.eviction_policy == "allkeys-lru"
    with two.client() as c:
        kept = sum(c.get(f"hot{i}".encode()) is not None for i in range(20))
    assert kept >= 18, kept


def test_noeviction_refuses_writes_past_the_bound(full_cluster):
    """At the bound a write is refused (507, RESOURCE_EXHAUSTED naming the limit); deletes still
    work and make room."""
    one, two, _ = full_cluster
    value = b"y" * 10_000
    written = 0
    while True:
        status, body, _ = two.request("PUT", f"/api/v1/key/f{written}", value)
        if status != 200:
            break
        written += 1
        assert written < 200
    assert status == 507, body
    refusal = json.loads(body)
    assert refusal["limit"] == "max-memory" and "--max-memory" in refusal["message"], refusal
    assert 95 <= written <= 105, written
    with one.client() as c:
        with pytest.raises(rc.RPCError) as refused:
            c.set(b"more", value)
        assert refused.value.status == wire.wire_pb2.STATUS_CODE_RESOURCE_EXHAUSTED
        assert refused.value.detail.limit == "max-memory"
        c.delete(b"f0")
        c.delete(b"f1")
        assert c.set(b"more", value) > 0
    assert one.status().memory_used_bytes <= 1 << 20


def test_expiry_survives_snapshots_restarts_and_leader_changes(cluster):
    """Keys with a TTL taken into a snapshot, through a restart from it and a leader change:
    they still expire, on every member alike, and keys without one stay."""
    leader = eventually("a leader", lambda: leader_of(cluster))
    with leader.client() as c:
        c.batch([rc.op("set", f"s{i}".encode(), b"v", ttl_ms=4_000) for i in range(300)])
        c.batch([rc.op("set", f"keep{i}".encode(), b"v") for i in range(10)])
    follower = next(n for n in cluster if n is not leader)
    assert follower.request("POST", "/api/v1/snapshot", b"")[0] == 200
    follower.stop()
    follower.start()
    eventually(f"{follower.id} back with the keys and their expiries",
               lambda: follower.status().keys == 310 and follower.status().expiring_keys == 300, timeout=20)
    leader.kill()
    others = [n for n in cluster if n is not leader]
    eventually("a new leader", lambda: leader_of(others), timeout=20)
    leader.start()
    eventually("the keys expired on every member, after the leader change", lambda: converged(cluster) and all(
        n.status().keys == 10 and n.status().expiring_keys == 0 for n in cluster), timeout=30)


def test_leadership_transfers_while_keys_are_due(cluster):
    """Keys falling due while leadership moves again and again (the leader's expiry proposals
    may be refused at once while a transfer is under way, and must then wait for the next
    tick): no node fails, and the keys still expire on every member."""
    with cluster[0].client() as c:
        for batch in range(3):
            c.batch([rc.op("set", f"due{batch}-{i}".encode(), b"v", ttl_ms=800) for i in range(1_000)])
    time.sleep(1.5)
    for _ in range(6):
        leader = eventually("a leader", lambda: leader_of(cluster))
        leader.request("POST", "/api/v1/leader/transfer")
        time.sleep(0.2)
    assert all(node.alive() for node in cluster)
    eventually("the keys expired on every member", lambda: converged(cluster) and all(
        n.status().keys == 0 and n.status().expiring_keys == 0 for n in cluster), timeout=30)
