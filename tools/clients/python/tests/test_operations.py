"""Backup, restore, recovery from a lost quorum and the operator's CLI, on real processes: a
backup taken from a follower while clients write restores into a new cluster holding exactly
the writes up to the backup's index; `raft-cache recover` turns the one survivor of a 3-node
cluster into a cluster of its own that new members join, with every write the survivor had
applied; `raft-cache ctl` runs every command against a live cluster, within the caller's role."""

import json
import os
import subprocess
import sys
import tempfile
import threading

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import raftcache_client as rc  # noqa: E402
import unprivileged  # noqa: E402

from raftcache_cluster import (BINARY, LEADER, Node, converged, eventually, founder_and_joiners, leader_of,  # noqa: E402
                               running, voters)

pytestmark = pytest.mark.skipif(not os.path.exists(BINARY), reason="raft-cache is not built")


def raft_cache(*args):
    """Runs a raft-cache subcommand as the nodes' user: (exit status, what it printed)."""
    done = subprocess.run(unprivileged.command([BINARY, *args]), capture_output=True, text=True, timeout=60)
    return done.returncode, done.stdout + done.stderr


class Writer(threading.Thread):
    """Writes distinct keys and increments one counter through whichever node leads, until
    stopped; keeps the index of every acknowledged write."""

    def __init__(self, nodes):
        super().__init__(daemon=True)
        self.nodes = nodes
        self.stopping = threading.Event()
        self.keys = {}  # key -> (value, index)
        self.increments = []  # indexes of acknowledged increments
        self.errors = 0

    def run(self):
        n = 0
        while not self.stopping.is_set():
            leader = leader_of(self.nodes)
            if leader is None:
                continue
            try:
                with leader.client() as client:
                    while not self.stopping.is_set():
                        n += 1
                        key, value = f"key-{n}".encode(), f"value-{n}".encode()
                        self.keys[key] = (value, client.set(key, value))
                        if n % 5 == 0:
                            self.increments.append(client.incr(b"counter")[1])
            except (rc.RPCError, OSError):
                self.errors += 1  # That write's fate is unknown: it is not in the model.

    @classmethod
    def started(cls, nodes):
        """A writer running, once it has 300 writes acknowledged."""
        writer = cls(nodes)
        writer.start()
        eventually("writes under way", lambda: len(writer.keys) >= 300, timeout=30)
        return writer

    def stop(self):
        self.stopping.set()
        self.join(timeout=30)

    def written_through(self, index):
        """The keys and counter value the writes up to `index` leave."""
        keys = {key: value for key, (value, at) in self.keys.items() if at <= index}
        return keys, sum(1 for at in self.increments if at <= index)


def assert_holds_exactly(node, keys, counter, absent):
    """`node` holds `keys` with their values and the counter, and none of `absent`."""
    with node.client() as client:
        for key, value in keys.items():
            assert client.get(key) == value, key
        for key in absent:
            assert client.get(key) is None, key
        assert int(client.get(b"counter") or b"0") == counter
    # Nothing else: the keys, the counter (once incremented), nothing more.
    assert node.status().keys == len(keys) + (1 if counter else 0)


def start_restored(workdir, node_id, backup):
    """A node started on a directory `raft-cache restore` prepared from `backup`."""
    node = Node(workdir, node_id)
    code, output = raft_cache("restore", f"--from={backup}", f"--raft-dir={node.dir}", f"--local-id={node.id}",
                              f"--raft-addr={node.addr}")
    assert code == 0, output
    assert f"--local-id {node.id}" in output, output
    node.start()
    eventually(f"{node.id} to lead", lambda: node.status().role == LEADER, timeout=15)
    return node


