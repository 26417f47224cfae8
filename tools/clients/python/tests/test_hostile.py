"""A hostile process on the network of a live three-node cluster.

Every test starts from (or reuses) a real three-node cluster holding acknowledged writes,
then plays a process that speaks the binary protocol but not in good faith: frames are built
by hand (4-byte big-endian length + an Envelope), and for every method of the Raft service
(RequestVote, AppendEntries, InstallSnapshot, TimeoutNow, ReadIndex, AddVoter, RemoveServer,
TransferLeadership) and of the KV service, every field of the request - nested ones included
(Entry.term/index/type/data, SnapshotMetadata and its Configuration's Servers) - is set in
turn to hostile values, generically from the message descriptors so a field added to the
protos is covered too:

- numbers: 0, 1, 2^63-1, 2^63, 2^64-1, and undecodable forms (an overlong varint, the
  wrong wire type);
- enums and bools: numbers out of their range, negative ones, non-canonical bools;
- strings: empty, 64 KiB, a made-up id, the ids of the real members, a member id with a NUL
  after it (protobuf-c strings end at a NUL), invalid UTF-8;
- bytes: empty, garbage, 64 KiB; sub-messages: empty, garbage, a length past the end.

Each such request goes to EACH node, pipelined on one connection per node (a new one after a
close; requests left unanswered by a close are sent again one by one). Envelopes and framing get the same treatment: hostile call ids, kinds, methods,
deadlines, hops and unknown fields, garbage payloads for every method, truncated frames, a
zero-length frame, frame lengths of 16 MiB + 1 and 0xFFFFFFFF, garbage envelopes and byte
streams, a frame sent a byte at a time and 5000 frames at once. A last family comes from
a stranger: AppendEntries, InstallSnapshot (a forged snapshot naming the stranger the sole
member), RequestVote, TimeoutNow and ReadIndex claiming an id that is not a member, at the
current term + 1 and at 2^62.

Any answer is acceptable (any status, or a closed connection). What the tests prove is that
none of it hurts the cluster: after every group of requests (one field of one method) every
node process is alive, and the target's status shows no term, log index or commit index of
2^32 or more, the original three voters and nobody else, and no fewer keys than were
acknowledged before. After each family the cluster must have a leader, the three original
voters on every node, accept new writes through every node and read them back from every
node, and hold every acknowledged write (those made before the barrage and the hostile KV
writes that were answered OK) with its value on every node.

Requests a well-meaning peer could send are left out, because without authentication they
cannot be told from the real thing: a log extension that matches the target's log at the
current term, and membership changes with well-formed made-up or real ids and addresses
(authentication will refuse all of those outright). What is sent is malformed, out of range,
or from a stranger - what input validation must refuse.

A failure names the family, the group (method, base request, field) and its values, what
broke (a dead node and the reason from its log - a Swift trap's message and the first frames
of the crashed thread, or the node's own critical line - or the bad status), and then, from a
replay of the group one request at a time on a fresh cluster, the single requests that break
it (the first three). A problem first seen before a group is sent is blamed on the group sent before it.
RAFT_CACHE_HOSTILE_SURVEY=1 carries on after a finding instead of failing at once: it lists
every request of the group that breaks a fresh cluster, goes on with a fresh cluster, and fails
each family at its end with everything it found."""

import os
import random
import select
import socket
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field

import pytest
from google.protobuf.descriptor import FieldDescriptor as FD

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import raftcache_client as rc  # noqa: E402

from raftcache_cluster import BINARY, eventually, founder_and_joiners, leader_of, running  # noqa: E402

pytestmark = pytest.mark.skipif(not os.path.exists(BINARY), reason=f"{BINARY} is not built")

wire = rc.wire
raft_pb2, kv_pb2, wire_pb2 = wire.raft_pb2, wire.kv_pb2, wire.wire_pb2

SURVEY = os.environ.get("RAFT_CACHE_HOSTILE_SURVEY") == "1"
SANE = 1 << 32  # No term or index a few minutes of a test can reach honestly.
U64 = [(0, "0"), (1, "1"), ((1 << 63) - 1, "2^63-1"), (1 << 63, "2^63"), ((1 << 64) - 1, "2^64-1")]
KIB64 = 64 * 1024
MADE_UP = "mallory"
ANSWER_WAIT = 5.0  # Seconds to wait for the marker (or the answers) after a group.
RAFT = "/raftcache.Raft/"
KV = "/raftcache.KV/"
STATUS = KV + "Status"


# ---------------------------------------------------------------------------------------
# Raw protobuf encoding: hostile values are appended as raw fields, so any number (up to
# 2^64-1 in any varint field) and any malformed form can be sent. For a scalar field the
# last occurrence wins and a repeated sub-message gets its element from the raw bytes, so
# the base message keeps every other field.

def varint(n):
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def tag(number, wire_type):
    return varint(number << 3 | wire_type)


def delimited(number, data):
    return tag(number, 2) + varint(len(data)) + data


def encode(message, parents, raw):
    """`message` encoded with `raw` appended to the sub-message reached through `parents`
    (field descriptors; a repeated one means its first element)."""
    if not parents:
        return message.SerializeToString() + raw
    parent = parents[0]
    rest = type(message)()
    rest.CopyFrom(message)
    rest.ClearField(parent.name)
    if parent.label == FD.LABEL_REPEATED:
        elements = list(getattr(message, parent.name))
        first = elements[0] if elements else wire.message_class(parent.message_type.full_name)()
        inner = delimited(parent.number, encode(first, parents[1:], raw))
        return rest.SerializeToString() + inner + b"".join(
            delimited(parent.number, e.SerializeToString()) for e in elements[1:])
    return rest.SerializeToString() + delimited(parent.number, encode(getattr(message, parent.name), parents[1:], raw))


def short(text):
    return repr(text) if len(text) <= 40 else f"{text[:20]!r}... ({len(text)} characters)"


def garbage(seed, size):
    return random.Random(seed).randbytes(size)


