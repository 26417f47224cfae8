"""Watch on real processes: every change of the keys asked, in commit order, from any node,
over Server-Sent Events, NDJSON and the binary stream; resuming with since on another node
after a break, with no gap and no duplicate; the history's bound answered 410 / OUT_OF_RANGE
naming the oldest index; a reader that does not read cut off with a reason while writes go on;
200 watchers of one key given each large value without holding up the writes.
The binary is RAFT_CACHE_BIN or .build/debug/raft-cache."""

import http.client
import json
import os
import socket
import sys
import tempfile
import threading
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import raftcache_client as rc  # noqa: E402

from raftcache_cluster import BINARY, eventually, founder_and_joiners, leader_of, running  # noqa: E402

pytestmark = pytest.mark.skipif(not os.path.exists(BINARY), reason=f"{BINARY} is not built")
wire = rc.wire
KINDS = {0: "set", 1: "delete", 2: "expire", 3: "evict"}


@pytest.fixture
def cluster():
    workdir = tempfile.mkdtemp(prefix="raft-cache-watch-")
    yield from running(workdir, founder_and_joiners(workdir, args=["--watch-history=200"]))


class Stream:
    """An HTTP watch read on a thread: its messages as dicts, and how it ended."""

    def __init__(self, node, query, ndjson=False, headers=None, reading=True):
        host, port = node.http.split("//")[1].split(":")
        self.connection = http.client.HTTPConnection(host, int(port), timeout=30)
        headers = dict(headers or {})
        if ndjson:
            headers["Accept"] = "application/x-ndjson"
        self.connection.request("GET", "/api/v1/watch" + query, headers=headers)
        self.response = self.connection.getresponse()
        self.messages, self.ended, self.lines = [], None, []
        if reading:
            threading.Thread(target=self.read, args=(ndjson,), daemon=True).start()

    def read(self, ndjson):
        event = {}
        for raw in self.response:
            line = raw.decode().rstrip("\n")
            self.lines.append(line)
            if ndjson:
                message = json.loads(line)
                if "end" in message:
                    self.ended = message["end"]
                else:
                    self.messages.append(message)
            elif line == "":
                if event.get("event") == "end":
                    self.ended = json.loads(event["data"])
                elif "data" in event:
                    message = json.loads(event["data"])
                    assert int(event["id"]) == message["index"]
                    assert (event.get("event") == "progress") == (message["events"] == [])
                    self.messages.append(message)
                event = {}
            else:
                name, _, value = line.partition(": ")
                event[name] = value

    def changes(self):
        return [(m["index"], e["kind"], e["key"], e.get("value")) for m in self.messages for e in m["events"]]

    def close(self):
        self.connection.close()


def index_of(answer):
    status, body, _ = answer
    assert status == 200, body
    return json.loads(body)["index"]


def test_changes_stream_in_order_from_every_node_over_every_format(cluster):
    one, two, three = cluster
    sse = Stream(two, "?prefix=user%2F")
    ndjson = Stream(three, "?key=user%2F1&values=false", ndjson=True)
    assert sse.response.status == 200 and sse.response.getheader("Content-Type") == "text/event-stream"
    assert ndjson.response.getheader("Content-Type") == "application/x-ndjson"
    with one.client() as c:
        binary = c.watch(prefix=b"user/")
        first = next(binary)
        assert first.events == [] and first.index > 0  # the progress note: where it starts
        binary.close()
    eventually("the watches to start", lambda: sse.messages and ndjson.messages)
    written = []
    written.append(index_of(one.request("PUT", "/api/v1/key/user%2F1", b"alice")))
    written.append(index_of(three.request("PUT", "/api/v1/key/user%2F2?ttl=500", b"bob")))
    written.append(index_of(one.request("PUT", "/api/v1/key/other", b"x")))
    written.append(index_of(two.request("POST", "/api/v1/batch", json.dumps({"ops": [
        {"op": "set", "key": "user/1", "value": "alice2"}, {"op": "delete", "key": "user/3"},
        {"op": "set", "key": "user/3", "value": "carol"}]}).encode())))
    with one.client() as c:  # An HTTP DELETE answers no index (the original API's).
        written.append(c.delete(b"user/1"))
    expected = [
        (written[0], "set", "user/1", "alice"), (written[1], "set", "user/2", "bob"),
        (written[3], "set", "user/1", "alice2"), (written[3], "set", "user/3", "carol"),
        (written[4], "delete", "user/1", None),
    ]
    eventually("every change, and the expiry, on the prefix watch",
               lambda: [c for c in sse.changes() if c[1] != "expire"] == expected and
               any(c[1:3] == ("expire", "user/2") for c in sse.changes()), timeout=10)
    eventually("the key watch", lambda: ndjson.changes() == [
        (written[0], "set", "user/1", None), (written[3], "set", "user/1", None), (written[4], "delete", "user/1", None)])
    seen = []
    with one.client() as c:
        for response in c.watch(prefix=b"user/", since=first.index):
            seen += [(response.index, KINDS[e.kind], e.key.decode(), e.value.decode() or None) for e in response.events]
            if len(seen) >= len(sse.changes()):
                break
    assert seen == sse.changes()
    # Indexes never go back, and each entry's changes come in one message (a progress note,
    # with none, may repeat the last index: it says nothing newer was applied).
    indexes = [m["index"] for m in sse.messages]
    assert indexes == sorted(indexes), sse.lines
    changed = [m["index"] for m in sse.messages if m["events"]]
    assert len(set(changed)) == len(changed), sse.lines
    sse.close()
    ndjson.close()


