"""Concurrent clients for the chaos runner: each picks a node at random and a protocol (HTTP
or the binary one), and records every operation for the linearizability checker
(tools/chaos/linearizability.py): when it was invoked and completed, and its outcome. A
write whose answer never came, or came as an error that does not prove it was refused, has
an unknown outcome: it may have taken effect. Every value written is unique
("p<process>-<n>"), so a value names the write that wrote it.

The mix, per client:

* the k* keys: sets, deletes and gets, and compare-and-set. A cas first reads the key with
  a linearizable get (recorded as its own operation), then writes a new value on condition
  that the key still holds what the get returned: over HTTP with `If-Match: <mod index>`
  (the get's X-Raft-Mod-Index) or `If-None-Match: *` when the get found nothing; over the
  binary protocol with `if_mod_index` (GetResponse.mod_index) or `if_absent`. A mod index
  and a value identify the same write, as values are unique, so it is recorded as
  {"op": "cas", "expect": <what the get returned, null for absent>, "value": <new>}:
  ok when the write succeeded, fail when its condition did not hold (HTTP 412,
  FAILED_PRECONDITION) or it was otherwise refused, unknown as for any write.
* the t* keys: only sets with a time to live (`?ttl=<ms>`, `ttl_ms`) of 200 to 1500 ms,
  recorded with "ttl_ms", and gets. Sets of one t* key are spaced 0.2 to 2 s apart (by
  all clients together), so the gets see values both before and after they expire. The
  checker does not search these keys as registers (a value vanishes when it expires); it
  checks that no get returns a value long after it expired (see
  linearizability.check_expiry).

Every record has process, op, key, value, invoke, complete (null when unknown), outcome,
node and protocol; a cas also has expect, a TTL set ttl_ms."""

import os
import random
import sys
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "clients", "python"))
import raftcache_client as rc  # noqa: E402

# Answers that prove a write was refused before anything was proposed, or (412, and
# FAILED_PRECONDITION) that its condition did not hold when it was applied: no effect.
DEFINITE_HTTP = {400, 404, 409, 412, 413}
DEFINITE_RPC = {"INVALID_ARGUMENT", "NOT_FOUND", "FAILED_PRECONDITION", "RESOURCE_EXHAUSTED", "UNIMPLEMENTED"}
PRECONDITION_HTTP = {409, 412}  # a condition that failed (If-None-Match on a present key may say 409)
PRECONDITION_RPC = {"FAILED_PRECONDITION", "ALREADY_EXISTS"}

# The mix on the k* keys (the rest are gets), and on the t* keys.
SET_SHARE, DELETE_SHARE, CAS_SHARE = 0.35, 0.10, 0.15
TTL_KEY_SHARE = 0.2           # of all operations, when there are t* keys
TTL_MS = (200, 1500)
TTL_SET_GAP = (0.2, 2.0)      # seconds between sets of one t* key; the other operations are gets


class Workers:
    """Daemon threads, one for each item, each running `work(item)` until `stop()` sets
    `stopping` (which `work` watches) and waits for them."""

    def __init__(self):
        self.stopping = threading.Event()
        self.threads = []

    def start_each(self, work, items):
        for item in items:
            thread = threading.Thread(target=work, args=(item,), daemon=True)
            thread.start()
            self.threads.append(thread)

    def stop(self):
        self.stopping.set()
        for thread in self.threads:
            thread.join()


