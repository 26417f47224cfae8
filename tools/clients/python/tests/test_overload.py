"""Work a node cannot do in time is refused at once, and what it holds stays bounded.

- A write past the admission bounds (--max-writes-in-flight, --max-bytes-in-flight) is answered
  503 with Retry-After and the JSON error naming the flag, before its body is read; on the
  binary protocol UNAVAILABLE with retry_after_ms; a follower passes the leader's refusal on.
- A reader that does not take its answers is closed after --write-timeout, and answers waiting
  for readers are bounded (--max-answer-bytes).
- A URL or headers past --max-header-size are 414 / 431, anything malformed 400, all JSON.
- Pipelined requests are carried out and answered in request order, and a connection reads at
  most 16 ahead.
- A flood of writers (tools/bench/overload.py): small here; with RAFT_CACHE_LONG=1 (make
  test-long, release build) 400 writers of 1 MiB values for 20 s, then again beside 4,000
  idle clients and 400 slow readers: fewer than 2% of writes time out, every refusal is a 503
  with Retry-After (half in under 25 ms; its p90 and p99 under half the accepted writes' p50
  and p99: a refusal does not wait for a commit), accepted
  writes go as fast as with 16 writers, the leader does not change, and each node's resident
  memory stays under the live set plus the configured bounds. The figures are printed (pytest
  -s shows them).
- 400 reads of a 1 MiB value asked at once, linearizable or stale (RAFT_CACHE_LONG=1), are all
  answered, and small writes beside them wait no more than 100 ms."""

import json
import os
import re
import socket
import sys
import tempfile
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "bench"))
import raftcache_client as rc  # noqa: E402
import overload  # noqa: E402

from raftcache_cluster import BINARY, eventually, founder_and_joiners, leader_of, running  # noqa: E402

pytestmark = pytest.mark.skipif(not os.path.exists(BINARY), reason=f"{BINARY} is not built")
LONG = os.environ.get("RAFT_CACHE_LONG") == "1"
MIB = 1 << 20


def cluster_with(prefix, args):
    workdir = tempfile.mkdtemp(prefix=f"raft-cache-{prefix}-")
    return running(workdir, founder_and_joiners(workdir, args=args))


def raw(node, data, read_until_close=False, timeout=5):
    """Sends `data` to the node's HTTP port and returns what comes back: the first answer, or
    everything until the node closes the connection."""
    with socket.create_connection(("127.0.0.1", node.http_port), timeout=timeout) as s:
        s.sendall(data)
        return read_answer(s, read_until_close)


def read_answer(s, read_until_close=False):
    got = b""
    while True:
        part = s.recv(65536)
        if not part:
            return got
        got += part
        if not read_until_close and b"\r\n\r\n" in got:
            head, _, body = got.partition(b"\r\n\r\n")
            length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")), 0)
            if len(body) >= length:
                return got


def parse(answer):
    """(status, headers by lower-case name, JSON body or None) of one raw HTTP answer."""
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, (json.loads(body) if body.startswith(b"{") else None)


def half_sent_write(node, key, length):
    """A PUT whose body is promised `length` bytes and sent 1: it holds its share of the
    node's admission bounds until the rest arrives. Returns the socket (send the rest, then read)."""
    s = socket.create_connection(("127.0.0.1", node.http_port), timeout=5)
    s.sendall(f"PUT /api/v1/key/{key} HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\nx".encode())
    return s


def assert_overloaded(answer, limit):
    status, headers, body = parse(answer)
    assert status == 503, answer[:300]
    assert int(headers["retry-after"]) >= 1, headers
    assert body["limit"] == limit and f"--{limit}" in body["message"], body
    assert 50 <= body["retry_after_ms"] <= 7_500, body
    return body


