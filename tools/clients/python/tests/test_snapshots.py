"""Snapshots, compaction and membership changes in a running cluster of real processes:
a fresh node catches up through InstallSnapshot, a node killed while receiving one recovers,
every original member is replaced while clients write, and (RAFT_CACHE_LONG=1, make
test-long) a snapshot of a million keys does not stall writes. Sizes grow with
RAFT_CACHE_LONG; the figures each test measures are printed (pytest -s shows them)."""

import os
import random
import sys
import tempfile
import threading
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import raftcache_client as rc  # noqa: E402

from raftcache_cluster import (BINARY, LOAD_BINARY, Node, converged, eventually, founder_and_joiners,  # noqa: E402
                               leader_of, load, running, voters)

pytestmark = pytest.mark.skipif(
    not (os.path.exists(BINARY) and os.path.exists(LOAD_BINARY)), reason="raft-cache or raft-cache-load is not built")

LONG = os.environ.get("RAFT_CACHE_LONG") == "1"


def snapshot_args(snapshot_entries, extra=()):
    return [f"--snapshot-entries={snapshot_entries}", "--segment-mib=1", *extra]


@pytest.fixture(scope="module")
def preloaded():
    """Three nodes holding `writes` keys, written with snapshots every `entries` entries."""
    writes, entries, value_size = (100_000, 10_000, 400) if LONG else (20_000, 2_000, 400)
    workdir = tempfile.mkdtemp(prefix="raft-cache-snapshots-")
    # Small chunks: a transfer takes hundreds of round trips, long enough to be seen under way.
    args = snapshot_args(entries, extra=["--snapshot-chunk-kib=16"])
    for nodes in running(workdir, founder_and_joiners(workdir, args=args)):
        report = load(nodes, "--sequential", f"--count={writes}", f"--value-size={value_size}", "--in-flight=128")
        assert report["errors"] == {} and report["ok"] == writes, report
        print(f"\npreload: {writes} writes of {value_size} bytes at {report['throughput']:.0f}/s")
        yield workdir, nodes, args, writes, entries, value_size


def test_fresh_node_catches_up_through_a_snapshot_and_the_log_stays_bounded(preloaded):
    workdir, nodes, args, writes, entries, value_size = preloaded
    leader = leader_of(nodes)
    # Snapshots are written in the background: the one the last writes call for may still be
    # under way when the load ends.
    eventually("a snapshot of the last writes", lambda: leader.status().snapshot_index > writes - entries, timeout=60)
    # The log on disk holds what the last snapshot does not cover, not the history.
    entry_bytes = value_size + 40
    history = writes * entry_bytes
    bound = 3 * (1 << 20) + entries * entry_bytes

    def log_bytes():
        return sum(os.path.getsize(os.path.join(leader.dir, f)) for f in os.listdir(leader.dir) if f.endswith(".seg"))
    # Compaction follows the snapshot on the same thread.
    eventually("the log compacted", lambda: log_bytes() <= bound, timeout=60)
    print(f"leader log on disk: {log_bytes()} bytes; history {history} bytes; bound {bound}")
    assert bound < history

    fresh = Node(workdir, "node-4", join=leader.addr, args=args)
    started = time.monotonic()
    fresh.start()
    try:
        eventually("the fresh node to catch up", lambda: converged(nodes + [fresh]), timeout=120)
        took = time.monotonic() - started
        status = fresh.http_status()
        print(f"fresh node caught up in {took:.2f} s through a snapshot of {status['snapshot']['size_bytes']} bytes")
        # It joined after every write: only the leader's snapshot can have brought them.
        assert status["snapshot"]["index"] > writes - entries
        assert "installed the leader's snapshot" in fresh.log_text()
        assert status["keys"] == writes
        # Promoted from staging to voter once caught up.
        eventually("node-4 to be a voter", lambda: "node-4" in voters(leader.status()))
        with fresh.client() as c:
            assert c.get(b"key-7") == b"v" * value_size
    finally:
        fresh.stop()
        leader.request("DELETE", "/api/v1/node/node-4")


def test_node_killed_while_receiving_a_snapshot_recovers(preloaded):
    workdir, nodes, args, writes, _, _ = preloaded
    leader = leader_of(nodes)
    fresh = Node(workdir, "node-5", join=leader.addr, args=args)
    fresh.start()
    try:
        def receiving():
            snapshot = fresh.status().snapshot
            return snapshot.receiving_index > 0 and snapshot.received_bytes > 0
        eventually("node-5 to be receiving a snapshot", receiving, timeout=60)
        fresh.kill()
        fresh.start()
        eventually("node-5 to catch up after the kill", lambda: converged(nodes + [fresh]), timeout=120)
        assert fresh.status().keys == writes
        assert fresh.log_text().count("installed the leader's snapshot") >= 1
    finally:
        fresh.stop()