def hostile_values(fd, ids, seed):
    """(label, raw field bytes) for the hostile values of field `fd`."""
    n = fd.number
    numbers = []
    if fd.type in (FD.TYPE_UINT64, FD.TYPE_UINT32, FD.TYPE_INT64, FD.TYPE_INT32):
        numbers = list(U64)
        if fd.type == FD.TYPE_UINT32:
            numbers += [((1 << 32) - 1, "2^32-1"), (1 << 32, "2^32")]
    elif fd.type == FD.TYPE_BOOL:
        numbers = [(0, "false"), (1, "true"), (2, "2 (non-canonical bool)"), ((1 << 64) - 1, "2^64-1 as a bool")]
    elif fd.type == FD.TYPE_ENUM:
        top = max(v.number for v in fd.enum_type.values)
        numbers = [(top + 1, f"{top + 1} (out of range)"), (100, "100 (out of range)"), ((1 << 31) - 1, "2^31-1"),
                   (1 << 31, "2^31 (past int32)"), (1 << 32, "2^32 (past int32)"), ((1 << 64) - 1, "-1"),
                   ((1 << 64) - (1 << 31), "-2^31")]
    if numbers:
        out = [(label, tag(n, 0) + varint(v)) for v, label in numbers]
        return out + [("wrong wire type", delimited(n, b"\x01")),
                      ("overlong varint", tag(n, 0) + b"\xff" * 10 + b"\x01")]
    if fd.type == FD.TYPE_STRING:
        strings = [("empty", ""), ("64 KiB", "x" * KIB64), ("a made-up id", MADE_UP)]
        strings += [(repr(i), i) for i in ids]
        strings += [(repr(ids[-1] + "\0x"), ids[-1] + "\0x")]
        out = [(label, delimited(n, s.encode())) for label, s in strings]
        return out + [("invalid UTF-8", delimited(n, b"\xc3\x28\xa0\xa1\xff\xfe")), ("wrong wire type", tag(n, 0) + varint(5))]
    if fd.type == FD.TYPE_BYTES:
        return [("empty", delimited(n, b"")), ("1 KiB of garbage", delimited(n, garbage(seed, 1024))),
                ("64 KiB", delimited(n, garbage(seed + "/64", KIB64))), ("wrong wire type", tag(n, 0) + varint(5))]
    if fd.type == FD.TYPE_MESSAGE:
        return [("empty", delimited(n, b"")), ("garbage", delimited(n, garbage(seed, 64))),
                ("a length past the end", tag(n, 2) + varint(1 << 31)), ("wrong wire type", tag(n, 0) + varint(1))]
    raise AssertionError(f"no hostile values for {fd.full_name} of type {fd.type}")


def sweep(base, ids, parents=()):
    """(field path, value label, payload) for every field of `base`, nested ones included,
    set in turn to each hostile value, everything else as in `base`."""
    descriptor = parents[-1].message_type if parents else base.DESCRIPTOR
    for fd in descriptor.fields:
        path = ".".join(p.name + ("[0]" if p.label == FD.LABEL_REPEATED else "") for p in parents + (fd,))
        for label, raw in hostile_values(fd, ids, f"{descriptor.full_name}.{fd.name}"):
            yield path, label, encode(base, parents, raw)
        if fd.type == FD.TYPE_MESSAGE:
            yield from sweep(base, ids, parents + (fd,))


# ---------------------------------------------------------------------------------------
# Requests, groups and families.

@dataclass
class Case:
    label: str
    method: str
    payload: bytes = b""
    envelope: dict = field(default_factory=dict)  # Envelope fields other than call_id/method/payload
    raw_envelope: bytes = b""  # appended to the encoded Envelope
    stream: object = None  # Raw bytes (or chunks to send apart), sent instead of a frame on a connection of their own


@dataclass
class Group:
    """Requests sent together to each node, then checked: one field of one method."""
    name: str
    make: object  # (node, status, cluster) -> [Case]
    wait_all: bool = False  # Wait for every answer (writes whose outcome is recorded).


def sender_for(cluster, node, status):
    """A real member other than the target and, if possible, other than the leader it knows:
    a forged message from it claims a leader or candidate the target can tell is not one."""
    others = [i for i in cluster.ids if i != node.id]
    return next((i for i in others if i != status.leader_id), others[0])


def sweep_groups(method, bases):
    """Groups for a generic sweep of `method`: one per (base, top-level field)."""
    groups = []
    request_class = wire.METHODS[RAFT + method][0] if RAFT + method in wire.METHODS else wire.METHODS[KV + method][0]
    for base_name, base in bases.items():
        for fd in request_class.DESCRIPTOR.fields:
            def make(node, status, cluster, base=base, top=fd.name, base_name=base_name):
                message = base(node, status, cluster)
                return [Case(f"{method}[{base_name}] {path}={label}", (RAFT if RAFT + method in wire.METHODS else KV) + method, payload)
                        for path, label, payload in sweep(message, cluster.ids)
                        if path.split(".")[0].split("[")[0] == top]
            groups.append(Group(f"{method}[{base_name}] {fd.name}", make, wait_all=(method == "Set")))
    return groups


def request_vote_groups():
    def vote(**extra):
        def base(node, status, cluster):
            request = raft_pb2.RequestVoteRequest(term=status.term, candidate_id=sender_for(cluster, node, status),
                                                  last_log_index=0, last_log_term=0, target_id=node.id)
            for name, value in extra.items():
                setattr(request, name, value(status) if callable(value) else value)
            return request
        return base
    return sweep_groups("RequestVote", {
        "vote": vote(),
        "transfer": vote(leadership_transfer=True),
        "pre-vote": vote(pre_vote=True, term=lambda s: s.term + 1),
    })


def append_entries_groups():
    def heartbeat(node, status, cluster):
        # prev_log_index 0 is below every commit index: accepted, it can append nothing.
        return raft_pb2.AppendEntriesRequest(term=status.term, leader_id=sender_for(cluster, node, status),
                                             prev_log_index=0, prev_log_term=0, leader_commit=0, seq=1, target_id=node.id)

    def one_entry(node, status, cluster):
        request = heartbeat(node, status, cluster)
        request.entries.append(raft_pb2.Entry(term=status.term, index=1, type=raft_pb2.ENTRY_TYPE_NOOP))
        return request

    groups = sweep_groups("AppendEntries", {"heartbeat": heartbeat, "one entry": one_entry})

    def many_entries(node, status, cluster):
        request = heartbeat(node, status, cluster)
        for i in range(1, 1001):
            request.entries.append(raft_pb2.Entry(term=status.term, index=i, type=raft_pb2.ENTRY_TYPE_COMMAND,
                                                  data=garbage(i, 1000)))
        wrapped = heartbeat(node, status, cluster)
        wrapped.prev_log_index = (1 << 64) - 2
        wrapped.entries.add(term=status.term, index=(1 << 64) - 1)
        wrapped.entries.add(term=status.term, index=0)
        return [Case("AppendEntries 1000 entries of 1 KiB garbage after index 0", RAFT + "AppendEntries",
                     request.SerializeToString()),
                Case("AppendEntries entries at 2^64-1 then 0 (indices wrapping)", RAFT + "AppendEntries",
                     wrapped.SerializeToString())]
    return groups + [Group("AppendEntries many entries", many_entries)]