def test_writes_past_the_bounds_are_refused_from_their_head():
    args = ["--max-writes-in-flight=2", "--max-bytes-in-flight=1MiB", "--max-value-size=1048576"]
    for nodes in cluster_with("admission", args):
        leader = leader_of(nodes)
        follower = next(node for node in nodes if node is not leader)
        # Two writes wait for their bodies: they are the two writes the leader may hold.
        held = half_sent_write(leader, "held", 10)
        other = half_sent_write(leader, "other", 10)
        eventually("the held write counted", lambda: assert_overloaded(
            raw(leader, b"PUT /api/v1/key/k HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nv"), "max-writes-in-flight"))
        # Refused before its body: a client that asks first is told at once, not 100 Continue,
        # and the connection closes (the body it did not send cannot be told from the next request).
        answer = raw(leader, b"PUT /api/v1/key/k HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
                     read_until_close=True)
        assert b"100 Continue" not in answer
        assert_overloaded(answer, "max-writes-in-flight")
        # One that sends its body anyway has it read and dropped, and the connection goes on.
        with socket.create_connection(("127.0.0.1", leader.http_port), timeout=5) as s:
            s.sendall(b"PUT /api/v1/key/k HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + b"v" * 100_000)
            assert_overloaded(read_answer(s), "max-writes-in-flight")
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            assert parse(read_answer(s))[0] == 200
        # Reads go on meanwhile, and so do the operator's calls.
        assert leader.request("GET", "/api/v1/status")[0] == 200
        assert leader.request("POST", "/api/v1/snapshot")[0] == 200
        with leader.client() as c:
            assert c.status().role == rc.wire.kv_pb2.ROLE_LEADER
        # The binary protocol: UNAVAILABLE with the same advice and limit.
        with leader.client() as c:
            with pytest.raises(rc.RPCError) as refused:
                c.set(b"k", b"v")
        assert refused.value.status == rc.wire.wire_pb2.STATUS_CODE_UNAVAILABLE, refused.value
        assert refused.value.detail.limit == "max-writes-in-flight" and refused.value.detail.retry_after_ms >= 50
        # /metrics shows what is held, and the refusals by limit.
        metrics = leader.request("GET", "/metrics")[1].decode()
        assert float(re.search(r"^raft_cache_writes_in_flight (\S+)$", metrics, re.M).group(1)) == 2, metrics
        assert float(re.search(r"^raft_cache_request_bytes_in_flight (\S+)$", metrics, re.M).group(1)) == 20
        refused = re.search(r'^raft_cache_admission_refusals_total\{limit="max-writes-in-flight"\} (\S+)$', metrics, re.M)
        assert refused and float(refused.group(1)) >= 4, metrics
        # A follower forwards to the leader, and passes its refusal on.
        status, body, headers = follower.request("PUT", "/api/v1/key/k", b"v")
        assert status == 503 and json.loads(body)["limit"] == "max-writes-in-flight" and "Retry-After" in headers, body
        # The held writes finish; their shares are given back.
        for s in (held, other):
            s.sendall(b"y" * 9)
            assert parse(read_answer(s))[0] == 200
            s.close()
        assert leader.request("GET", "/api/v1/key/held")[1] == b"x" + b"y" * 9 + b"\n"
        eventually("writes admitted again", lambda: leader.request("PUT", "/api/v1/key/k", b"v")[0] == 200)
        # A binary write gives its share back once answered: more in a row than the bound holds.
        with leader.client() as c:
            for i in range(5):
                c.set(b"k", b"b%d" % i)

        # Bytes: a body of 1 MiB on its way holds the whole bound (and one of the two writes),
        # so a write of 10 bytes is refused; a chunked body takes its share as it grows.
        held = half_sent_write(leader, "big", MIB)
        eventually("the held bytes counted", lambda: assert_overloaded(
            raw(follower, b"PUT /api/v1/key/k HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789"),
            "max-bytes-in-flight"))
        held.close()  # Given back when the connection goes, though never answered.
        eventually("writes admitted again", lambda: leader.request("PUT", "/api/v1/key/k", b"v")[0] == 200)
        chunk = b"c" * 600_000
        with socket.create_connection(("127.0.0.1", leader.http_port), timeout=5) as s:
            s.sendall(b"PUT /api/v1/key/chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
            s.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            # The node reads each connection a part per turn: the second body must find the
            # first one's share taken, not race it.
            eventually("the first chunked body counted", lambda: float(re.search(
                r"^raft_cache_request_bytes_in_flight (\S+)$", leader.request("GET", "/metrics")[1].decode(), re.M).group(1)) >= len(chunk))
            with socket.create_connection(("127.0.0.1", leader.http_port), timeout=5) as other:
                other.sendall(b"PUT /api/v1/key/chunked2 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
                other.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                assert_overloaded(read_answer(other), "max-bytes-in-flight")
            s.sendall(b"0\r\n\r\n")
            assert parse(read_answer(s))[0] == 200


def test_slow_readers_are_closed_and_their_answers_bounded():
    # Values larger than the kernel's socket buffers (4 MiB at most here): most of each answer
    # to a reader that does not read waits in the node.
    args = ["--write-timeout=1s", "--max-answer-bytes=1MiB", "--max-value-size=8388608"]
    for nodes in cluster_with("slow-readers", args):
        leader = leader_of(nodes)
        size = 6 * MIB
        assert leader.request("PUT", "/api/v1/key/big", b"b" * size)[0] == 200
        # Readers that ask and never read: what the kernel does not take waits in the node.
        readers = []
        for _ in range(4):
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.connect(("127.0.0.1", leader.http_port))
            s.sendall(b"GET /api/v1/key/big HTTP/1.1\r\nHost: x\r\n\r\n")
            readers.append(s)

        def refused_for_answers():
            answer = raw(leader, b"GET /api/v1/key/big HTTP/1.1\r\nHost: x\r\n\r\n")
            return parse(answer)[0] == 503 and assert_overloaded(answer, "max-answer-bytes")
        eventually("reads refused while answers wait", refused_for_answers, timeout=3)
        # Readers that asked together are held to the bound as their answers are queued: past it
        # by one answer at most, however many were admitted before any answer was ready.
        metrics = leader.request("GET", "/metrics")[1].decode()
        waiting = float(re.search(r"^raft_cache_answer_bytes_waiting (\S+)$", metrics, re.M).group(1))
        assert waiting <= size + 4096, waiting
        # Writes and the status are not held up by readers.
        assert leader.request("PUT", "/api/v1/key/w", b"w")[0] == 200
        # The readers read slowly (4 KiB each every 50 ms) for three times --write-timeout, then
        # as fast as they can: one whose answer was not taken in time was closed before it had
        # it all (what the kernel had taken still arrives first); the others were refused (their
        # answers would have passed the bound).
        got = {s: b"" for s in readers}
        slow_until = time.monotonic() + 3
        while time.monotonic() < slow_until:
            for s in readers:
                s.settimeout(0.05)
                try:
                    got[s] += s.recv(4096)
                except (TimeoutError, ConnectionResetError):
                    pass
            time.sleep(0.05)
        closed = 0
        for s in readers:
            s.settimeout(10)
            while not (got[s].startswith(b"HTTP/1.1 503") and got[s].endswith(b"}")):
                try:
                    part = s.recv(65536)
                except ConnectionResetError:
                    part = b""
                if not part:
                    assert got[s].startswith(b"HTTP/1.1 200") and len(got[s]) < size, got[s][:100]
                    closed += 1
                    break
                got[s] += part
            s.close()
        assert closed >= 1, [len(g) for g in got.values()]
        eventually("reads answered again", lambda: leader.request("GET", "/api/v1/key/big")[0] == 200)


def test_oversized_and_malformed_requests_get_json_errors():
    for nodes in cluster_with("heads", ["--max-header-size=16384"]):
        one = nodes[0]
        status, _, body = parse(raw(one, b"GET /api/v1/key/" + b"u" * 20_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", True))
        assert status == 414 and body["limit"] == "max-header-size" and "--max-header-size" in body["message"], body
        status, _, body = parse(raw(one, b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"h" * 20_000 + b"\r\n\r\n", True))
        assert status == 431 and body["limit"] == "max-header-size", body
        status, _, body = parse(raw(one, b"GET /health HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n", True))
        assert status == 400 and body["message"].startswith("malformed HTTP request"), body
        # Within the limit all is well, on the same port.
        assert one.request("GET", "/api/v1/key/" + "u" * 10_000)[0] == 404
        # A key past --max-key-size on the binary protocol names the limit too.
        with one.client() as c:
            with pytest.raises(rc.RPCError) as refused:
                c.set(b"k" * 20_000, b"v")
        assert refused.value.status == rc.wire.wire_pb2.STATUS_CODE_RESOURCE_EXHAUSTED
        assert refused.value.detail.limit == "max-key-size"


def split_answers(data):
    """The raw HTTP answers in `data`, in order."""
    answers = []
    while data:
        head, _, rest = data.partition(b"\r\n\r\n")
        length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")), 0)
        answers.append(head + b"\r\n\r\n" + rest[:length])
        data = rest[length:]
    return answers


def test_pipelined_requests_are_answered_in_request_order():
    """Pipelined requests are carried out one after the other, each once the one before it is
    answered: the last, a linearizable read, sees the write sent just before it. 81 requests in
    one send are more than a connection reads ahead of its answers (16): reading pauses and
    goes on, and every request is answered, in request order."""
    for nodes in cluster_with("pipelined", []):
        leader = leader_of(nodes)
        requests = b""
        for i in range(40):
            requests += f"PUT /api/v1/key/p{i} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(str(i))}\r\n\r\n{i}".encode()
            requests += f"GET /api/v1/key/p{i}?consistency=stale HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        requests += b"GET /api/v1/key/p39 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        answers = split_answers(raw(leader, requests, read_until_close=True, timeout=20))
        assert len(answers) == 81, answers[-3:]
        indexes = []
        for i in range(40):
            status, _, body = parse(answers[2 * i])
            assert status == 200 and set(body) == {"index"}, (i, answers[2 * i])
            indexes.append(body["index"])
            status, _, body = parse(answers[2 * i + 1])
            value = answers[2 * i + 1].partition(b"\r\n\r\n")[2]
            assert (status, value) == (200, f"{i}\n".encode()) or (status == 404 and "message" in body), (i, answers[2 * i + 1])
        assert indexes == sorted(indexes) and len(set(indexes)) == 40, indexes
        assert answers[80].endswith(b"\r\n\r\n39\n"), answers[80]


@pytest.mark.skipif(not LONG, reason="full size only (RAFT_CACHE_LONG=1): small reads do not hold a loop long enough to tell")
def test_a_burst_of_large_reads_does_not_hold_up_other_requests():
    """400 reads of a 1 MiB value asked at once are confirmed together (stale ones are read in
    the same turns of the loop); answered together they held the leader's loop while 400 MiB
    was copied (small writes beside them took 110 to 670 ms, and 150 to 995 beside stale
    reads). Handed out a slice at a time, with the loop polling in between, they take
    milliseconds."""
    for nodes in cluster_with("read-burst", ["--max-value-size=1048576", "--max-answer-bytes=64MiB"]):
        leader = leader_of(nodes)
        for consistency in ["linearizable", "stale", "linearizable", "stale"]:
            burst = overload.read_burst("127.0.0.1", leader.http_port, 400, MIB, consistency)
            probe = burst["probe_ms"]
            print(f"\n{consistency} read burst: {burst['reader_statuses']}, {overload.latency_summary('probe', probe)}")
            # Every read was answered (not refused), and no small write waited for them.
            assert burst["reader_statuses"] == {"200": 400}, burst["reader_statuses"]
            assert len(probe) > 100 and max(probe) < 100, sorted(probe)[-5:]


def rss_bound(live, flags):
    """What a node may hold: the live set, twice the log the snapshots may fall behind by (the
    entries, and the values a snapshot being written keeps), the watch history, requests in
    flight four times (the body, the command, the entry, the AppendEntries on their way),
    the answers waiting, and 64 MiB for the process itself."""
    log = 4 * flags["snapshot-mib"] * MIB
    return live + 2 * log + flags["watch-history"] + 4 * flags["max-bytes-in-flight"] + flags["max-answer-bytes"] + 64 * MIB


def test_a_flood_of_writers_is_refused_fast_and_memory_stays_bounded():
    writers, value_size, seconds, baseline_writers = (400, MIB, 20, 16) if LONG else (40, 64 << 10, 4, 4)
    flags = {"snapshot-mib": 64 if LONG else 8, "watch-history": 64 * MIB if LONG else 8 * MIB,
             "max-bytes-in-flight": 64 * MIB if LONG else 2 * MIB, "max-answer-bytes": 64 * MIB if LONG else 2 * MIB}
    args = [f"--max-value-size={value_size}", f"--snapshot-mib={flags['snapshot-mib']}",
            f"--watch-history={flags['watch-history'] // MIB}MiB", f"--max-bytes-in-flight={flags['max-bytes-in-flight'] // MIB}MiB",
            f"--max-answer-bytes={flags['max-answer-bytes'] // MIB}MiB"]
    for nodes in cluster_with("overload", args):
        leader = leader_of(nodes)
        term = leader.status().term
        host, pids = "127.0.0.1", [node.process.pid for node in nodes]
        live = writers * (value_size + 64)
        rounds = []
        for _ in range(2 if LONG else 1):
            # The same keys written by a few writers, then flooded by all of them.
            calm = overload.flood(host, leader.http_port, baseline_writers, value_size, seconds, pids, keys=writers)
            flood = overload.flood(host, leader.http_port, writers, value_size, seconds, pids)
            rounds.append((calm, flood))
            print(f"\ncalm ({baseline_writers} writers): {json.dumps(calm)}\nflood ({writers} writers): {json.dumps(flood)}")
        crowded = None
        if LONG:
            crowded = overload.flood(host, leader.http_port, writers, value_size, seconds, pids, idle=4_000,
                                     idle_ports=[leader.http_port, leader.port], slow_readers=400)
            print(f"flood beside 4,000 idle clients and 400 slow readers: {json.dumps(crowded)}")
        bound = rss_bound(live, flags)
        for report in [r for pair in rounds for r in pair] + ([crowded] if crowded else []):
            assert set(report["statuses"]) <= {"200", "503"} or report["timeouts_504_share"] < 0.02, report
            assert report["refusals_without_retry_after"] == 0, report
            assert set(report["refusal_limits"]) <= {"max-bytes-in-flight", "max-writes-in-flight", "snapshot-mib"}, report
            assert report["statuses"].get("200", 0) > 0, report
            for pid, peak in report["peak_rss"].items():
                assert peak < bound, (pid, peak, bound, report)
        if LONG:
            for report in [flood for _, flood in rounds] + [crowded]:
                # Timed from the request's head handed to the socket to the answer's first byte
                # read. Three nodes and the load generator share this machine's two cores, so the
                # tail carries their scheduling: p90 17-76 ms and p99 27-146 ms in most runs, but
                # 232 and 441 ms beside the crowd in one CI run (its accepted writes' p50 and p99:
                # 621 and 1,200 ms). A refusal that waited for the cluster would take as long as
                # an accepted write, so the tail is held under half of theirs in the same round.
                assert report["refusals"] > 0 and report["refusal_p50_ms"] < 25, report
                assert report["refusal_p90_ms"] < report["accepted_p50_ms"] / 2, report
                assert report["refusal_p99_ms"] < report["accepted_p99_ms"] / 2, report
                assert report["timeouts_504_share"] < 0.02, report
            # The same machine, the same run: within its noise of the calm rate, or above it. Over
            # both rounds: one 20 s round's rate varies by 15% or so (disk and scheduling).
            calm_rate = sum(calm["accepted_mib_per_s"] for calm, _ in rounds) / len(rounds)
            flood_rate = sum(flood["accepted_mib_per_s"] for _, flood in rounds) / len(rounds)
            assert flood_rate >= 0.85 * calm_rate, (flood_rate, calm_rate)
            assert crowded["answers_read_whole"] + crowded["closed_by_node"] > 0 and crowded["idle_open_after"] > 0, crowded
            print(f"peak RSS bound {bound >> 20} MiB; peaks: "
                  f"{max(p for r in [f for _, f in rounds] + [crowded] for p in r['peak_rss'].values()) >> 20} MiB")
        # The leader stayed the leader through it all.
        assert leader.status().term == term and leader_of(nodes) is leader
