"""tools/wire-dump end to end: captures of a live 3-node cluster taken with tcpdump (pcap, and
the same packets as pcapng), hand-built captures that stress TCP reassembly and link types,
the live proxy in front of a node, and garbage or truncated input. The binaries are
RAFT_CACHE_BIN / WIRE_DUMP_BIN or .build/debug/{raft-cache,wire-dump}; tcpdump comes from
tools/setup (these tests need it and root, as CI has; the nodes and the proxy still run
unprivileged, see unprivileged.py)."""

import contextlib
import json
import os
import random
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import raftcache_client as rc  # noqa: E402
import unprivileged  # noqa: E402
import vectors  # noqa: E402

from raftcache_cluster import (BINARY, WIRE_DUMP_BINARY, Node, WireDumpProxy, eventually,  # noqa: E402
                               founder_and_joiners, leader_of, running)

pytestmark = pytest.mark.skipif(
    not (os.path.exists(BINARY) and os.path.exists(WIRE_DUMP_BINARY)), reason="raft-cache or wire-dump is not built")


def dump(*args, stdin=None):
    """Runs wire-dump; returns (exit status, stdout lines, stderr)."""
    done = subprocess.run([WIRE_DUMP_BINARY, *args], input=stdin, capture_output=True, timeout=120)
    return done.returncode, done.stdout.decode().splitlines(), done.stderr.decode()


def dump_json(*args, stdin=None):
    code, lines, err = dump(*args, "--json", stdin=stdin)
    assert code == 0, err
    return [json.loads(line) for line in lines]


def frames_of(records):
    return [r for r in records if r["kind"] in ("request", "response", "cancel")]


# --- Captures written by hand: pcap and pcapng, several link types ---------------------------

def tcp_segment(src, dst, sport, dport, seq, payload=b"", flags=0x18):
    header = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, 5 << 4, flags, 65535, 0, 0)
    return header + payload


def ipv4(src, dst, segment):
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(segment), 0, 0x4000, 64, 6, 0,
                         bytes(map(int, src.split("."))), bytes(map(int, dst.split("."))))
    return header + segment


def ipv6(src, dst, segment):
    return struct.pack("!IHBB16s16s", 6 << 28, len(segment), 6, 64, src, dst) + segment


def ethernet(packet, v6=False):
    return b"\x00" * 12 + (b"\x86\xdd" if v6 else b"\x08\x00") + packet


def sll(packet, v6=False):
    return struct.pack("!HHH8sH", 0, 772, 0, b"\x00" * 8, 0x86DD if v6 else 0x0800) + packet


def sll2(packet, v6=False):
    return struct.pack("!HHIHBB8s", 0x86DD if v6 else 0x0800, 0, 1, 772, 0, 0, b"\x00" * 8) + packet


def bsd_loopback(packet, v6=False):
    return struct.pack("<I", 30 if v6 else 2) + packet


def pcap_bytes(packets, linktype):
    out = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, linktype)
    for ts, data in packets:
        out += struct.pack("<IIII", int(ts), int(round((ts % 1) * 1e6)), len(data), len(data)) + data
    return out


def pcap_to_pcapng(data):
    """The packets of a microsecond pcap as pcapng: a section header, one interface, and an
    Enhanced Packet Block per packet."""
    magic, = struct.unpack("<I", data[:4])
    assert magic == 0xA1B2C3D4, "a little-endian microsecond pcap"
    linktype = struct.unpack("<I", data[20:24])[0] & 0xFFFF

    def block(kind, body):
        body += b"\x00" * (-len(body) % 4)
        return struct.pack("<II", kind, len(body) + 12) + body + struct.pack("<I", len(body) + 12)

    out = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    out += block(1, struct.pack("<HHI", linktype, 0, 262144))
    offset = 24
    while offset + 16 <= len(data):
        seconds, micros, captured, original = struct.unpack("<IIII", data[offset:offset + 16])
        packet = data[offset + 16:offset + 16 + captured]
        stamp = seconds * 1_000_000 + micros
        out += block(6, struct.pack("<IIIII", 0, stamp >> 32, stamp & 0xFFFFFFFF, captured, original) + packet)
        offset += 16 + captured
    return out


def vector_frames():
    return [(name, vectors.read_hex(name)) for name in vectors.names()]


def split(data, sizes):
    pieces, at = [], 0
    for size in sizes:
        pieces.append(data[at:at + size])
        at += size
    if at < len(data):
        pieces.append(data[at:])
    return [p for p in pieces if p]