def install_snapshot_groups():
    def chunk(done):
        def base(node, status, cluster):
            # last_included_index 1 is below every commit index: nothing is installed.
            metadata = raft_pb2.SnapshotMetadata(
                last_included_index=1, last_included_term=1, size=16,
                configuration=raft_pb2.Configuration(servers=[
                    raft_pb2.Server(id=i, address=a, suffrage=raft_pb2.SUFFRAGE_VOTER) for i, a in cluster.members.items()]))
            return raft_pb2.InstallSnapshotRequest(term=status.term, leader_id=sender_for(cluster, node, status),
                                                   metadata=metadata, offset=0, data=garbage("chunk", 16), done=done,
                                                   seq=1, target_id=node.id)
        return base
    return sweep_groups("InstallSnapshot", {"first chunk": chunk(False), "last chunk": chunk(True)})


def timeout_now_groups():
    return sweep_groups("TimeoutNow", {"timeout-now": lambda node, status, cluster: raft_pb2.TimeoutNowRequest(
        term=status.term, leader_id=sender_for(cluster, node, status), target_id=node.id)})


def read_index_groups():
    return sweep_groups("ReadIndex", {"read-index": lambda node, status, cluster: raft_pb2.ReadIndexRequest(
        requester_id=sender_for(cluster, node, status))})


# Membership calls are sent with malformed fields only. Well-formed ones - a made-up id at a
# host:port, or a real member's id - would legitimately change the cluster in this build,
# which has no authentication yet; authentication will refuse every one of these outright.
BAD_ADDRESSES = ["", "nohostport", "127.0.0.1:", ":", "127.0.0.1:99999", "127.0.0.1:65536", "127.0.0.1:-1",
                 "127.0.0.1:0x50", "[::1", "x" * KIB64, "x" * KIB64 + ":1", "127.0.0.1:1\0"]
NOWHERE = "127.0.0.1:1"  # A well-formed address nobody listens on.


def add_voter_groups():
    def bad_id(node, status, cluster):
        cases = []
        ids = [("empty id", b""), ("64 KiB id", b"x" * KIB64), ("invalid UTF-8 id", b"\xc3\x28\xff"),
               (f"id {cluster.ids[1]!r} + NUL", (cluster.ids[1] + "\0x").encode())]
        for id_label, raw_id in ids:
            # A NUL id at a good address could be read as the member's own id; it goes with bad addresses only.
            addresses = BAD_ADDRESSES if b"\0" in raw_id else [NOWHERE] + BAD_ADDRESSES
            for address in addresses:
                for learner in (False, True):
                    payload = delimited(1, raw_id) + delimited(2, address.encode()) + (tag(3, 0) + varint(1) if learner else b"")
                    cases.append(Case(f"AddVoter {id_label} address={short(address)} learner={learner}",
                                      RAFT + "AddVoter", payload))
        return cases

    def bad_address(node, status, cluster):
        cases = []
        for address in BAD_ADDRESSES:
            for learner in (False, True):
                request = raft_pb2.AddVoterRequest(id=f"{MADE_UP}-{node.id}", address=address, learner=learner)
                cases.append(Case(f"AddVoter made-up id address={short(address)} learner={learner}",
                                  RAFT + "AddVoter", request.SerializeToString()))
        return cases

    def bad_encoding(node, status, cluster):
        base = raft_pb2.AddVoterRequest(id=MADE_UP, address="nohostport")
        # No string of the sweep has a colon, so the address stays malformed throughout.
        return [Case(f"AddVoter[bad address] {path}={label}", RAFT + "AddVoter", payload)
                for path, label, payload in sweep(base, cluster.ids)]
    return [Group("AddVoter malformed id", bad_id), Group("AddVoter malformed address", bad_address),
            Group("AddVoter malformed fields", bad_encoding)]


def remove_server_groups():
    def cases(node, status, cluster):
        ids = [("empty", b""), ("64 KiB", b"x" * KIB64), ("a made-up id", MADE_UP.encode()),
               ("invalid UTF-8", b"\xc3\x28\xff"), ("wrong wire type", None)]
        ids += [(f"{i!r} + NUL", (i + "\0x").encode()) for i in cluster.ids]
        return [Case(f"RemoveServer id={label}", RAFT + "RemoveServer",
                     delimited(1, raw) if raw is not None else tag(1, 0) + varint(7)) for label, raw in ids]
    return [Group("RemoveServer", cases)]


def transfer_leadership_groups():
    # An empty target_id asks for a transfer to any voter: a legitimate request, not sent.
    def cases(node, status, cluster):
        ids = [("64 KiB", b"x" * KIB64), ("a made-up id", MADE_UP.encode()), ("invalid UTF-8", b"\xc3\x28\xff"),
               ("wrong wire type", None)]
        ids += [(f"{i!r} + NUL", (i + "\0x").encode()) for i in cluster.ids]
        return [Case(f"TransferLeadership target_id={label}", RAFT + "TransferLeadership",
                     delimited(1, raw) if raw is not None else tag(1, 0) + varint(7)) for label, raw in ids]
    return [Group("TransferLeadership", cases)]


