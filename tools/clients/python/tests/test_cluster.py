"""Real raft-cache processes on loopback, driven through the Python client: the cluster
founds and grows, every node serves writes and reads, a killed leader is replaced and comes
back, nothing acknowledged is lost when every node is killed, and bad bytes on the binary
port hurt nobody else. The binary is RAFT_CACHE_BIN or .build/debug/raft-cache."""

import json
import os
import random
import socket
import struct
import sys
import tempfile
import threading
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import raftcache_client as rc  # noqa: E402
import unprivileged  # noqa: E402

from raftcache_cluster import BINARY, Node, eventually, founder_and_joiners, leader_of, running  # noqa: E402

pytestmark = pytest.mark.skipif(not os.path.exists(BINARY), reason=f"{BINARY} is not built")


@pytest.fixture
def cluster():
    workdir = tempfile.mkdtemp(prefix="raft-cache-cluster-")
    yield from running(workdir, founder_and_joiners(workdir))


def test_every_node_serves_writes_and_reads(cluster):
    for i, node in enumerate(cluster):
        with node.client() as c:
            assert c.set(f"k{i}".encode(), f"v{i}".encode()) > 0
        for reader in cluster:
            with reader.client() as c:
                assert c.get(f"k{i}".encode()) == f"v{i}".encode()
    with cluster[2].client() as c:
        c.delete(b"k0")
        assert c.get(b"k0") is None
        assert c.get(b"never-set") is None


def test_nodes_run_unprivileged_and_serve_both_protocols(cluster):
    """Run as root, a node may set socket options no one else can: one such option once reset
    every connection for non-root users, unseen while the tests ran the nodes as root. So
    under root (CI) the nodes must run as someone else, and still serve both protocols."""
    for node in cluster:
        with open(f"/proc/{node.process.pid}/comm") as f:
            assert f.read().strip() == os.path.basename(BINARY)[:15]  # the node itself, not setpriv
        real, effective, saved, _ = unprivileged.process_uids(node.process.pid)
        if os.geteuid() == 0:
            assert 0 not in (real, effective, saved), f"{node.id} runs as root"
        else:
            assert real == effective == os.getuid()
    for i, writer in enumerate(cluster):
        with writer.client() as c:
            assert c.set(f"binary-{i}".encode(), b"b") > 0
        assert writer.request("PUT", f"/api/v1/key/http-{i}", b"h")[0] == 200
    for reader in cluster:
        with reader.client() as c:
            assert [c.get(f"http-{i}".encode()) for i in range(3)] == [b"h"] * 3
        assert [reader.request("GET", f"/api/v1/key/binary-{i}")[:2] for i in range(3)] == [(200, b"b\n")] * 3


def test_leader_killed_then_back(cluster):
    leader = eventually("a leader", lambda: leader_of(cluster))
    with leader.client() as c:
        c.set(b"before", b"kill")
    others = [n for n in cluster if n is not leader]
    leader.kill()
    killed_at = time.monotonic()

    def write():
        with others[0].client(timeout=0.5) as c:
            return c.set(b"after", b"kill") > 0

    eventually("a write after the leader died", write, timeout=5)
    failover = time.monotonic() - killed_at
    assert failover < 2.0, f"writes resumed after {failover:.2f} s"

    leader.start()
    def caught_up():
        with leader.client() as c:
            return c.get(b"after") == b"kill" and c.get(b"before") == b"kill"
    eventually("the restarted node to catch up", caught_up)


def test_acknowledged_writes_survive_killing_every_node(cluster):
    acknowledged = {}
    for i in range(60):
        node = cluster[i % 3]
        with node.client() as c:
            c.set(f"key-{i}".encode(), f"value-{i}".encode())
            acknowledged[f"key-{i}".encode()] = f"value-{i}".encode()
    for node in cluster:
        node.kill()
    for node in cluster:
        node.start()
    eventually("a leader after restarting everyone", lambda: leader_of(cluster), timeout=15)
    for node in cluster:
        def all_there():
            with node.client() as c:
                return all(c.get(k) == v for k, v in acknowledged.items())
        eventually(f"{node.id} to hold every acknowledged write", all_there)