def test_replace_every_member_while_clients_write():
    workdir = tempfile.mkdtemp(prefix="raft-cache-replace-")
    args = snapshot_args(500)
    for nodes in running(workdir, founder_and_joiners(workdir, args=args)):
        members = list(nodes)
        acknowledged = {}
        lock = threading.Lock()
        stop = threading.Event()

        def writer(name):
            written = 0
            while not stop.is_set():
                with lock:
                    node = random.choice([n for n in members if n.alive()])
                key = f"{name}-{written}".encode()
                try:
                    with node.client(timeout=2.0) as c:
                        index = c.set(key, key[::-1])
                    with lock:
                        acknowledged[key] = index
                    written += 1
                except (rc.RPCError, OSError):
                    time.sleep(0.02)  # Unknown outcome: not counted; try the next key elsewhere.

        threads = [threading.Thread(target=writer, args=(f"w{i}",)) for i in range(3)]
        for thread in threads:
            thread.start()
        try:
            for i, old in zip((4, 5, 6), list(nodes)):
                live = [n for n in members if n.alive()]
                new = Node(workdir, f"node-{i}", join=live[0].addr, args=args)
                new.start()
                with lock:
                    members.append(new)
                eventually(f"{new.id} to be a voter", lambda: new.id in voters(new.status()), timeout=60)
                # Removing the leader works too: it steps down once the change commits. The
                # promotion may still be committing: one change at a time (409 meanwhile).
                eventually(f"{old.id} removed", lambda: new.request("DELETE", f"/api/v1/node/{old.id}")[0] == 200)
                eventually(f"{old.id} to leave the configuration", lambda: old.id not in {
                    m.id for m in new.status().members}, timeout=30)
                old.stop()
                with lock:
                    members.remove(old)
                # Writes go on between changes (however fast the changes were).
                done = len(acknowledged)
                eventually("writes after the change", lambda: len(acknowledged) >= done + 40, timeout=30)
            stop.set()
            for thread in threads:
                thread.join()
            assert "removed from the cluster" in nodes[0].log_text()
            eventually("the new members to converge", lambda: converged(members), timeout=30)
            eventually("a leader among the new members", lambda: leader_of(members) and members[0].status().leader_id)
            assert {m.id for m in members[0].status().members} == {"node-4", "node-5", "node-6"}
            print(f"\n{len(acknowledged)} writes acknowledged while every member was replaced")
            assert len(acknowledged) > 100
            with members[0].client() as c:
                for key in acknowledged:
                    assert c.get(key) == key[::-1], key
        finally:
            stop.set()
            for node in members:
                if node not in nodes:
                    node.stop()


@pytest.mark.skipif(not LONG, reason="make test-long: RAFT_CACHE_LONG=1")
def test_snapshot_of_a_million_keys_does_not_stall_writes():
    keys = 1_000_000
    workdir = tempfile.mkdtemp(prefix="raft-cache-million-")
    args = snapshot_args(100_000_000, extra=["--segment-mib=64", "--snapshot-mib=1024"])
    for nodes in running(workdir, founder_and_joiners(workdir, args=args)):
        report = load(nodes, "--sequential", f"--count={keys}", "--value-size=100", "--in-flight=256")
        assert report["errors"] == {} and report["ok"] == keys, report
        leader = leader_of(nodes)
        # Writes at a steady pace over the keys while the leader snapshots them; each call's
        # start and latency go to a file, to pick out those that overlap the snapshot.
        result = {}
        calls = os.path.join(workdir, "calls.txt")
        writer = threading.Thread(target=lambda: result.update(load(
            [leader], "--duration=8", "--in-flight=8", f"--keys={keys}", "--value-size=100", f"--latency-file={calls}")))
        writer.start()
        time.sleep(2)
        began = time.time()
        code, body, _ = leader.request("POST", "/api/v1/snapshot")
        ended = time.time()
        writer.join()
        assert code == 200, body
        assert result["errors"] == {}, result
        snapshot = leader.http_status()["snapshot"]
        during = []
        with open(calls) as f:
            for line in f:
                start, latency = (int(x) for x in line.split())
                if start / 1e6 <= ended and (start + latency) / 1e6 >= began:
                    during.append(latency / 1000)
        during.sort()
        print(f"\nsnapshot of {keys} keys: {snapshot['size_bytes']} bytes in {ended - began:.2f} s; "
              f"{len(during)} writes during it: p50 {during[len(during) // 2]:.2f} ms, max {during[-1]:.1f} ms; "
              f"over the whole run ({result['ok']} writes) p99 {result['p99_ms']:.2f} ms, max {result['max_ms']:.1f} ms")
        assert ended - began < 5, "the snapshot should finish while the writer runs"
        assert len(during) > 100
        assert during[-1] < 100
        eventually("the cluster to converge", lambda: converged(nodes), timeout=30)
        assert leader.status().keys == keys
        # A fresh node catches up through that snapshot.
        fresh = Node(workdir, "node-4", join=leader.addr, args=args)
        started = time.monotonic()
        fresh.start()
        try:
            eventually("the fresh node to catch up", lambda: converged(nodes + [fresh]), timeout=120)
            print(f"a fresh node caught up in {time.monotonic() - started:.2f} s")
            assert fresh.status().snapshot.index == snapshot["index"]
        finally:
            fresh.stop()