def kv_groups():
    # Every write has a key of its own (the sweep of `key` replaces it), so the value of each
    # acknowledged one is known.
    def keyed(message_class, **fields):
        def base(node, status, cluster):
            return message_class(**fields)
        return base

    set_groups = sweep_groups("Set", {"set": keyed(kv_pb2.SetRequest, value=b"hostile value")})
    for group in set_groups:
        make = group.make

        def unique_keys(node, status, cluster, make=make):
            return [Case(c.label, c.method, delimited(1, f"hostile/{c.label}".encode()) + c.payload) for c in make(node, status, cluster)]
        group.make = unique_keys
    groups = sweep_groups("Get", {"get": keyed(kv_pb2.GetRequest, key=b"key-0")}) + set_groups
    groups += sweep_groups("Delete", {"delete": keyed(kv_pb2.DeleteRequest, key=b"hostile/never-set")})
    groups += sweep_groups("SetTTL", {"ttl": keyed(kv_pb2.SetTTLRequest, key=b"hostile/never-set", ttl_ms=1_000)})
    # Transactions and batches touch keys of their own only (a swept key is garbage or empty).
    lock_op = kv_pb2.KeyOp(type=kv_pb2.KEY_OP_TYPE_SET, key=b"hostile/txn", value=b"v", ttl_ms=60_000)
    groups += sweep_groups("Txn", {"txn": keyed(
        kv_pb2.TxnRequest, compares=[kv_pb2.Compare(key=b"hostile/txn", target=kv_pb2.COMPARE_TARGET_MOD_INDEX, mod_index=0)],
        success=[lock_op], failure=[kv_pb2.KeyOp(type=kv_pb2.KEY_OP_TYPE_GET, key=b"hostile/txn")])})
    groups += sweep_groups("Batch", {"batch": keyed(kv_pb2.BatchRequest, ops=[
        kv_pb2.KeyOp(type=kv_pb2.KEY_OP_TYPE_DELETE, key=b"hostile/batch"), lock_op])})
    # A watch answers with a stream; its first response (or refusal) is the answer counted.
    groups += sweep_groups("Watch", {"watch": keyed(kv_pb2.WatchRequest, prefix=b"hostile/")})

    def sizes(node, status, cluster):
        return [Case(f"Set value of {n} bytes", KV + "Set", kv_pb2.SetRequest(
                    key=f"hostile/size-{n}".encode(), value=garbage(n, n)).SerializeToString())
                for n in (KIB64, KIB64 + 1, 1 << 20, 8 << 20)]
    return groups + [Group("Set value sizes", sizes, wait_all=True)]


def envelope_groups():
    """Envelopes with hostile fields around well-formed payloads, and payloads of garbage."""
    def set_payload(name):
        return kv_pb2.SetRequest(key=f"hostile/envelope-{name}".encode(), value=b"v").SerializeToString()

    def envelopes(node, status, cluster):
        cases = [Case(f"call_id={label}", STATUS, envelope={"call_id": v}) for v, label in U64]
        cases += [Case(f"kind={k}", STATUS, raw_envelope=tag(2, 0) + varint(k)) for k in (1, 2, 100, (1 << 31) - 1, (1 << 64) - 1)]
        cases += [Case(f"method={short(m)}", m) for m in
                  ["", "/", KV, RAFT, RAFT + "AppendEntries/", "/raftcache.kv/status", "x" * KIB64, STATUS + "\0x",
                   RAFT + "AppendEntries\0"]]
        cases.append(Case("method=invalid UTF-8", "", raw_envelope=delimited(3, b"/raftcache.KV/\xc3\x28")))
        for v, label in U64 + [((1 << 32) - 1, "2^32-1"), (1 << 32, "2^32")]:
            cases.append(Case(f"Set timeout_ms={label}", KV + "Set", set_payload(f"timeout-{label}"),
                              raw_envelope=tag(4, 0) + varint(v)))
            cases.append(Case(f"Set hops={label}", KV + "Set", set_payload(f"hops-{label}"), raw_envelope=tag(8, 0) + varint(v)))
            cases.append(Case(f"RemoveServer (made-up id) hops={label}", RAFT + "RemoveServer",
                              raft_pb2.RemoveServerRequest(id=MADE_UP).SerializeToString(), raw_envelope=tag(8, 0) + varint(v)))
        cases += [Case(f"status={v} in a request", STATUS, raw_envelope=tag(5, 0) + varint(v)) for v in (1, 1 << 31, (1 << 64) - 1)]
        cases.append(Case("64 KiB message in a request", STATUS, envelope={"message": "x" * KIB64}))
        cases += [Case("unknown field 9", STATUS, raw_envelope=tag(9, 0) + varint(1)),
                  Case("unknown field 100 of 64 KiB", STATUS, raw_envelope=delimited(100, b"x" * KIB64)),
                  Case("unknown field 2^29-1", STATUS, raw_envelope=tag((1 << 29) - 1, 0) + varint(1)),
                  Case("field number 0", STATUS, raw_envelope=b"\x00\x01"),
                  Case("wire type 7", STATUS, raw_envelope=b"\x0f\x01"),
                  Case("payload with a length past the end", STATUS, raw_envelope=tag(7, 2) + varint(1 << 31))]
        return cases

    def garbage_payloads(node, status, cluster):
        cases = []
        for method in sorted(wire.METHODS):
            for size in (1, 7, 100, 1000, KIB64):
                cases.append(Case(f"{method} payload of {size} bytes of garbage", method, garbage(f"{method}{size}", size)))
            # The payload of another method's request.
            cases.append(Case(f"{method} payload of a SetRequest", method, kv_pb2.SetRequest(
                key=b"hostile/wrong-method", value=b"\xff\xfe").SerializeToString()))
        return cases

    def frames(node, status, cluster):
        """Byte streams that are not a sequence of whole, valid frames, each on a connection of
        its own that the sender then half-closes."""
        status_frame = wire.request_frame(7, STATUS, kv_pb2.StatusRequest())
        header = wire.HEADER.pack
        cases = [
            Case("a zero-length frame", "", stream=header(0)),
            Case("length 0xFFFFFFFF, nothing after", "", stream=header(0xFFFFFFFF)),
            Case("length 0xFFFFFFFF and 4 KiB", "", stream=header(0xFFFFFFFF) + garbage("ffff", 4096)),
            Case("length 16 MiB + 1 and 4 KiB", "", stream=header((16 << 20) + 1) + garbage("16m+1", 4096)),
            Case("a 16 MiB frame of garbage", "", stream=header(16 << 20) + garbage("16m", 1 << 16) * 256),
            Case("length 16 MiB, 100 bytes sent", "", stream=header(16 << 20) + garbage("trunc", 100)),
            Case("2 bytes of a header", "", stream=b"\x00\x00"),
            Case("3 bytes of a header", "", stream=b"\x00\x00\x01"),
            Case("a Status frame cut in half", "", stream=status_frame[:len(status_frame) // 2]),
            Case("a Status frame, then a frame cut short", "", stream=status_frame + header(50) + b"\x08\x01"),
            Case("a Status frame one byte at a time", "", stream=[bytes([b]) for b in status_frame]),
            Case("a RESPONSE frame", "", stream=wire.encode_frame(wire.Envelope(call_id=9, kind=wire.RESPONSE))),
            Case("5000 Status frames at once", "", stream=b"".join(
                wire.request_frame(i, STATUS, kv_pb2.StatusRequest()) for i in range(1, 5001))),
        ]
        rng = random.Random(f"frames-{node.id}")
        for i in range(20):
            body = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300)))
            cases.append(Case(f"garbage envelope #{i} of {len(body)} bytes", "", stream=header(len(body)) + body))
        for i in range(10):
            cases.append(Case(f"garbage stream #{i}", "", stream=bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300)))))
        return cases
    return [Group("envelope fields", envelopes), Group("garbage payloads", garbage_payloads), Group("frames", frames)]