class Workload(Workers):
    def __init__(self, nodes, clients=8, keys=8, consistency="linearizable", timeout=1.5, ttl_keys=4):
        self.nodes = nodes
        self.clients = clients
        self.keys = [f"k{i}" for i in range(keys)]
        self.ttl_keys = [f"t{i}" for i in range(ttl_keys)]
        self.ttl_next_set = {key: 0.0 for key in self.ttl_keys}  # guarded by self.lock
        self.consistency = consistency
        self.timeout = timeout
        self.history = []
        self.lock = threading.Lock()
        super().__init__()

    def start(self):
        self.start_each(self.client, range(self.clients))

    def client(self, process):
        rng = random.Random(process * 7919 + os.getpid())
        written = 0

        def new_value():
            nonlocal written
            written += 1
            return f"p{process}-{written}"

        while not self.stopping.is_set():
            node = rng.choice(self.nodes)
            binary = rng.random() < 0.5
            if self.ttl_keys and rng.random() < TTL_KEY_SHARE:
                key = rng.choice(self.ttl_keys)
                if self.ttl_set_due(key, rng):
                    healthy = self.write(process, node, binary, "set", key, new_value(),
                                         ttl_ms=rng.randint(*TTL_MS))
                else:
                    healthy = self.read(process, node, binary, key)[0]
            else:
                key = rng.choice(self.keys)
                roll = rng.random()
                if roll < SET_SHARE:
                    healthy = self.write(process, node, binary, "set", key, new_value())
                elif roll < SET_SHARE + DELETE_SHARE:
                    healthy = self.write(process, node, binary, "delete", key, None)
                elif roll < SET_SHARE + DELETE_SHARE + CAS_SHARE:
                    healthy = self.compare_and_set(process, node, binary, key, new_value())
                else:
                    healthy = self.read(process, node, binary, key)[0]
            if not healthy:
                time.sleep(0.05)  # A node that fails now will fail again at once.

    def ttl_set_due(self, key, rng):
        """Whether it is time for the next set of t* key `key` (then the one after is
        scheduled): sets rarer than their TTLs leave the gets time to see values expire."""
        now = time.monotonic()
        with self.lock:
            if now < self.ttl_next_set[key]:
                return False
            self.ttl_next_set[key] = now + rng.uniform(*TTL_SET_GAP)
            return True

    # Each operation below records itself and says whether the node answered as a healthy
    # one would (a failed condition is a healthy answer).

    def record(self, process, node, binary, op, key, value, invoke, complete, outcome, **extra):
        record = {"process": process, "op": op, "key": key, "value": value, "invoke": invoke,
                  "complete": complete if outcome != "unknown" else None, "outcome": outcome,
                  "node": node.id, "protocol": "binary" if binary else "http", **extra}
        with self.lock:
            self.history.append(record)

    def read(self, process, node, binary, key, consistency=None):
        """A get; returns (healthy, its outcome, the value, the key's mod index or None)."""
        consistency = consistency or self.consistency
        invoke = time.monotonic()
        if binary:
            outcome, value, mod_index = self.get_binary(node, key, consistency)
        else:
            outcome, value, mod_index = self.get_http(node, key, consistency)
        self.record(process, node, binary, "get", key, value, invoke, time.monotonic(), outcome)
        return outcome == "ok", outcome, value, mod_index

    def write(self, process, node, binary, op, key, value, ttl_ms=None):
        invoke = time.monotonic()
        if binary:
            outcome, _ = self.write_binary(node, op, key, value, ttl_ms=ttl_ms)
        else:
            outcome, _ = self.write_http(node, op, key, value, ttl_ms=ttl_ms)
        extra = {"ttl_ms": ttl_ms} if ttl_ms else {}
        self.record(process, node, binary, op, key, value, invoke, time.monotonic(), outcome, **extra)
        return outcome == "ok"

    def compare_and_set(self, process, node, binary, key, value):
        """A linearizable get, then a write of `value` on condition that the key is still
        as the get found it (its mod index, or absent)."""
        healthy, outcome, expect, mod_index = self.read(process, node, binary, key, "linearizable")
        if outcome != "ok":
            return healthy
        if expect is not None and not mod_index:
            return True  # No version to condition on (not expected from a node that has CAS).
        condition = {"if_mod_index": mod_index} if expect is not None else {"if_absent": True}
        invoke = time.monotonic()
        if binary:
            outcome, precondition = self.write_binary(node, "set", key, value, **condition)
        else:
            outcome, precondition = self.write_http(node, "set", key, value, **condition)
        self.record(process, node, binary, "cas", key, value, invoke, time.monotonic(), outcome, expect=expect)
        return outcome == "ok" or precondition

    # The protocols. A get answers (outcome, value or None, mod index or None); a write
    # (outcome, whether it failed on its condition).

    def get_http(self, node, key, consistency):
        request = urllib.request.Request(node.http + f"/api/v1/key/{key}?consistency={consistency}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout, context=node.tls) as response:
                body = response.read()
                mod_index = response.headers.get("X-Raft-Mod-Index")
                return "ok", body[:-1].decode(), int(mod_index) if mod_index and mod_index.isdigit() else None
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return "ok", None, None
            return "fail", None, None
        except OSError:
            return "fail", None, None

    def write_http(self, node, op, key, value, ttl_ms=None, if_mod_index=None, if_absent=False):
        url = node.http + f"/api/v1/key/{key}" + (f"?ttl={ttl_ms}" if ttl_ms else "")
        headers = {}
        if if_mod_index:
            headers["If-Match"] = str(if_mod_index)
        elif if_absent:
            headers["If-None-Match"] = "*"
        if op == "set":
            request = urllib.request.Request(url, data=value.encode(), method="PUT", headers=headers)
        else:
            request = urllib.request.Request(url, method="DELETE", headers=headers)
        conditional = bool(headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout, context=node.tls) as response:
                response.read()
                return "ok", False
        except urllib.error.HTTPError as error:
            precondition = conditional and error.code in PRECONDITION_HTTP
            return ("fail" if error.code in DEFINITE_HTTP else "unknown"), precondition
        except OSError:
            return "unknown", False

    def get_binary(self, node, key, consistency):
        try:
            with rc.Client(node.addr, timeout=self.timeout, tls=node.tls) as client:
                found = client.get_versioned(key.encode(), consistency=consistency)
                if found is None:
                    return "ok", None, None
                return "ok", found.value.decode(), found.mod_index or None
        except (rc.RPCError, OSError):
            return "fail", None, None

    def write_binary(self, node, op, key, value, ttl_ms=None, if_mod_index=None, if_absent=False):
        conditional = bool(if_mod_index or if_absent)
        try:
            with rc.Client(node.addr, timeout=self.timeout, tls=node.tls) as client:
                if op == "set":
                    client.set(key.encode(), value.encode(), if_mod_index=if_mod_index or 0, if_absent=if_absent,
                               ttl_ms=ttl_ms or 0)
                else:
                    client.delete(key.encode())
                return "ok", False
        except rc.RPCError as error:
            status = rc.STATUS_NAMES.get(error.status)
            precondition = conditional and status in PRECONDITION_RPC
            return ("fail" if status in DEFINITE_RPC or precondition else "unknown"), precondition
        except OSError:
            return "unknown", False
