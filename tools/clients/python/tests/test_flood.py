"""A node flooded with 20,000 connections that each send half a request, on its HTTP port and
then on its binary port, keeps serving other clients and its peers; the half-sent requests
are closed once --read-timeout passes, an idle connection once --idle-timeout passes."""

import os
import subprocess
import socket
import struct
import sys
import tempfile
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from raftcache_cluster import BINARY, eventually, founder_and_joiners, running, voters  # noqa: E402

FLOOD = 20_000

pytestmark = pytest.mark.skipif(not os.path.exists(BINARY), reason=f"{BINARY} is not built")


# A process holds this many of the flood's connections (open-file limits are per process).
PER_PROCESS = 5_000

# Run in each flooding process: opens the connections, says "open", then answers each line
# it reads with how many of its newest 200 connections the node has closed.
FLOODER = r"""
import resource, socket, sys
port, count, partial = int(sys.argv[1]), int(sys.argv[2]), bytes.fromhex(sys.argv[3])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
sockets = []
for _ in range(count):
    s = socket.socket()
    try:
        s.connect(("127.0.0.1", port))
        s.sendall(partial)
    except OSError:
        pass  # Refused or reset under the flood: it holds nothing.
    sockets.append(s)
print("open", flush=True)

def closed(s):
    s.settimeout(0)
    try:
        return s.recv(1) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True

for line in sys.stdin:
    print(sum(1 for s in sockets[-200:] if closed(s)), flush=True)
"""


class Flood:
    """FLOOD connections to a port, each having sent `partial` and no more, held by
    several processes."""

    def __init__(self, port, partial):
        self.processes = [
            subprocess.Popen([sys.executable, "-c", FLOODER, str(port), str(PER_PROCESS), partial.hex()],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            for _ in range(FLOOD // PER_PROCESS)]
        for p in self.processes:
            assert p.stdout.readline().strip() == "open"

    def newest_closed(self):
        """Whether the node closed the newest 200 connections of every process."""
        counts = []
        for p in self.processes:
            p.stdin.write("?\n")
            p.stdin.flush()
            counts.append(int(p.stdout.readline()))
        return all(count == 200 for count in counts)

    def stop(self):
        for p in self.processes:
            p.stdin.close()
            p.wait(timeout=30)


@pytest.fixture
def cluster():
    workdir = tempfile.mkdtemp(prefix="raft-cache-flood-")
    yield from running(workdir, founder_and_joiners(workdir, args=["--read-timeout=3s", "--idle-timeout=6s"]))


def serves(cluster, key):
    """Every node still answers: a write through HTTP on the flooded node, reads elsewhere,
    a write over the binary protocol, and three voters behind one leader."""
    flooded = cluster[0]
    code, body, _ = flooded.request("PUT", f"/api/v1/key/{key}", key.encode())
    assert code == 200, (body, [node.status_or_none() for node in cluster])
    code, body, _ = flooded.request("GET", f"/api/v1/key/{key}")
    assert (code, body.rstrip(b"\n")) == (200, key.encode()), body
    with flooded.client() as c:
        assert c.set(key.encode() + b"-bin", b"v") > 0
    for node in cluster[1:]:
        with node.client() as c:
            assert c.get(key.encode()) == key.encode()
    status = flooded.status()
    assert status.leader_id and len(voters(status)) == 3


def test_half_sent_requests_on_both_ports_hurt_no_one(cluster):
    flooded = cluster[0]
    floods = [
        ("http", flooded.http_port, b"GET /api/v1/key/k HTTP/1.1\r\nHost: a\r\n"),
        # A frame header promising 100 bytes, and 10 of them.
        ("binary", flooded.port, struct.pack(">I", 100) + b"\x08" * 10),
    ]
    for name, port, partial in floods:
        flood = Flood(port, partial)
        try:
            serves(cluster, f"during-{name}")
            # Past --read-timeout (3 s) the half-sent requests the node still held are closed.
            eventually(f"the node to close the half-sent {name} requests", flood.newest_closed, timeout=30)
            assert all(node.alive() for node in cluster)
        finally:
            flood.stop()
        serves(cluster, f"after-{name}")


def test_idle_connection_is_closed(cluster):
    node = cluster[1]
    s = socket.create_connection(("127.0.0.1", node.http_port))
    s.sendall(b"GET /api/v1/status HTTP/1.1\r\nHost: a\r\n\r\n")
    s.settimeout(5)
    assert s.recv(4096).startswith(b"HTTP/1.1 200")
    # Kept alive, then idle: closed after --idle-timeout (6 s), not when --read-timeout (3 s) would.
    opened = time.monotonic()
    s.settimeout(20)
    assert s.recv(1) == b""  # Returns once the node closes the connection.
    assert 5 < time.monotonic() - opened < 15
    s.close()


def peer_closed(s):
    """Whether the other end has closed this connection (CLOSE_WAIT), without reading from it."""
    port = s.getsockname()[1]
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            if int(local.split(":")[1], 16) == port:
                return state == "08"
    return True  # Gone already.


def test_client_that_never_reads_is_closed_and_holds_little(cluster):
    """Pipelined reads of a 60 KB value, answers never read: the node stops reading the
    connection (its answers stay within the write buffer), and closes it once it has made no
    progress for --idle-timeout, instead of queueing an answer per request."""
    node = cluster[1]
    assert node.request("PUT", "/api/v1/key/big", b"x" * 60_000)[0] == 200
    rss = lambda: int(open(f"/proc/{node.process.pid}/status").read().split("VmRSS:")[1].split()[0])  # noqa: E731
    before = rss()
    s = socket.create_connection(("127.0.0.1", node.http_port))
    s.settimeout(1)
    # Padded, so the requests outgrow the sockets' buffers once the node stops reading.
    request = b"GET /api/v1/key/big?consistency=stale HTTP/1.1\r\nHost: a\r\nX-Pad: " + b"p" * 4000 + b"\r\n\r\n"
    sent = 0
    try:
        for _ in range(20_000):  # 80 MB of requests, 1.2 GB of answers if they were all queued.
            s.sendall(request)
            sent += 1
    except socket.timeout:
        pass  # The node stopped reading: its buffers and ours are full.
    assert sent < 20_000
    eventually("the node to close the connection", lambda: peer_closed(s), timeout=30)
    assert rss() - before < 100_000, f"RSS grew by {rss() - before} kB"
    s.close()