def test_resuming_elsewhere_loses_and_repeats_nothing(cluster):
    """A watcher on a follower is cut off when its node dies; it resumes on another node with
    since = the last index it saw, and gets every change after it exactly once, across a
    leader change."""
    one, two, three = cluster
    stop = threading.Event()
    written = {}

    def writer():
        n = 0
        while not stop.is_set():
            n += 1
            for node in (one, two, three):
                try:
                    with node.client(timeout=2) as c:
                        written[c.set(b"w/" + str(n).encode(), str(n).encode())] = n
                    break
                except (rc.RPCError, OSError):
                    continue
            time.sleep(0.005)
    thread = threading.Thread(target=writer)
    thread.start()
    seen, last = [], 0
    try:
        client = two.client()
        for response in client.watch(prefix=b"w/"):
            seen += [(response.index, e.key) for e in response.events]
            last = response.index
            if len(seen) >= 30:
                break
        client.close()
        two.kill()  # the watcher's node, and then the leader: a leader change meanwhile
        leader = leader_of([one, three])
        if leader is not None:
            leader.kill()
        survivors = [n for n in (one, three) if n.alive()]
        for node in (one, two, three):
            if not node.alive():
                node.start()
        time.sleep(1)
        with survivors[0].client() as c:
            for response in c.watch(prefix=b"w/", since=last):
                seen += [(response.index, e.key) for e in response.events]
                if len(seen) >= 150:
                    break
    finally:
        stop.set()
        thread.join()
    indexes = [i for i, _ in seen]
    assert indexes == sorted(indexes) and len(set(indexes)) == len(indexes), "a gap or a duplicate"
    # Every acknowledged write in the range watched was seen, with its key.
    span = [(i, b"w/" + str(n).encode()) for i, n in sorted(written.items()) if indexes[0] <= i <= indexes[-1]]
    assert [s for s in seen if s[0] <= indexes[-1]] == span or set(span) <= set(seen)
    assert set(span) <= set(seen)


def test_history_bound_and_slow_readers(cluster):
    """since older than the history holds: 410 naming the oldest index (OUT_OF_RANGE over the
    wire); a reader that stops reading is ended with a reason, and writes are not slowed."""
    one, two, _ = cluster
    start = index_of(one.request("PUT", "/api/v1/key/h", b"0"))
    with one.client() as c:
        for i in range(300):
            c.set(b"h", str(i).encode())
    status, body, _ = two.request("GET", f"/api/v1/watch?key=h&since={start}")
    refusal = json.loads(body)
    assert status == 410 and refusal["oldest_index"] > start and "oldest" in refusal["message"], body
    with two.client() as c:
        with pytest.raises(rc.RPCError) as gone:
            next(c.watch(key=b"h", since=start))
        assert gone.value.status == wire.wire_pb2.STATUS_CODE_OUT_OF_RANGE
        assert gone.value.detail.oldest_index == refusal["oldest_index"]
        # From the oldest index it names, it works.
        assert next(c.watch(key=b"h", since=gone.value.detail.oldest_index)).index > 0
    for query in ("?key=a&prefix=b", "?since=abc", "?values=maybe", "?key="):
        assert two.request("GET", "/api/v1/watch" + query)[0] == 400, query
    # A watcher that never reads: the node's buffer for it fills and it is ended.
    slow = Stream(two, "?prefix=big", reading=False)
    value = b"v" * 60_000
    started = time.monotonic()
    with one.client() as c:
        for i in range(500):
            c.set(f"big{i % 10}".encode(), value)
    elapsed = time.monotonic() - started
    data = b""
    slow.response.fp.raw._sock.settimeout(10)
    while True:
        chunk = slow.response.read(1 << 20)
        if not chunk:
            break
        data += chunk
    assert b"event: end" in data and b"fell behind" in data, data[-300:]
    assert elapsed < 30