def stranger_groups():
    """Requests from an id that is not a member, with a higher term."""
    stranger = "stranger-1"
    terms = [("current term + 1", lambda s: s.term + 1), ("2^62", lambda s: 1 << 62)]
    groups = []
    for term_label, term in terms:
        def append_entries(node, status, cluster, term=term, term_label=term_label):
            heartbeat = raft_pb2.AppendEntriesRequest(term=term(status), leader_id=stranger, prev_log_index=0,
                                                      prev_log_term=0, leader_commit=0, seq=1, target_id=node.id)
            with_entry = raft_pb2.AppendEntriesRequest()
            with_entry.CopyFrom(heartbeat)
            with_entry.entries.add(term=term(status), index=1, type=raft_pb2.ENTRY_TYPE_NOOP)
            with_entry.leader_commit = 1 << 62
            untargeted = raft_pb2.AppendEntriesRequest()
            untargeted.CopyFrom(heartbeat)
            untargeted.target_id = ""
            return [Case(f"stranger AppendEntries heartbeat term={term_label}", RAFT + "AppendEntries", heartbeat.SerializeToString()),
                    Case(f"stranger AppendEntries with an entry term={term_label}", RAFT + "AppendEntries", with_entry.SerializeToString()),
                    Case(f"stranger AppendEntries without target term={term_label}", RAFT + "AppendEntries", untargeted.SerializeToString())]

        def install_snapshot(node, status, cluster, term=term, term_label=term_label):
            cases = []
            everyone = [raft_pb2.Server(id=i, address=a) for i, a in cluster.members.items()]
            alone = [raft_pb2.Server(id=stranger, address=NOWHERE)]
            for config_label, servers in (("the members", everyone), ("only the stranger", alone)):
                metadata = raft_pb2.SnapshotMetadata(
                    last_included_index=status.last_log_index + 1000, last_included_term=term(status),
                    configuration=raft_pb2.Configuration(servers=servers), size=0)
                whole = raft_pb2.InstallSnapshotRequest(term=term(status), leader_id=stranger, metadata=metadata,
                                                        offset=0, data=b"", done=True, seq=1, target_id=node.id)
                cases.append(Case(f"stranger InstallSnapshot, an empty snapshot naming {config_label}, term={term_label}",
                                  RAFT + "InstallSnapshot", whole.SerializeToString()))
            # Snapshots in the right format (CacheSnapshot.swift: "RCKV0001", index, pair count, pairs).
            # One claiming 2^64-1 pairs must be refused. A well-formed one with a forged pair, at a term
            # the node may take, would be installed: Raft believes whoever claims to lead, and only
            # authentication (a peer certificate) can refuse a stranger's; without TLS the node
            # serves loopback only. So that one is sent only at a term the node must refuse.
            index = status.last_log_index + 1000
            forged = b"RCKV0001" + index.to_bytes(8, "little") + (1).to_bytes(8, "little")
            forged += len(b"forged").to_bytes(4, "little") + b"forged" + len(b"by a stranger").to_bytes(4, "little") + b"by a stranger"
            endless = b"RCKV0001" + index.to_bytes(8, "little") + ((1 << 64) - 1).to_bytes(8, "little")
            snapshots = [("2^64-1 pairs announced", endless)]
            if term(status) - status.term > 1 << 32:
                snapshots.append(("one forged pair", forged))
            for data_label, data in snapshots:
                metadata = raft_pb2.SnapshotMetadata(
                    last_included_index=index, last_included_term=term(status),
                    configuration=raft_pb2.Configuration(servers=everyone), size=len(data))
                whole = raft_pb2.InstallSnapshotRequest(term=term(status), leader_id=stranger, metadata=metadata,
                                                        offset=0, data=data, done=True, seq=1, target_id=node.id)
                cases.append(Case(f"stranger InstallSnapshot, a snapshot of {data_label}, term={term_label}",
                                  RAFT + "InstallSnapshot", whole.SerializeToString()))
            metadata = raft_pb2.SnapshotMetadata(last_included_index=status.last_log_index + 1000,
                                                 last_included_term=term(status),
                                                 configuration=raft_pb2.Configuration(servers=everyone), size=32)
            first = raft_pb2.InstallSnapshotRequest(term=term(status), leader_id=stranger, metadata=metadata, offset=0,
                                                    data=garbage("first", 16), done=False, seq=1, target_id=node.id)
            last = raft_pb2.InstallSnapshotRequest(term=term(status), leader_id=stranger, metadata=metadata, offset=16,
                                                   data=garbage("last", 16), done=True, seq=2, target_id=node.id)
            cases.append(Case(f"stranger InstallSnapshot, first of two garbage chunks, term={term_label}",
                              RAFT + "InstallSnapshot", first.SerializeToString()))
            cases.append(Case(f"stranger InstallSnapshot, last of two garbage chunks, term={term_label}",
                              RAFT + "InstallSnapshot", last.SerializeToString()))
            return cases

        def request_vote(node, status, cluster, term=term, term_label=term_label):
            cases = []
            for pre_vote in (False, True):
                for transfer in (False, True):
                    request = raft_pb2.RequestVoteRequest(
                        term=term(status), candidate_id=stranger, last_log_index=1 << 62, last_log_term=1 << 62,
                        pre_vote=pre_vote, leadership_transfer=transfer, target_id=node.id)
                    cases.append(Case(f"stranger RequestVote pre_vote={pre_vote} leadership_transfer={transfer} "
                                      f"term={term_label}", RAFT + "RequestVote", request.SerializeToString()))
            return cases

        def timeout_now(node, status, cluster, term=term, term_label=term_label):
            request = raft_pb2.TimeoutNowRequest(term=term(status), leader_id=stranger, target_id=node.id)
            return [Case(f"stranger TimeoutNow term={term_label}", RAFT + "TimeoutNow", request.SerializeToString())]

        groups += [Group(f"stranger AppendEntries term={term_label}", append_entries),
                   Group(f"stranger InstallSnapshot term={term_label}", install_snapshot),
                   Group(f"stranger RequestVote term={term_label}", request_vote),
                   Group(f"stranger TimeoutNow term={term_label}", timeout_now)]

    def read_index(node, status, cluster):
        return [Case("stranger ReadIndex", RAFT + "ReadIndex", raft_pb2.ReadIndexRequest(requester_id=stranger).SerializeToString())]
    return groups + [Group("stranger ReadIndex", read_index)]