class Conversation:
    """The packets of TCP connections, built in the order a test chooses."""

    def __init__(self, link, v6=False):
        self.link, self.v6, self.packets, self.time = link, v6, [], 1_700_000_000.0

    def address(self, host):
        return (b"\x00" * 15 + bytes([host])) if self.v6 else f"10.0.0.{host}"

    def send(self, src, dst, seq, payload=b"", flags=0x18):
        (shost, sport), (dhost, dport) = src, dst
        segment = tcp_segment(None, None, sport, dport, seq, payload, flags)
        ip = ipv6 if self.v6 else ipv4
        self.time += 0.001
        self.packets.append((self.time, self.link(ip(self.address(shost), self.address(dhost), segment), self.v6)))


def request_response_bytes():
    """Requests (client to server) and responses (server to client) of the vectors, in order."""
    requests, responses = b"", b""
    for name, frame in vector_frames():
        if vectors.load(name)["envelope"]["kind"] == "FRAME_KIND_RESPONSE":
            responses += frame
        else:
            requests += frame
    return requests, responses


def messy_capture(link, v6=False, linktype=1):
    """Two connections at once: one with segments out of order and retransmitted, one in order."""
    requests, responses = request_response_bytes()
    talk = Conversation(link, v6)
    client, server, other = (1, 40000), (2, 8081), (3, 40001)
    talk.send(client, server, 999, flags=0x02)
    talk.send(other, server, 4999, flags=0x02)
    pieces = split(requests, [3, 50, 7, 100, 1, 200])
    seq, offsets = 1000, []
    for piece in pieces:
        offsets.append((seq, piece))
        seq += len(piece)
    order = [0, 2, 1, 3, 3, 5, 4] + list(range(6, len(offsets)))  # swapped pairs and one repeat
    for index in order:
        talk.send(client, server, *offsets[index])
    # A retransmission overlapping data already delivered.
    start, piece = offsets[1]
    talk.send(client, server, start - 2, offsets[0][1][-2:] + piece)
    talk.send(other, server, 5000, requests)
    talk.send(server, client, 7000, responses[:30])
    talk.send(server, client, 7030, responses[30:])
    return pcap_bytes(talk.packets, linktype), requests, responses


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


@pytest.mark.parametrize("link,v6,linktype", [
    (ethernet, False, 1), (ethernet, True, 1), (sll, True, 113), (sll2, False, 276), (bsd_loopback, True, 0),
    (bsd_loopback, False, 0)])
def test_reassembles_out_of_order_and_retransmitted_segments(tmp_path, link, v6, linktype):
    capture, requests, responses = messy_capture(link, v6, linktype)
    for data, name in ((capture, "messy.pcap"), (pcap_to_pcapng(capture), "messy.pcapng")):
        records = dump_json("--pcap", write(tmp_path, name, data))
        assert [r for r in records if r["kind"] == "problem"] == []
        frames = frames_of(records)
        by_conn = {}
        for frame in frames:
            by_conn.setdefault(frame["conn"], []).append(frame)
        assert len(by_conn) == 2
        for conn, items in by_conn.items():
            requests_seen = [f["call_id"] for f in items if f["kind"] == "request"]
            assert requests_seen == [1, 7, 300, 2, 3, 9, 8, 5, 6, 10, 11, 12, 14, 15, 16], (conn, requests_seen)
        responses_seen = [(f["call_id"], f["method"]) for f in frames if f["kind"] == "response"]
        assert (7, "/raftcache.Raft/AppendEntries") in responses_seen
        assert (2, "/raftcache.KV/Set") in responses_seen
        # A stream's responses before its last (vector 23) are not its answer: no latency.
        assert all(f["latency_ms"] >= 0 for f in frames if f["kind"] == "response" and f["method"] and not f.get("more"))
        assert any(f.get("more") for f in frames) and any(f["kind"] == "cancel" for f in frames)
        entries = next(f for f in frames if f["call_id"] == 7 and f["kind"] == "request")["message"]["entries"]
        assert entries["count"] == 2 and entries["first_index"] == 11 and entries["last_index"] == 12
        assert entries["items"][0]["op"] == "set" and entries["items"][0]["key"] == "hello"