def test_bad_bytes_on_the_binary_port_hurt_nobody_else(cluster):
    target = cluster[1]
    rng = random.Random(7)
    payloads = [struct.pack(">I", 0xFFFFFFFF), struct.pack(">I", 100 * 1024 * 1024) + b"x" * 1000]
    payloads += [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))) for _ in range(30)]
    for payload in payloads:
        with socket.create_connection(("127.0.0.1", target.port), timeout=2) as s:
            try:
                s.sendall(payload)
                s.shutdown(socket.SHUT_WR)
                while s.recv(4096):
                    pass
            except OSError:
                pass
    assert target.process.poll() is None
    with target.client() as c:
        c.set(b"still", b"serving")
        assert c.get(b"still") == b"serving"
    # A request whose payload is not the method's message: INVALID_ARGUMENT, connection kept.
    with target.client() as c:
        with pytest.raises(rc.RPCError) as error:
            c.call("/raftcache.KV/Set", rc.wire.kv_pb2.GetRequest(consistency=7))
        assert error.value.status in (rc.wire.wire_pb2.STATUS_CODE_INVALID_ARGUMENT,)
        with pytest.raises(rc.RPCError) as error:
            c.call("/raftcache.KV/Nope", rc.wire.kv_pb2.StatusRequest())
        assert error.value.status == rc.wire.wire_pb2.STATUS_CODE_UNIMPLEMENTED
        assert c.status().node_id == "node-2"


@pytest.fixture
def http_cluster():
    """Three nodes joined as the original README does: through node 1's HTTP API (node 2
    even with the README's odd --leader-addr pointing at itself)."""
    workdir = tempfile.mkdtemp(prefix="raft-cache-http-")
    first = Node(workdir, "node-1")
    second = Node(workdir, "node-2", api_endpoint=first.http)
    second.join = second.addr
    third = Node(workdir, "node-3", join=first.addr, api_endpoint=first.http)
    yield from running(workdir, [first, second, third])


def test_http_api_on_every_node(http_cluster):
    one, two, three = http_cluster
    # The README's set route and the route the original registers, on any node.
    assert one.request("POST", "/api/v1/key/hello/value/world")[0] == 200
    assert three.request("POST", "/api/v1/key/k2/v2")[0] == 200
    for node in http_cluster:
        assert node.request("GET", "/api/v1/key/hello")[:2] == (200, b"world\n")
        assert node.request("GET", "/api/v1/key/k2")[:2] == (200, b"v2\n")
    assert two.request("DELETE", "/api/v1/key/hello")[0] == 200
    status, body, _ = one.request("GET", "/api/v1/key/hello")
    assert status == 404 and json.loads(body) == {"message": "key not found", "status": "Not Found"}
    # PUT takes any bytes as the value; percent-encoding decodes, %2F included.
    assert two.request("PUT", "/api/v1/key/bin", bytes(range(256)))[0] == 200
    assert three.request("GET", "/api/v1/key/bin")[1] == bytes(range(256)) + b"\n"
    assert one.request("POST", "/api/v1/key/a%20b/value/c%2Fd")[0] == 200
    assert two.request("GET", "/api/v1/key/a%20b")[1] == b"c/d\n"
    # Stale reads say so and still answer.
    status, body, headers = three.request("GET", "/api/v1/key/k2?consistency=stale")
    assert (status, body) == (200, b"v2\n")
    # A stale read says how old it may be: the index applied, and since when no leader was heard.
    assert int(headers["X-Raft-Applied-Index"]) > 0 and 0 <= int(headers["X-Raft-Leader-Contact-Age-Ms"]) < 5000
    for node in http_cluster:
        assert node.request("GET", "/api/v1/key/k2?consistency=lease")[:2] == (200, b"v2\n")
    status_body = json.loads(two.request("GET", "/api/v1/status")[1])
    assert status_body["leader_id"] == "node-1" and len(status_body["members"]) == 3
    assert one.request("GET", "/health")[0] == 200
    assert three.request("GET", "/ready")[0] == 200


def test_versions_over_both_protocols(http_cluster):
    """A key's create index is the entry that created it, its mod index the last that set it;
    a delete ends it. Every node says the same, over HTTP and the binary protocol."""
    one, two, three = http_cluster

    def index_of(answer):
        status, body, _ = answer
        assert status == 200, body
        return json.loads(body)["index"]
    created = index_of(one.request("PUT", "/api/v1/key/versioned", b"1"))
    modified = index_of(two.request("PUT", "/api/v1/key/versioned", b"2"))
    assert modified > created
    for node in http_cluster:
        status, body, headers = node.request("GET", "/api/v1/key/versioned")
        assert (status, body) == (200, b"2\n")
        assert (int(headers["X-Raft-Create-Index"]), int(headers["X-Raft-Mod-Index"])) == (created, modified)
        with node.client() as c:
            response = c.get_versioned(b"versioned", "stale" if node is three else "linearizable")
            assert (response.value, response.create_index, response.mod_index) == (b"2", created, modified)
    assert three.request("DELETE", "/api/v1/key/versioned")[0] == 200
    again = index_of(three.request("POST", "/api/v1/key/versioned/value/3"))
    _, _, headers = one.request("GET", "/api/v1/key/versioned")
    assert (int(headers["X-Raft-Create-Index"]), int(headers["X-Raft-Mod-Index"])) == (again, again)