FAMILIES = {
    "RequestVote": request_vote_groups,
    "AppendEntries": append_entries_groups,
    "InstallSnapshot": install_snapshot_groups,
    "TimeoutNow": timeout_now_groups,
    "ReadIndex": read_index_groups,
    "AddVoter": add_voter_groups,
    "RemoveServer": remove_server_groups,
    "TransferLeadership": transfer_leadership_groups,
    "KV": kv_groups,
    "envelopes": envelope_groups,
    "stranger": stranger_groups,
}


# ---------------------------------------------------------------------------------------
# Talking to a node: many frames on one connection, answers read as they come.

class Connection:
    def __init__(self, node):
        self.sock = socket.create_connection(("127.0.0.1", node.port), timeout=2)
        self.sock.setblocking(False)
        self.decoder = wire.FrameDecoder(max_length=64 << 20)
        self.next_id = 1000  # Clear of the hostile call ids 0 and 1.
        self.closed = False

    def close(self):
        self.sock.close()
        self.closed = True

    def frame(self, case):
        call_id = self.next_id
        self.next_id += 1
        envelope = wire.Envelope(call_id=call_id, kind=wire.REQUEST, method=case.method, payload=case.payload, timeout_ms=2000)
        for name, value in case.envelope.items():
            setattr(envelope, name, value)
        body = envelope.SerializeToString() + case.raw_envelope
        return envelope.call_id, wire.HEADER.pack(len(body)) + body

    def exchange(self, data, want, answers, deadline):
        """Sends `data` while reading answers into `answers` until every call id in `want`
        is answered; False if the connection closed (or the deadline passed) first."""
        view, sent = memoryview(data), 0
        while time.monotonic() < deadline:
            if want.issubset(answers) and sent == len(data):
                return True
            readable, writable, _ = select.select([self.sock], [self.sock] if sent < len(data) else [], [], 0.05)
            try:
                if readable:
                    chunk = self.sock.recv(1 << 20)
                    if not chunk:
                        break
                    self.decoder.feed(chunk)
                    for envelope in self.decoder.frames():
                        answers[envelope.call_id] = envelope
                if writable:
                    sent += self.sock.send(view[sent:sent + (1 << 20)])
            except BlockingIOError:
                pass
            except (OSError, wire.FrameTooLarge):
                break
            except Exception:  # An answer that is not an Envelope: the stream is lost.
                break
        self.close()
        return False


@dataclass
class Outcome:
    status: object = None  # The marker's StatusResponse, None if it never came.
    answers: dict = field(default_factory=dict)  # label -> Envelope
    closed: list = field(default_factory=list)  # labels whose connection closed before an answer


# ---------------------------------------------------------------------------------------
# The cluster and the checks.