def test_filters(tmp_path):
    capture, _, _ = messy_capture(ethernet)
    path = write(tmp_path, "f.pcap", capture)
    only_votes = frames_of(dump_json("--pcap", path, "--method", "RequestVote"))
    assert {f["method"] for f in only_votes} == {"/raftcache.Raft/RequestVote"}
    assert {f["kind"] for f in only_votes} == {"request", "response"}
    no_heartbeats = frames_of(dump_json("--pcap", path, "--no-heartbeats"))
    assert 8 not in [f["call_id"] for f in no_heartbeats]
    assert 7 in [f["call_id"] for f in no_heartbeats]
    one_call = frames_of(dump_json("--pcap", path, "--call-id", "300"))
    assert {f["call_id"] for f in one_call} == {300} and len(one_call) == 3
    one_node = frames_of(dump_json("--pcap", path, "--node", "10.0.0.3:40001"))
    assert {f["conn"] for f in one_node} == {2}
    assert frames_of(dump_json("--pcap", path, "--port", "9999")) == []
    code, lines, _ = dump("--pcap", path, "--summary")
    assert code == 0 and "/raftcache.Raft/AppendEntries" in "\n".join(lines)
    summary = dump_json("--pcap", path, "--summary")[-1]["summary"]
    sets = next(m for m in summary["methods"] if m["method"] == "/raftcache.KV/Set")
    # Three Set calls a connection (vectors 07, 16 and 19); the answers to one connection's (08, 17).
    assert sets["requests"] == 6 and sets["responses"] == 2 and sets["failed"] == 1 and "p50_ms" in sets


# --- Bad input ----------------------------------------------------------------------------

def test_random_bytes_are_reported_not_fatal():
    rng = random.Random(7)
    for _ in range(20):
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 4000)))
        code, lines, err = dump("--raw", "-", "--json", stdin=data)
        assert code == 0 and err == "", err
        records = [json.loads(line) for line in lines]
        assert records and {r["kind"] for r in records} <= {"request", "response", "problem", "note"}
        # Random bytes are never all whole frames with nothing left over.
        assert any(r["kind"] == "problem" for r in records)


def test_bad_length_prefix_and_bad_envelope(tmp_path):
    good = b"".join(frame for _, frame in vector_frames()[:2])
    records = dump_json("--raw", "-", stdin=good + b"\xff\xff\xff\xf0" + b"x" * 100)
    assert [r["call_id"] for r in frames_of(records)] == [1, 1]
    problem = next(r for r in records if r["kind"] == "problem")
    assert problem["offset"] == len(good) and "over the limit" in problem["reason"]
    assert problem["bytes"].startswith("fffffff0")
    records = dump_json("--raw", "-", stdin=good + b"\x00\x00\x00\x03\xff\xff\xff" + good)
    assert len(frames_of(records)) == 2
    assert "not an Envelope" in next(r for r in records if r["kind"] == "problem")["reason"]
    # A frame over --max-frame is reported without waiting for its body.
    records = dump_json("--raw", "-", "--max-frame", "100", stdin=b"\x00\x10\x00\x00" + b"\x00" * 50)
    assert "over the limit of 100" in records[0]["reason"]


def test_truncated_and_unreadable_captures(tmp_path):
    capture, _, _ = messy_capture(ethernet)
    cut = write(tmp_path, "cut.pcap", capture[:len(capture) - 20])
    records = dump_json("--pcap", cut)
    assert any(r["kind"] == "note" and "truncated" in r["note"] for r in records)
    assert len(frames_of(records)) > 5
    ng = pcap_to_pcapng(capture)
    records = dump_json("--pcap", write(tmp_path, "cut.pcapng", ng[:len(ng) - 30]))
    assert any(r["kind"] == "note" and "truncated" in r["note"] for r in records)
    code, _, err = dump("--pcap", write(tmp_path, "junk.pcap", b"not a capture at all"))
    assert code == 1 and "not a pcap" in err
    code, _, err = dump("--pcap", str(tmp_path / "missing.pcap"))
    assert code == 1 and "cannot open" in err
    code, _, _ = dump("--raw", "-", "--pcap", cut)
    assert code == 64


# --- A live cluster captured by tcpdump -----------------------------------------------------

# What tcpdump said when it stopped, per capture.
capture_stats = []