def test_conditional_writes_over_both_protocols(http_cluster):
    """If-Match sets or deletes only at the mod index given; If-None-Match: * creates only. A
    condition that fails changes nothing and answers 412 / FAILED_PRECONDITION with the key's
    version; two writers that compare-and-set a counter lose no increment."""
    one, two, three = http_cluster

    def put(node, key, value, **headers):
        status, body, _ = node.request("PUT", f"/api/v1/key/{key}", value, headers=headers)
        return status, json.loads(body)

    status, body = put(one, "cas", b"a", **{"If-None-Match": "*"})
    assert status == 200
    created = body["index"]
    status, body = put(two, "cas", b"b", **{"If-None-Match": "*"})
    assert status == 412 and (body["create_index"], body["mod_index"]) == (created, created), body
    status, body = put(three, "cas", b"c", **{"If-Match": str(created + 1000)})
    assert status == 412 and body["mod_index"] == created and body["status"] == "Precondition Failed", body
    status, body = put(two, "cas", b"c", **{"If-Match": f'"{created}"'})
    assert status == 200
    changed = body["index"]
    assert three.request("GET", "/api/v1/key/cas")[1] == b"c\n"
    # A delete at an old mod index fails; at the current one it deletes; then the key is absent.
    assert three.request("DELETE", "/api/v1/key/cas", headers={"If-Match": str(created)})[0] == 412
    assert one.request("DELETE", "/api/v1/key/cas", headers={"If-Match": str(changed)})[0] == 200
    status, body = put(one, "cas", b"d", **{"If-Match": str(changed)})
    assert status == 412 and (body["create_index"], body["mod_index"]) == (0, 0), body
    # Headers that are not a condition are refused before anything is written.
    for headers in ({"If-Match": "abc"}, {"If-Match": "0"}, {"If-None-Match": "\"x\""},
                    {"If-Match": "1", "If-None-Match": "*"}):
        assert put(one, "cas", b"e", **headers)[0] == 400, headers
    assert one.request("DELETE", "/api/v1/key/cas", headers={"If-None-Match": "*"})[0] == 400
    assert one.request("GET", "/api/v1/key/cas")[0] == 404

    # The binary protocol: the same conditions, the version in the ErrorDetail.
    with two.client() as c:
        index = c.set(b"bin-cas", b"1", if_absent=True)
        with pytest.raises(rc.RPCError) as failed:
            c.set(b"bin-cas", b"2", if_mod_index=index + 1)
        assert failed.value.status == rc.wire.wire_pb2.STATUS_CODE_FAILED_PRECONDITION
        assert (failed.value.detail.current_version.create_index, failed.value.detail.current_version.mod_index) == (index, index)
        with pytest.raises(rc.RPCError) as failed:
            c.call("/raftcache.KV/Set", rc.wire.kv_pb2.SetRequest(key=b"bin-cas", value=b"x", if_mod_index=index, if_absent=True))
        assert failed.value.status == rc.wire.wire_pb2.STATUS_CODE_INVALID_ARGUMENT
        assert c.delete(b"bin-cas", if_mod_index=c.set(b"bin-cas", b"2", if_mod_index=index)) > index
        assert c.get(b"bin-cas") is None

    # Two writers increment one counter by compare-and-set, through different nodes.
    assert put(one, "counter", b"0")[0] == 200
    increments = 25

    def writer(node):
        done = 0
        while done < increments:
            status, body, headers = node.request("GET", "/api/v1/key/counter")
            assert status == 200, body
            value, version = int(body), headers["X-Raft-Mod-Index"]
            status, _ = put(node, "counter", str(value + 1).encode(), **{"If-Match": version})
            assert status in (200, 412)
            done += status == 200
    threads = [threading.Thread(target=writer, args=(node,)) for node in (two, three)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert one.request("GET", "/api/v1/key/counter")[1] == f"{2 * increments}\n".encode()


def test_increments_over_both_protocols(http_cluster):
    """An increment is one atomic write: concurrent ones through every node lose nothing; a
    value that is not a decimal 64-bit integer, or a sum past the range, changes nothing."""
    one, two, three = http_cluster
    status, body, _ = one.request("POST", "/api/v1/key/hits/incr")
    assert status == 200 and json.loads(body)["value"] == 1, body
    status, body, _ = two.request("POST", "/api/v1/key/hits/incr?by=-5")
    assert status == 200 and json.loads(body)["value"] == -4, body
    with three.client() as c:
        value, index = c.incr(b"hits", 10)
        assert value == 6 and index > json.loads(body)["index"]
    per_node = 20

    def bump(node):
        with node.client() as c:
            for _ in range(per_node):
                c.incr(b"hits")
    threads = [threading.Thread(target=bump, args=(node,)) for node in http_cluster]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert one.request("GET", "/api/v1/key/hits")[1] == f"{6 + 3 * per_node}\n".encode()
    # Not a number, or past the range: nothing changes.
    assert one.request("PUT", "/api/v1/key/word", b"seven")[0] == 200
    status, body, _ = two.request("POST", "/api/v1/key/word/incr")
    assert status == 409 and "not a decimal" in json.loads(body)["message"], body
    assert one.request("PUT", "/api/v1/key/top", str(2**63 - 1).encode())[0] == 200
    with two.client() as c:
        with pytest.raises(rc.RPCError) as refused:
            c.incr(b"top")
        assert refused.value.status == rc.wire.wire_pb2.STATUS_CODE_FAILED_PRECONDITION
    assert three.request("GET", "/api/v1/key/top")[1] == f"{2**63 - 1}\n".encode()
    assert one.request("POST", "/api/v1/key/hits/incr?by=lots")[0] == 400


def test_http_bad_input(http_cluster):
    one = http_cluster[0]
    cases = [
        ("GET", "/api/v1/nope", None, 404),
        ("POST", "/api/v1/key//value/x", None, 400),
        ("GET", "/api/v1/key/a%2", None, 400),
        ("GET", "/api/v1/key/x?consistency=bogus", None, 400),
        ("PUT", "/api/v1/key/big", b"x" * 100_000, 413),
        ("POST", "/api/v1/node", b"{not json", 400),
        ("POST", "/api/v1/node", b'{"addr": "nohostport", "node_id": "n9"}', 400),
    ]
    for method, path, body, expected in cases:
        status, text, _ = one.request(method, path, body)
        assert status == expected, (method, path, status, text)
        error = json.loads(text)
        # A refusal by a limit names the flag that sets it.
        assert set(error) == ({"message", "status", "limit"} if status == 413 else {"message", "status"}), text
    # A 100 MB body is refused from its header, before it is read; the node goes on serving.
    with socket.create_connection(("127.0.0.1", one.http_port), timeout=5) as s:
        s.sendall(b"PUT /api/v1/key/huge HTTP/1.1\r\nHost: x\r\nContent-Length: 104857600\r\n\r\n")
        try:
            s.sendall(b"\0" * (1024 * 1024))
        except OSError:
            pass
        assert s.recv(4096).startswith(b"HTTP/1.1 413")
    assert one.request("POST", "/api/v1/key/after/ok")[0] == 200


def test_http_connection_behaviour(http_cluster):
    one = http_cluster[0]
    with socket.create_connection(("127.0.0.1", one.http_port), timeout=5) as s:
        # curl's Expect: 100-continue is answered at once, then the body is taken.
        s.sendall(b"PUT /api/v1/key/asked HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
        assert s.recv(4096).startswith(b"HTTP/1.1 100 Continue")
        s.sendall(b"hello")
        assert read_response(s).startswith(b"HTTP/1.1 200")
        # Pipelined requests are answered in order on one connection.
        s.sendall(b"GET /api/v1/key/asked HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"GET /api/v1/key/missing HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        answers = [read_response(s) for _ in range(3)]
        assert answers[0].startswith(b"HTTP/1.1 200") and answers[0].endswith(b"\r\n\r\nhello\n")
        assert answers[1].startswith(b"HTTP/1.1 404")
        assert answers[2].startswith(b"HTTP/1.1 200") and answers[2].endswith(b'{"status":"ok"}')
        # Malformed HTTP is a 400, and that connection closes.
        s.sendall(b"NOT HTTP\r\n\r\n")
        assert read_response(s).startswith(b"HTTP/1.1 400")
        assert s.recv(4096) == b""


def read_response(s):
    """One HTTP/1.1 response with a Content-Length body, read off a socket."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += s.recv(1)
    head, _, _ = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")), 0)
    while len(data) < len(head) + 4 + length:
        data += s.recv(len(head) + 4 + length - len(data))
    return data


def test_json_log_format():
    """--log-format json: every line of the node's log is one JSON object with its time (UTC),
    level, label, message and metadata (the node's id among them)."""
    workdir = tempfile.mkdtemp(prefix="raft-cache-jsonlog-")
    for nodes in running(workdir, founder_and_joiners(workdir, count=1, args=["--log-format=json", "--log-level=info"])):
        node = nodes[0]
        with node.client() as c:
            c.set(b"k", b"v")
        lines = [line for line in node.log_text().splitlines() if line.strip()]
        records = [json.loads(line) for line in lines]
        assert records and all({"time", "level", "label", "message", "node"} <= set(r) for r in records), lines[:3]
        assert all(r["node"] == node.id and r["time"].endswith("Z") for r in records)
        assert any(r["message"] == "founding a one-node cluster" and r["level"] == "info" for r in records)