class HostileCluster:
    def __init__(self):
        self.nodes = []
        self.generator = None
        self.connections = {}
        self.acknowledged = {}
        self.healthy = False
        self.findings = []
        self.family = ""
        self.last_sent = None  # (group, node index) sent last
        self.stats = Counter()  # How the requests of the family were answered

    # Starting and stopping.

    def start(self):
        """A fresh cluster holding 24 acknowledged writes on every node."""
        self.healthy = False
        for attempt in (1, 2):  # A busy machine may take longer than running() waits for the voters.
            self.stop()
            workdir = tempfile.mkdtemp(prefix="raft-cache-hostile-")
            self.generator = running(workdir, founder_and_joiners(workdir))
            try:
                self.nodes = next(self.generator)
                break
            except AssertionError:
                self.generator = None
                if attempt == 2:
                    raise
        self.members = {node.id: node.addr for node in self.nodes}
        self.ids = sorted(self.members)
        self.acknowledged = {}
        self.last_sent = None
        for i in range(24):
            key, value = f"key-{i}".encode(), f"value-{i}".encode()

            def write(node=self.nodes[i % 3]):
                with node.client() as c:
                    return c.set(key, value) > 0
            eventually(f"the write of {key!r}", write)
            self.acknowledged[key] = value
        self.initial_keys = len(self.acknowledged)
        for node in self.nodes:
            def holds(node=node):
                with node.client() as c:
                    return all(c.get(k) == v for k, v in self.acknowledged.items())
            eventually(f"{node.id} to hold the first writes", holds)
        self.healthy = True

    def stop(self):
        for connection in self.connections.values():
            connection.close()
        self.connections = {}
        for node in self.nodes:
            if node.alive():
                node.kill()
        if self.generator is not None:
            self.generator.close()
            self.generator = None
        self.nodes = []

    # Sending.

    def connection(self, node):
        connection = self.connections.get(node.id)
        if connection is None or connection.closed:
            try:
                connection = self.connections[node.id] = Connection(node)
            except OSError:
                return None
        return connection

    def deliver(self, node, cases, wait_all=False):
        """Sends `cases` to `node` on one connection, then a Status call; returns an Outcome.
        Cases left unanswered by a connection that closed are sent again one at a time, each
        on a connection of its own, so each one reaches the node."""
        outcome = Outcome()
        for case in [c for c in cases if c.stream is not None]:
            self.send_stream(node, case, outcome)
        pending = [[c for c in cases if c.stream is None]]
        while pending:
            batch = pending.pop(0)
            connection = self.connection(node)
            if connection is None:  # Refused: the node is dying (or dead).
                outcome.closed += [c.label for c in batch]
                continue
            ids, frames = {}, []
            for case in batch:
                call_id, data = connection.frame(case)
                ids[call_id] = case
                frames.append(data)
            marker_id, marker = connection.frame(Case("status", STATUS))
            answers = {}
            want = {marker_id} | (set(ids) if wait_all else set())
            done = connection.exchange(b"".join(frames) + marker, want, answers, time.monotonic() + ANSWER_WAIT)
            for call_id, case in ids.items():
                if call_id in answers:
                    outcome.answers[case.label] = answers[call_id]
            if marker_id in answers and answers[marker_id].status == wire_pb2.STATUS_CODE_OK:
                outcome.status = kv_pb2.StatusResponse.FromString(answers[marker_id].payload)
            if done:
                continue
            unanswered = [case for call_id, case in ids.items() if call_id not in answers]
            if len(batch) > 1 and unanswered and node.alive():
                pending = [[case] for case in unanswered] + pending
            else:
                outcome.closed += [case.label for case in unanswered]
        return outcome

    def send_stream(self, node, case, outcome):
        """Sends a raw byte stream on a connection of its own, half-closes it and reads until
        the node closes it (or 3 s pass)."""
        try:
            sock = socket.create_connection(("127.0.0.1", node.port), timeout=3)
        except OSError:
            outcome.closed.append(case.label)
            return
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        decoder = wire.FrameDecoder(max_length=64 << 20)
        deadline = time.monotonic() + 3
        try:
            for chunk in (case.stream if isinstance(case.stream, list) else [case.stream]):
                sock.sendall(chunk)
                if isinstance(case.stream, list):
                    time.sleep(0.001)
            sock.shutdown(socket.SHUT_WR)
            while time.monotonic() < deadline:
                data = sock.recv(1 << 20)
                if not data:
                    break
                decoder.feed(data)
        except OSError:
            pass
        finally:
            sock.close()
        try:
            answers = list(decoder.frames())
        except Exception:
            answers = []
        if answers:
            outcome.answers[case.label] = answers[-1]
        else:
            outcome.closed.append(case.label)

    def status_of(self, node):
        for _ in range(2):  # A second try on a fresh connection.
            status = self.deliver(node, []).status
            if status is not None:
                return status
        return None

    def count(self, cases, outcome):
        for case in cases:
            answer = outcome.answers.get(case.label)
            if answer is not None:
                self.stats[rc.STATUS_NAMES.get(answer.status, str(answer.status))] += 1
            elif case.label in outcome.closed:
                self.stats["connection closed"] += 1
            else:
                self.stats["no answer yet"] += 1

    def record_writes(self, cases, outcome):
        """Hostile writes answered OK join the acknowledged writes (checked on every node)."""
        for case in cases:
            answer = outcome.answers.get(case.label)
            if case.method != KV + "Set" or answer is None or answer.status != wire_pb2.STATUS_CODE_OK:
                continue
            try:
                request = kv_pb2.SetRequest.FromString(case.payload)
            except Exception:
                continue  # The node took bytes Python's protobuf refuses; nothing to check.
            if request.ttl_ms:
                continue  # It expires: soon gone, as it should be.
            self.acknowledged[request.key] = request.value

    # Checks.

    def dead(self, wait=0.0):
        """The nodes that died, waiting up to `wait` seconds for one that is on its way: a
        trapped Swift process stays alive while it prints its backtrace."""
        deadline = time.monotonic() + wait
        while True:
            gone = [node for node in self.nodes if not node.alive()]
            if gone or time.monotonic() >= deadline:
                return gone
            time.sleep(0.05)

    def describe_dead(self):
        return "\n".join(f"{node.id} died (exit status {node.process.returncode}); its log:\n{indent(log_excerpt(node))}"
                         for node in self.nodes if not node.alive())

    def problem(self, node, status):
        """What is wrong with the cluster now, seen from `node`'s `status` (None: it did not
        answer); None when nothing is."""
        if status is None or self.dead():
            # Dying, or stuck: wait for the process to go, or for an answer.
            if self.dead(wait=3.0):
                return self.describe_dead()
            status = self.status_of(node)
            if status is None:
                return (self.describe_dead() or f"{node.id} is alive but does not answer Status "
                        f"(a trap may be printing its backtrace)")
        problems = []
        for name in ("term", "commit_index", "last_log_index", "snapshot_index"):
            if getattr(status, name) >= SANE:
                problems.append(f"{name} {getattr(status, name)}")
        members = {m.id: (m.address, m.suffrage) for m in status.members}
        if members != {i: (a, raft_pb2.SUFFRAGE_VOTER) for i, a in self.members.items()}:
            problems.append(f"members {describe_members(status.members)} instead of the original three voters")
        if status.keys < self.initial_keys:
            problems.append(f"{status.keys} keys, fewer than the {self.initial_keys} acknowledged before")
        if not problems:
            return None
        text = f"{node.id} shows {'; '.join(problems)}"
        # Does it kill the node too? A huge term overflows only at the next election.
        if self.dead(wait=3.0 if SURVEY else 1.5):
            text += "\n" + self.describe_dead()
        return text

    def run_group(self, group):
        """Sends the group to each node in turn, checking the cluster after each. A problem
        seen before anything is sent is the previous group's (or node's), seen late."""
        for index, node in enumerate(list(self.nodes)):
            status = None if self.dead() else self.status_of(node)
            problem = self.problem(node, status)
            if problem:
                if self.last_sent is None:
                    self.finding(f"before the first group:\n{indent(problem)}")
                    return
                late, late_index = self.last_sent
                self.finding(f"group {late.name!r} sent to node-{late_index + 1} "
                             f"({describe_group(late, self)}) broke the cluster, seen only before the next send:"
                             f"\n{indent(problem)}", late, late_index)
                return
            cases = group.make(node, status, self)
            outcome = self.deliver(node, cases, wait_all=group.wait_all)
            self.last_sent = (group, index)
            self.record_writes(cases, outcome)
            self.count(cases, outcome)
            problem = self.problem(node, outcome.status)
            if problem:
                self.finding(f"group {group.name!r} sent to {node.id} ({describe_group(group, self)}) "
                             f"broke the cluster:\n{indent(problem)}", group, index)
                return

    def pinpoint(self, group, index, skip=0):
        """Sends the group one request at a time to node `index` of a fresh cluster; returns
        (the request after which the cluster broke, the problem, its position), or Nones."""
        self.start()
        node = self.nodes[index]
        cases = group.make(node, self.status_of(node), self)
        for position, case in enumerate(cases):
            if position < skip:
                continue
            self.remaining = len(cases) - position - 1
            outcome = self.deliver(node, [case], wait_all=group.wait_all)
            self.record_writes([case], outcome)
            problem = self.problem(node, outcome.status)
            if not problem:  # What a request sets off may show a moment later.
                time.sleep(0.05)
                problem = self.problem(node, None if self.dead() else self.status_of(node))
            if problem:
                return case.label, problem, position
        return None, None, None

    def finding(self, text, group=None, index=None):
        """Fails the test, after finding out on fresh clusters which single requests of the
        group break it (the first three). In a survey: notes all of them and carries on."""
        message = f"[{self.family}] {text}"
        if group is not None:
            skip, culprits = 0, []
            while True:
                label, problem, position = self.pinpoint(group, index, skip)
                if label is None:
                    break
                culprits.append(f"  {label!r}:\n{indent(problem, 4)}")
                skip = position + 1
                if not SURVEY and len(culprits) == 3:
                    if self.remaining:
                        culprits.append(f"  (the group's {self.remaining} later requests were not tried: "
                                        f"RAFT_CACHE_HOSTILE_SURVEY=1 tries them all)")
                    break
            if culprits:
                message += (f"\nSent one at a time to a fresh cluster, the request{'s' if len(culprits) > 1 else ''} "
                            f"that broke it:\n" + "\n".join(culprits))
            else:
                message += "\nNo single request of the group breaks a fresh cluster: it takes several."
        if not SURVEY:
            self.healthy = False
            pytest.fail(message, pytrace=False)
        self.findings.append(message)
        print("\nFINDING " + message)
        self.start()

    # After a family.

    def check_recovered(self, family):
        """A leader, the original voters, writes through every node readable from every node,
        every acknowledged write in place, and sane terms."""
        for connection in self.connections.values():
            connection.close()
        self.connections = {}
        if self.dead(wait=0.5):
            self.finding(f"after the {family} barrage:\n{self.describe_dead()}")
            return
        details = {}

        def settled():
            if self.dead():
                raise AssertionError("a node died")
            leader = leader_of(self.nodes)
            if leader is None:
                details["why"] = "no leader"
                return False
            for node in self.nodes:
                status = node.status()
                members = {m.id: (m.address, m.suffrage) for m in status.members}
                if members != {i: (a, raft_pb2.SUFFRAGE_VOTER) for i, a in self.members.items()}:
                    details["why"] = f"{node.id} has members {describe_members(status.members)}"
                    return False
                if status.term >= SANE:
                    details["why"] = f"{node.id} is at term {status.term}"
                    return False
                if status.leader_id != leader.id:
                    details["why"] = f"{node.id} follows {status.leader_id!r}, not {leader.id}"
                    return False
            return True

        try:
            eventually("a leader, the original voters and sane terms", settled, timeout=20)
        except AssertionError as error:
            dead = self.describe_dead()
            self.finding(f"the cluster did not recover after the {family} barrage: {error}: {details.get('why')}"
                         + (f"\n{dead}" if dead else ""))
            return
        for node in self.nodes:
            key, value = f"after-{family}-{node.id}".encode(), f"written through {node.id}".encode()

            def write(node=node, key=key, value=value):
                with node.client() as c:
                    return c.set(key, value) > 0
            try:
                eventually(f"a write through {node.id}", write, timeout=10)
            except AssertionError as error:
                self.finding(f"after the {family} barrage: {error}")
                return
            self.acknowledged[key] = value
        for node in self.nodes:
            missing = {}

            def holds(node=node):
                missing.clear()
                with node.client() as c:
                    for k, v in self.acknowledged.items():
                        got = c.get(k)
                        if got != v:
                            missing[k[:40]] = (got[:40] if got is not None else None, v[:40])
                return not missing
            try:
                eventually(f"{node.id} to hold every acknowledged write", holds, timeout=10)
            except AssertionError as error:
                self.finding(f"after the {family} barrage: {error}; wrong or missing (key: (got, expected)): "
                             f"{dict(list(missing.items())[:10])} ({len(missing)} in all)")
                return