def test_resuming_far_behind_replays_at_the_readers_pace(cluster):
    """Resuming with since far behind: the history is replayed as fast as the reader takes it
    (more than the node's 1 MiB buffer for a watcher, here 9 MB), then live changes follow."""
    one, two, _ = cluster
    start = index_of(one.request("PUT", "/api/v1/key/r-start", b"0"))
    value = b"r" * 60_000
    with one.client() as c:
        for i in range(150):
            c.set(f"r{i}".encode(), value)
    eventually("the follower to apply them", lambda: two.status().applied_index >= start + 150)
    got = []
    with two.client(timeout=10) as c:
        stream = c.watch(prefix=b"r", since=start)
        for response in stream:
            got += [e.key for e in response.events]
            if not response.events:
                break  # the progress note: caught up
        assert got == [f"r{i}".encode() for i in range(150)]
        with one.client() as writer:
            writer.set(b"r-live", b"1")
        live = next(r for r in stream if r.events)
        assert [e.key for e in live.events] == [b"r-live"]
        stream.close()


def test_a_change_many_watch_is_encoded_once_for_all_of_them():
    """200 watchers of one key on the leader, and 256 KiB values written to it one at a time:
    each write, and a small one after it, answered within half a second, every watcher
    getting its change whole. The node once encoded a change anew for each watcher: 2 s of its
    loop per write, every request beside it waiting."""
    workdir = tempfile.mkdtemp(prefix="raft-cache-watch-")
    for nodes in running(workdir, founder_and_joiners(workdir, args=["--max-value-size=262144"])):
        many_watchers_of_a_large_value(leader_of(nodes))


class CountingWatch:
    """An NDJSON watch read on a thread that only counts its changes and bytes: parsing 200
    streams of large values would hold this process's interpreter lock, and the writes timed
    beside them with it."""
    CHANGE = b'{"events":[{'

    def __init__(self, node, query):
        host, port = node.http.split("//")[1].split(":")
        self.socket = socket.create_connection((host, int(port)), timeout=60)
        self.socket.sendall(f"GET /api/v1/watch{query} HTTP/1.1\r\nHost: x\r\nAccept: application/x-ndjson\r\n\r\n".encode())
        self.changes, self.bytes, self.started = 0, 0, False
        threading.Thread(target=self.read, daemon=True).start()

    def read(self):
        tail = b""
        try:
            while data := self.socket.recv(1 << 20):
                self.started, self.bytes = True, self.bytes + len(data)
                seen = tail + data
                # The last bytes kept are too few to hold a whole marker: none is counted twice.
                self.changes += seen.count(self.CHANGE)
                tail = seen[-(len(self.CHANGE) - 1):]
        except OSError:
            pass  # closed by the test
        finally:
            self.socket.close()

    def close(self):
        self.socket.shutdown(socket.SHUT_RDWR)


def many_watchers_of_a_large_value(leader):
    watches = [CountingWatch(leader, "?key=big") for _ in range(200)]
    eventually("every watch to start", lambda: all(w.started for w in watches), timeout=30)
    value = b"v" * (256 << 10)
    writes, rounds = [], []
    for round_number in range(1, 4):
        started = time.monotonic()
        index_of(leader.request("PUT", "/api/v1/key/big", value))
        # The loop hands the change to every watcher as it applies the write, just before or
        # just after answering it: the write or the next request waits for that.
        index_of(leader.request("PUT", "/api/v1/key/small", b"x"))
        writes.append(time.monotonic() - started)
        # One at a time, so no watcher's buffer (--watch-buffer, 1 MiB) holds more than one.
        eventually("every watcher to get the change", lambda: all(w.changes == round_number for w in watches), timeout=60)
        rounds.append(time.monotonic() - started)
    print(f"\n200 watchers, 256 KiB values: each write and a small one after it answered in "
          f"{[round(w * 1000) for w in writes]} ms, its change with every watcher in {[round(r * 1000) for r in rounds]} ms")
    assert all(w.bytes > 3 * len(value) for w in watches)
    assert max(writes) < 0.5, writes
    for w in watches:
        w.close()