def test_backup_under_writes_restores_exactly_the_writes_up_to_its_index():
    workdir = tempfile.mkdtemp(prefix="raft-cache-backup-")
    for nodes in running(workdir, founder_and_joiners(workdir)):
        writer = Writer.started(nodes)
        follower = next(node for node in nodes if node.status().role != LEADER)
        code, backup, headers = follower.request("GET", "/api/v1/backup")
        assert code == 200, backup
        index = int(headers["X-Raft-Index"])
        assert int(headers["Content-Length"]) == len(backup)
        eventually("writes past the backup", lambda: max(at for _, at in writer.keys.values()) > index + 50, timeout=30)
        writer.stop()
        path = os.path.join(workdir, "under-writes.backup")
        with open(path, "wb") as out:
            out.write(backup)
        unprivileged.writable_dir(workdir)

        restored_dir = os.path.join(workdir, "restored")
        unprivileged.writable_dir(restored_dir)
        restored = start_restored(restored_dir, "restored-1", path)
        try:
            keys, counter = writer.written_through(index)
            later = [key for key, (_, at) in writer.keys.items() if at > index]
            assert keys and later
            assert_holds_exactly(restored, keys, counter, later)
            assert restored.status().applied_index >= index
        finally:
            restored.stop()

        # Quiet now: a second backup restores to the very digest the cluster has.
        eventually("the cluster converged", lambda: converged(nodes), timeout=30)
        source = nodes[0].status()
        code, backup, _ = nodes[0].request("GET", "/api/v1/backup")
        assert code == 200
        path = os.path.join(workdir, "quiet.backup")
        with open(path, "wb") as out:
            out.write(backup)
        again_dir = os.path.join(workdir, "again")
        unprivileged.writable_dir(again_dir)
        first = start_restored(again_dir, "again-1", path)
        second = Node(again_dir, "again-2", join=first.addr)
        second.start()
        try:
            eventually("the restored cluster converged", lambda: converged([first, second]), timeout=30)
            status = second.status()
            assert (status.digest, status.keys) == (source.digest, source.keys)
            with first.client() as client:  # It takes writes as any cluster does.
                client.set(b"after-restore", b"yes")
        finally:
            second.stop()
            first.stop()


def test_restore_refuses_damaged_backups_and_used_directories():
    workdir = tempfile.mkdtemp(prefix="raft-cache-restore-")
    unprivileged.writable_dir(workdir)
    for nodes in running(workdir, founder_and_joiners(workdir, count=1)):
        with nodes[0].client() as client:
            client.set(b"k", b"v")
        code, backup, _ = nodes[0].request("GET", "/api/v1/backup")
        assert code == 200
        damaged = bytearray(backup)
        damaged[-20] ^= 0xFF  # In the data, before the 12-byte trailer.
        path = os.path.join(workdir, "damaged.backup")
        with open(path, "wb") as out:
            out.write(damaged)
        code, output = raft_cache("restore", f"--from={path}", f"--raft-dir={os.path.join(workdir, 'x')}")
        assert code != 0 and "checksum" in output, output
        path = os.path.join(workdir, "good.backup")
        with open(path, "wb") as out:
            out.write(backup)
        code, output = raft_cache("restore", f"--from={path}", f"--raft-dir={nodes[0].dir}")
        assert code != 0 and "not empty" in output, output


def test_recover_the_survivor_of_a_lost_quorum_and_grow_it_back():
    workdir = tempfile.mkdtemp(prefix="raft-cache-recover-")
    for nodes in running(workdir, founder_and_joiners(workdir)):
        writer = Writer.started(nodes)
        leader = leader_of(nodes)
        survivor = next(node for node in nodes if node is not leader)
        acknowledged = max(at for _, at in writer.keys.values())
        eventually("the survivor to apply the writes so far", lambda: survivor.status().applied_index >= acknowledged)
        # Two of three gone for good, while the writes go on.
        for node in nodes:
            if node is not survivor:
                node.kill()
        writer.stop()
        applied = survivor.status().applied_index
        assert applied > 0

        code, output = raft_cache("recover", f"--raft-dir={survivor.dir}", f"--local-id={survivor.id}")
        assert code != 0 and "in use" in output, output  # It refuses while the node runs.
        survivor.stop()
        code, output = raft_cache("recover", f"--raft-dir={survivor.dir}", f"--local-id={survivor.id}")
        assert code == 0, output
        assert "one-member cluster" in output and "may be lost" in output, output

        survivor.start()
        eventually("the survivor to lead", lambda: survivor.status().role == LEADER, timeout=15)
        assert survivor.status().applied_index >= applied
        keys, counter = writer.written_through(applied)
        assert len(keys) >= 300
        with survivor.client() as client:
            for key, value in keys.items():
                assert client.get(key) == value, key
            assert int(client.get(b"counter") or b"0") >= counter

        # New members join the recovered cluster and hold what it holds.
        newcomers = [Node(workdir, f"node-{i}", join=survivor.addr) for i in (4, 5)]
        try:
            for node in newcomers:
                node.start()
            grown = [survivor] + newcomers
            eventually("three voters", lambda: len(survivor.status().members) == 3, timeout=30)
            with survivor.client() as client:
                client.set(b"after-recovery", b"yes")
            eventually("the grown cluster converged", lambda: converged(grown), timeout=30)
        finally:
            for node in newcomers:
                node.stop()


def ctl(node, *args):
    """`raft-cache ctl --json` against `node`: (exit status, the JSON it printed)."""
    command, *rest = args
    code, output = raft_cache("ctl", command, f"--addr={node.addr}", "--json", *rest)
    return code, json.loads(output.strip().splitlines()[-1])