def describe_members(members):
    names = {0: "voter", 1: "learner", 2: "staging"}
    return [f"{m.id[:40]}{'...' if len(m.id) > 40 else ''}@{m.address[:40]}/{names.get(m.suffrage, m.suffrage)}"
            for m in members]


def summarize(cases, limit=8):
    labels = [c.label for c in cases]
    prefix = os.path.commonprefix(labels) if len(labels) > 1 else ""
    prefix = prefix[:prefix.rfind(" ") + 1]
    shown = "; ".join(label[len(prefix):] for label in labels[:limit])
    return prefix + "{" + shown + (f"; ... ({len(labels)} in all)" if len(labels) > limit else "") + "}"


def describe_group(group, cluster):
    cases = group.make(cluster.nodes[0], kv_pb2.StatusResponse(), cluster)
    return f"{len(cases)} requests: {summarize(cases)}"


def indent(text, spaces=2):
    return "\n".join(" " * spaces + line for line in text.splitlines())


def log_excerpt(node, frames=6):
    """The reason a node stopped, from its log: a Swift trap's message and the first frames
    of the crashed thread, or the critical lines of a node that stopped itself."""
    lines = node.log_text().splitlines()
    picked = [line for line in lines if "runtime failure" in line or "Fatal error" in line
              or " critical " in line or line.startswith("Error:")][:4]
    for i, line in enumerate(lines):
        if line.rstrip().endswith("crashed:"):
            picked += [frame.strip() for frame in lines[i:i + 2 + frames] if frame.strip()]
            break
    return "\n".join(picked) or "\n".join(lines[-20:])


# ---------------------------------------------------------------------------------------
# The tests: one per family, each on a healthy cluster (a fresh one after a family broke it).

@pytest.fixture(scope="module")
def hostile():
    cluster = HostileCluster()
    yield cluster
    cluster.stop()


@pytest.mark.parametrize("family", list(FAMILIES))
def test_hostile_requests_hurt_nobody(hostile, family):
    if not hostile.healthy or len(hostile.nodes) != 3 or not all(node.alive() for node in hostile.nodes):
        hostile.start()
    hostile.family = family
    hostile.findings = []
    hostile.stats = Counter()
    hostile.healthy = False
    started = time.monotonic()
    groups = FAMILIES[family]()
    for group in groups:
        hostile.run_group(group)
    hostile.check_recovered(family)
    answers = ", ".join(f"{name} {count}" for name, count in hostile.stats.most_common())
    print(f"\n{family}: {len(groups)} groups to each of 3 nodes in {time.monotonic() - started:.1f} s; answers: {answers}")
    if hostile.findings:
        pytest.fail("\n\n".join(hostile.findings), pytrace=False)
    hostile.healthy = True