@contextlib.contextmanager
def tcpdump(path, ports):
    assert shutil.which("tcpdump"), "tcpdump is missing: run tools/setup"
    expression = " or ".join(f"port {p}" for p in ports)
    # A 32 MiB buffer: on two busy cores tcpdump may not be scheduled for a while.
    process = subprocess.Popen(["tcpdump", "-i", "lo", "-U", "--immediate-mode", "-B", "32768", "-s", "0", "-w", path,
                                f"tcp and ({expression})"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        line = process.stderr.readline().decode()
        assert "listening on" in line, line + process.stderr.read().decode()
        yield
    finally:
        time.sleep(0.3)
        process.send_signal(signal.SIGINT)
        process.wait(timeout=10)
        # Its counts (captured, dropped by the kernel) explain a frame missing from the capture.
        capture_stats.append(process.stderr.read().decode().strip().replace("\n", "; "))


def test_capture_of_a_live_cluster(tmp_path):
    workdir = tempfile.mkdtemp(prefix="raft-cache-wire-dump-")
    nodes = founder_and_joiners(workdir)
    pcap = str(tmp_path / "cluster.pcap")
    keys = [f"wd-key-{i}".encode() for i in range(5)]
    with tcpdump(pcap, [n.port for n in nodes]):
        with contextlib.contextmanager(running)(workdir, nodes):
            leader = eventually("a leader", lambda: leader_of(nodes))
            with leader.client() as c:
                for key in keys[:3]:
                    assert c.set(key, b"v-" + key) > 0
            # A leadership transfer makes the target ask for votes.
            code, body, _ = leader.request("POST", "/api/v1/leader/transfer")
            assert code == 200, body
            new_leader = eventually("a new leader", lambda: (lambda n: n if n and n is not leader else None)(leader_of(nodes)))
            with new_leader.client() as c:
                for key in keys[3:]:
                    assert c.set(key, b"v-" + key) > 0
            time.sleep(0.5)
    records = dump_json("--pcap", pcap)
    frames = frames_of(records)
    methods = {(f["kind"], f["method"].rsplit("/", 1)[-1]) for f in frames}
    for kind in ("request", "response"):
        for method in ("RequestVote", "AppendEntries", "Set"):
            assert (kind, method) in methods, (kind, method)
    with_entries = [f for f in frames if f["kind"] == "request" and f["method"].endswith("AppendEntries")
                    and f["message"]["entries"]["count"] > 0]
    replicated = {item.get("key") for f in with_entries for item in f["message"]["entries"]["items"]}
    assert {k.decode() for k in keys} <= replicated
    set_keys = {f["message"]["key"] for f in frames if f["kind"] == "request" and f["method"].endswith("KV/Set")}
    assert {k.decode() for k in keys} <= set_keys, capture_stats[-1:]
    set_responses = [f for f in frames if f["kind"] == "response" and f["method"].endswith("KV/Set")]
    assert len(set_responses) >= len(keys) and all("latency_ms" in f for f in set_responses)
    votes = [f for f in frames if f["kind"] == "response" and f["method"].endswith("RequestVote")]
    assert any(f["message"]["granted"] for f in votes)
    assert [r for r in records if r["kind"] == "problem" and r["offset"] == 0] == []

    # The same packets as pcapng decode to the same frames.
    with open(pcap, "rb") as f:
        ng = write(tmp_path, "cluster.pcapng", pcap_to_pcapng(f.read()))
    again = frames_of(dump_json("--pcap", ng))
    assert [(f["conn"], f["kind"], f["call_id"], f["method"]) for f in again] == \
        [(f["conn"], f["kind"], f["call_id"], f["method"]) for f in frames]

    code, lines, err = dump("--pcap", pcap, "--no-heartbeats")
    assert code == 0, err
    print("\n".join(lines[:40]))


# --- The live proxy -------------------------------------------------------------------------

def operations(client):
    results = [client.set(b"p-a", b"1") > 0, client.set(b"p-b", b"2") > 0, client.get(b"p-a"), client.get(b"nope")]
    results.append(client.delete(b"p-b") > 0)
    results.append(client.get(b"p-b"))
    status = client.status()
    results.append((status.node_id, status.role))
    return results


def test_proxy_relays_unchanged_and_prints_every_call():
    workdir = tempfile.mkdtemp(prefix="raft-cache-wire-dump-proxy-")
    node = Node(workdir, "node-1")
    try:
        node.start()
        eventually("node-1 to lead", lambda: node.status().role == rc.wire.kv_pb2.ROLE_LEADER)
        proxy = WireDumpProxy(node.addr)
        try:
            first = proxy.first_record()
            assert first["kind"] == "note" and "listening" in first["note"]
            if os.geteuid() == 0:
                assert 0 not in unprivileged.process_uids(proxy.process.pid)
            with node.client() as direct:
                expected = operations(direct)
            with rc.Client(proxy.addr) as through:
                got = operations(through)
            assert got == expected
        finally:
            out, err = proxy.stop()
        assert proxy.process.returncode == 0, err
        records = [json.loads(line) for line in out.splitlines()]
        frames = frames_of(records)
        calls = sorted({f["call_id"] for f in frames})
        assert calls == list(range(1, 8))
        for call_id in calls:
            kinds = sorted(f["kind"] for f in frames if f["call_id"] == call_id)
            assert kinds == ["request", "response"], call_id
        statuses = [f["status"] for f in frames if f["kind"] == "response"]
        assert statuses.count("NOT_FOUND") == 2
        assert all("latency_ms" in f for f in frames if f["kind"] == "response")
    finally:
        node.stop()
        shutil.rmtree(workdir, ignore_errors=True)