def test_ctl_operates_a_cluster_over_the_binary_protocol():
    workdir = tempfile.mkdtemp(prefix="raft-cache-ctl-")
    for nodes in running(workdir, founder_and_joiners(workdir)):
        leader = leader_of(nodes)
        follower = next(node for node in nodes if node is not leader)
        code, status = ctl(follower, "status")
        assert code == 0 and status["node_id"] == follower.id and status["leader_id"] == leader.id, status
        code, members = ctl(follower, "members")
        assert code == 0 and {m["id"] for m in members["members"]} == {n.id for n in nodes}
        assert [m["id"] for m in members["members"] if m["leader"]] == [leader.id]

        # Keys, through a follower (it forwards writes).
        code, written = ctl(follower, "set", "greeting", "hello", "--ttl", "1h")
        assert code == 0 and written["index"] > 0
        code, read = ctl(leader, "get", "greeting")
        assert code == 0 and read["value"] == "hello" and read["mod_index"] == written["index"] and read["ttl_ms"] > 0
        code, _ = ctl(follower, "delete", "greeting")
        assert code == 0
        code, missing = ctl(leader, "get", "greeting")
        assert code == 1 and missing["error"]["code"] == "NOT_FOUND", missing
        code, output = raft_cache("ctl", "get", "nothing-here", f"--addr={leader.addr}")
        assert code == 1 and "NOT_FOUND" in output

        # Membership: a member added by ctl, then started, becomes a voter; then removed.
        newcomer = Node(workdir, "node-4", join=leader.addr)
        code, added = ctl(follower, "add", newcomer.id, newcomer.addr)
        assert code == 0 and added["index"] > 0, added
        newcomer.start()
        try:
            eventually("node-4 a voter", lambda: newcomer.id in voters(leader.status()), timeout=30)
            code, _ = ctl(leader, "remove", newcomer.id)
            assert code == 0
            eventually("node-4 gone", lambda: newcomer.id not in {m.id for m in leader.status().members})
        finally:
            newcomer.stop()

        # Leadership, snapshots and a backup that restores.
        code, _ = ctl(follower, "transfer", follower.id)
        assert code == 0
        eventually(f"{follower.id} to lead", lambda: follower.status().role == LEADER, timeout=15)
        with follower.client() as client:
            for i in range(50):
                client.set(f"k{i}".encode(), f"v{i}".encode())
        code, snapshot = ctl(leader, "snapshot")
        assert code == 0 and snapshot["index"] > 0
        eventually("the cluster converged", lambda: converged(nodes), timeout=30)
        source = follower.status()
        path = os.path.join(workdir, "ctl.backup")
        code, backup = ctl(leader, "backup", path)
        assert code == 0 and backup["index"] >= source.applied_index and os.path.getsize(path) == backup["bytes"]
        restored_dir = os.path.join(workdir, "restored")
        unprivileged.writable_dir(restored_dir)
        restored = start_restored(restored_dir, "restored-1", path)
        try:
            status = restored.status()
            assert (status.digest, status.keys) == (source.digest, source.keys)
        finally:
            restored.stop()


def test_ctl_refuses_what_the_caller_may_not_do():
    workdir = tempfile.mkdtemp(prefix="raft-cache-ctl-auth-")
    unprivileged.writable_dir(workdir)
    tokens = os.path.join(workdir, "tokens")
    with open(tokens, "w") as out:
        out.write("read reader-token-0123456789\nadmin admin-token-0123456789\n")
    os.chmod(tokens, 0o644)
    reader = os.path.join(workdir, "reader")
    with open(reader, "w") as out:
        out.write("reader-token-0123456789\n")
    os.chmod(reader, 0o644)
    for nodes in running(workdir, founder_and_joiners(workdir, count=1, args=[f"--auth-token-file={tokens}"],
                                                      token="admin-token-0123456789")):
        code, status = ctl(nodes[0], "status", f"--token-file={reader}")
        assert code == 0 and status["role"] == "leader"
        path = os.path.join(workdir, "refused.backup")
        code, refused = ctl(nodes[0], "backup", path, f"--token-file={reader}")
        assert code == 1 and refused["error"]["code"] == "PERMISSION_DENIED", refused
        assert not os.path.exists(path) and not os.path.exists(path + ".partial")
        code, refused = ctl(nodes[0], "set", "k", "v", f"--token-file={reader}")
        assert code == 1 and refused["error"]["code"] == "PERMISSION_DENIED", refused
        code, refused = ctl(nodes[0], "status")  # No token at all.
        assert code == 1 and refused["error"]["code"] == "UNAUTHENTICATED", refused
