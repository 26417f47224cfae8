"""GET /metrics on real processes: each node's Prometheus text passes `promtool check metrics`
and tells the truth (who leads, its indexes, its map, the requests it answered by route and
status, the snapshot it took, its histograms); the access rules are those of GET
/api/v1/status; a snapshot sent to a joining node is counted at both ends; and a real
Prometheus server scraping three nodes names the leader, and the new one once the leader is
killed. The binary is RAFT_CACHE_BIN or .build/debug/raft-cache; promtool and prometheus
(Debian package prometheus, tools/setup) are PROMTOOL and PROMETHEUS or found on PATH.

What the exposition must satisfy, beyond promtool's lint (which in Prometheus 2.42 does not
see duplicate series, families split across the text or histograms whose buckets disagree):
every raft_cache_ family is one of NodeMetric's with its type and label names, has one HELP
and one TYPE before its samples and its samples together; no series twice; histograms have
ascending `le` bounds ending in +Inf, cumulative counts, the +Inf bucket equal to _count, and
a _sum; labels carry route templates and method names, never a key, a value or a raw path;
counters and gauges without labels are exported from the start (0 until something happens)."""

import collections
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import raftcache_client as rc  # noqa: E402
import unprivileged  # noqa: E402

from raftcache_cluster import (BINARY, Cluster, Node, Process, TimedOut, converged, eventually,  # noqa: E402
                               founder_and_joiners, free_port, leader_of, running)

pytestmark = pytest.mark.skipif(not os.path.exists(BINARY), reason=f"{BINARY} is not built")

PROMTOOL = os.environ.get("PROMTOOL") or shutil.which("promtool")
PROMETHEUS = os.environ.get("PROMETHEUS") or shutil.which("prometheus")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool is not installed (Debian package prometheus; tools/setup installs it)")
needs_prometheus = pytest.mark.skipif(
    PROMETHEUS is None, reason="prometheus is not installed (Debian package prometheus; tools/setup installs it)")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
KEY_ROUTE = "/api/v1/key/{key}"
SET, GET = "/raftcache.KV/Set", "/raftcache.KV/Get"

# NodeMetric's families: type and label names (histograms: besides `le`).
FAMILIES = {
    "raft_cache_is_leader": ("gauge", ()),
    "raft_cache_term": ("gauge", ()),
    "raft_cache_commit_index": ("gauge", ()),
    "raft_cache_applied_index": ("gauge", ()),
    "raft_cache_last_log_index": ("gauge", ()),
    "raft_cache_snapshot_index": ("gauge", ()),
    "raft_cache_members": ("gauge", ()),
    "raft_cache_follower_lag_entries": ("gauge", ("follower",)),
    "raft_cache_keys": ("gauge", ()),
    "raft_cache_data_bytes": ("gauge", ()),
    "raft_cache_memory_used_bytes": ("gauge", ()),
    "raft_cache_memory_max_bytes": ("gauge", ()),
    "raft_cache_expiring_keys": ("gauge", ()),
    "raft_cache_client_sessions": ("gauge", ()),
    "raft_cache_writes_in_flight": ("gauge", ()),
    "raft_cache_request_bytes_in_flight": ("gauge", ()),
    "raft_cache_answer_bytes_waiting": ("gauge", ()),
    "raft_cache_admission_refusals_total": ("counter", ("limit",)),
    "raft_cache_snapshot_size_bytes": ("gauge", ()),
    "raft_cache_connections": ("gauge", ("port",)),
    "raft_cache_leader_changes_total": ("counter", ()),
    "raft_cache_elections_started_total": ("counter", ()),
    "raft_cache_proposals_total": ("counter", ()),
    "raft_cache_snapshots_total": ("counter", ()),
    "raft_cache_snapshot_transfers_total": ("counter", ("direction",)),
    "raft_cache_expired_keys_total": ("counter", ()),
    "raft_cache_evicted_keys_total": ("counter", ()),
    "raft_cache_http_requests_total": ("counter", ("route", "method", "code")),
    "raft_cache_rpc_requests_total": ("counter", ("method", "code")),
    "raft_cache_http_request_duration_seconds": ("histogram", ("route",)),
    "raft_cache_rpc_request_duration_seconds": ("histogram", ("method",)),
    "raft_cache_log_append_duration_seconds": ("histogram", ()),
    "raft_cache_fsync_duration_seconds": ("histogram", ()),
    "raft_cache_snapshot_duration_seconds": ("histogram", ()),
    "raft_cache_append_batch_entries": ("histogram", ()),
}
# Exported by every node from its start: the families without labels but the histograms
# (whose first observation may come later), and the connections of both ports.
ALWAYS = [name for name, (kind, labels) in FAMILIES.items() if kind != "histogram" and not labels]


# The text format (https://prometheus.io/docs/instrumenting/exposition_formats/), parsed strictly.

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r"[a-zA-Z_][a-zA-Z0-9_]*"
VALUE = r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|[-+]?Inf|NaN"
SAMPLE = re.compile(rf"^({NAME})(?:\{{(.*)\}})?[ \t]+({VALUE})(?:[ \t]+(-?[0-9]+))?[ \t]*$")
LABEL_PAIR = re.compile(rf'[ \t]*({LABEL})[ \t]*=[ \t]*"((?:[^"\\\n]|\\[\\"n])*)"[ \t]*(,|$)')
UNESCAPE = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}


class Family:
    def __init__(self, name):
        self.name = name
        self.kind = None
        self.help = None
        self.samples = []  # (sample name, labels dict, value)


class Exposition:
    """One scrape's families by name, and the problems the text format forbids."""

    def __init__(self, text):
        self.text = text
        self.families = {}
        self.problems = []
        self.series = set()
        if text and not text.endswith("\n"):
            self.problems.append("the text does not end with a newline")
        finished = set()  # Families whose lines are over: another family's came since.
        current = None
        for number, line in enumerate(text.split("\n")[:-1] if text.endswith("\n") else text.split("\n"), 1):
            if not line.strip():
                continue
            if line.startswith("#"):
                parts = line.split(None, 3)
                if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                    name = parts[2]
                    current = self.enter(name, current, finished, number)
                    family = self.families[name]
                    if parts[1] == "HELP":
                        if family.help is not None:
                            self.problems.append(f"line {number}: a second HELP for {name}")
                        family.help = parts[3] if len(parts) > 3 else ""
                    else:
                        kind = parts[3].strip() if len(parts) > 3 else ""
                        if kind not in ("counter", "gauge", "histogram", "summary", "untyped"):
                            self.problems.append(f"line {number}: TYPE {kind!r} of {name}")
                        if family.kind is not None:
                            self.problems.append(f"line {number}: a second TYPE for {name}")
                        if family.samples:
                            self.problems.append(f"line {number}: the TYPE of {name} after its samples")
                        family.kind = kind
                continue
            match = SAMPLE.match(line)
            if not match:
                self.problems.append(f"line {number}: not a sample: {line!r}")
                continue
            name, label_text, value, _ = match.groups()
            labels = self.labels(label_text or "", number)
            if labels is None:
                continue
            family_name = self.family_of(name)
            current = self.enter(family_name, current, finished, number)
            key = (name, tuple(sorted(labels.items())))
            if key in self.series:
                self.problems.append(f"line {number}: a second sample of {name}{labels}")
            self.series.add(key)
            self.families[family_name].samples.append((name, labels, float(value)))
        for family in self.families.values():
            if family.kind is None:
                self.problems.append(f"{family.name} has no TYPE")
            if family.help is None:
                self.problems.append(f"{family.name} has no HELP")

    def enter(self, name, current, finished, number):
        """Notes that `name`'s lines go on (or start); its lines must be together."""
        if name != current:
            if name in finished:
                self.problems.append(f"line {number}: {name} again, after other families' lines")
            if current is not None:
                finished.add(current)
        self.families.setdefault(name, Family(name))
        return name

    def family_of(self, sample_name):
        if sample_name in self.families and self.families[sample_name].kind not in ("histogram", "summary"):
            return sample_name
        for suffix in ("_bucket", "_sum", "_count"):
            base = sample_name[:-len(suffix)]
            if sample_name.endswith(suffix) and base in self.families and self.families[base].kind == "histogram":
                return base
        return sample_name

    def labels(self, text, number):
        labels = {}
        position = 0
        while position < len(text):
            match = LABEL_PAIR.match(text, position)
            if not match:
                self.problems.append(f"line {number}: bad labels {{{text}}}")
                return None
            name, value, _ = match.groups()
            if name in labels:
                self.problems.append(f"line {number}: label {name} twice")
            labels[name] = re.sub(r'\\[\\"n]', lambda m: UNESCAPE[m.group(0)], value)
            position = match.end()
        return labels

    # Reading values.

    def samples(self, name, **match):
        """(labels, value) of every sample called `name` whose labels include `match`."""
        family = self.families.get(self.family_of(name))
        if family is None:
            return []
        return [(labels, value) for sample, labels, value in family.samples
                if sample == name and all(labels.get(k) == v for k, v in match.items())]

    def get(self, name, **labels):
        """The value of the series `name` with exactly `labels`, or None when it is not there."""
        for found, value in self.samples(name, **labels):
            if found == labels:
                return value
        return None

    def value(self, name, **labels):
        """The value of the series `name` with exactly `labels`, which must be there."""
        value = self.get(name, **labels)
        assert value is not None, f"no series {name}{labels or ''}"
        return value

    def total(self, name, **match):
        return sum(value for _, value in self.samples(name, **match))

    def histogram_count(self, name, **labels):
        return self.value(name + "_count", **labels)


def histogram_problems(exposition, family):
    """What is wrong with a histogram family's series: each label set's buckets (ascending `le`
    ending in +Inf, counts cumulative), its _sum, and its _count (the +Inf bucket's)."""
    problems = []
    groups = collections.defaultdict(lambda: {"buckets": [], "sum": None, "count": None})
    for sample, labels, value in family.samples:
        base = {k: v for k, v in labels.items() if k != "le"}
        group = groups[tuple(sorted(base.items()))]
        if sample == family.name + "_bucket":
            if "le" not in labels:
                problems.append(f"{family.name}_bucket{labels} has no le")
                continue
            group["buckets"].append((float(labels["le"]), value))
        elif sample == family.name + "_sum":
            group["sum"] = value
        elif sample == family.name + "_count":
            group["count"] = value
        else:
            problems.append(f"{sample} in histogram {family.name}")
    for key, group in groups.items():
        where = f"{family.name}{dict(key)}"
        bounds = [le for le, _ in group["buckets"]]
        counts = [count for _, count in group["buckets"]]
        if len(bounds) < 2 or bounds[-1] != math.inf:
            problems.append(f"{where}: buckets {bounds} do not end in +Inf after a finite bound")
        if bounds != sorted(bounds) or len(set(bounds)) != len(bounds):
            problems.append(f"{where}: bucket bounds not ascending: {bounds}")
        if counts != sorted(counts):
            problems.append(f"{where}: bucket counts not cumulative: {counts}")
        if group["sum"] is None or group["count"] is None:
            problems.append(f"{where}: no _sum or no _count")
        elif counts and counts[-1] != group["count"]:
            problems.append(f"{where}: +Inf bucket {counts[-1]} but _count {group['count']}")
        elif group["sum"] < 0 or math.isnan(group["sum"]):
            problems.append(f"{where}: _sum {group['sum']}")
    return problems


def schema_problems(exposition):
    """Families of ours that NodeMetric does not name, or of another type or label names."""
    problems = []
    for name, family in exposition.families.items():
        if not name.startswith("raft_cache_"):
            continue
        if name not in FAMILIES:
            problems.append(f"{name}: not one of the node's metrics")
            continue
        kind, label_names = FAMILIES[name]
        if family.kind != kind:
            problems.append(f"{name}: TYPE {family.kind}, not {kind}")
        if not family.help:
            problems.append(f"{name}: empty HELP")
        for sample, labels, _ in family.samples:
            names = set(labels) - ({"le"} if kind == "histogram" and sample.endswith("_bucket") else set())
            if names != set(label_names):
                problems.append(f"{sample}: labels {sorted(labels)}, not {sorted(label_names)}")
        if kind == "histogram":
            problems += histogram_problems(exposition, family)
        elif kind == "counter":
            problems += [f"{sample}{labels} = {value}" for sample, labels, value in family.samples
                         if not value >= 0 or sample != name]
    for name in ALWAYS:
        if not exposition.samples(name):
            problems.append(f"{name}: no sample")
    for port in ("http", "raft"):
        if exposition.get("raft_cache_connections", port=port) is None:
            problems.append(f'raft_cache_connections{{port="{port}"}}: no sample')
    return problems


def promtool_check(text):
    """What `promtool check metrics` says of `text` (its exit code and all it printed)."""
    done = subprocess.run([PROMTOOL, "check", "metrics"], input=text.encode(), capture_output=True, timeout=60)
    return done.returncode, (done.stdout + done.stderr).decode(errors="replace").strip()


def scrape(node, check=True):
    """GET /metrics of `node`, parsed; with `check`, fails on a wrong Content-Type, on anything
    promtool prints and on any problem of the text or of our families."""
    code, body, headers = node.request("GET", "/metrics")
    assert code == 200, f"{node.id}: GET /metrics answered {code}: {body[:300]!r}"
    text = body.decode()
    exposition = Exposition(text)
    if check:
        assert headers.get("Content-Type") == CONTENT_TYPE, f"{node.id}: Content-Type {headers.get('Content-Type')!r}"
        returncode, said = promtool_check(text)
        assert returncode == 0 and said == "", f"{node.id}: promtool check metrics (exit {returncode}):\n{said}"
        problems = exposition.problems + schema_problems(exposition)
        assert not problems, f"{node.id}: /metrics:\n" + "\n".join(problems)
    return exposition


def settled(what, check, timeout=10.0):
    """Runs `check` (which asserts) until it passes: counters are recorded as answers go out,
    so a scrape right after an answer may not show it yet. Fails with the last failure."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except (AssertionError, rc.RPCError, OSError) as error:
            if time.monotonic() >= deadline:
                raise AssertionError(f"{what}: {error}") from error
        time.sleep(0.1)


class Traffic:
    """Requests made to each node, and how each was answered: what its counters must show."""

    def __init__(self):
        self.http = collections.defaultdict(collections.Counter)  # node id -> (method, code) on KEY_ROUTE
        self.rpc = collections.defaultdict(collections.Counter)   # node id -> (method, status name)
        self.keys = set()

    def put(self, node, key, value, query=""):
        def attempt():
            code, body, _ = node.request("PUT", f"/api/v1/key/{urllib.parse.quote(key, safe='')}{query}", value)
            self.http[node.id]["PUT", str(code)] += 1
            assert code in (200, 503), body  # 503: no leader for a moment; try again.
            return code == 200
        eventually(f"PUT {key} through {node.id}", attempt)
        self.keys.add(key)

    def get(self, node, key):
        code, body, _ = node.request("GET", f"/api/v1/key/{urllib.parse.quote(key, safe='')}")
        self.http[node.id]["GET", str(code)] += 1
        return code, body

    def set(self, node, key, value):
        def attempt():
            with node.client() as c:
                try:
                    c.set(key.encode(), value)
                except rc.RPCError as error:
                    self.rpc[node.id][SET, rc.STATUS_NAMES[error.status]] += 1
                    raise
            self.rpc[node.id][SET, "OK"] += 1
            return True
        eventually(f"Set {key} through {node.id}", attempt)
        self.keys.add(key)

    def binary_get(self, node, key):
        with node.client() as c:
            try:
                value = c.call(GET, rc.wire.kv_pb2.GetRequest(key=key.encode())).value
                self.rpc[node.id][GET, "OK"] += 1
                return value
            except rc.RPCError as error:
                self.rpc[node.id][GET, rc.STATUS_NAMES[error.status]] += 1
                return None


@pytest.fixture
def workdir():
    folder = tempfile.mkdtemp(prefix="raft-cache-metrics-")
    yield folder
    if os.environ.get("RAFT_CACHE_KEEP_WORKDIR") != "1":
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def cluster(workdir):
    yield from running(workdir, founder_and_joiners(workdir))


@needs_promtool
def test_every_node_exports_what_it_did(cluster):
    """Writes and reads over HTTP and the binary protocol through every node and a snapshot on
    a follower; then each node's /metrics passes promtool and says what its status says and
    what it answered."""
    traffic = Traffic()
    before = {node.id: scrape(node) for node in cluster}  # Well-formed from the start, too.
    leader = eventually("a leader", lambda: leader_of(cluster))
    term = leader.status().term
    for node in cluster:
        for i in range(3):
            traffic.put(node, f"mk-http-{node.id}-{i}", f"mv-{i}".encode())
            traffic.set(node, f"mk-bin-{node.id}-{i}", f"mv-{i}".encode())
    traffic.put(leader, "mk-with/slash", b"mv-slash")  # percent-encoded: still the key route
    traffic.put(leader, "mk-ttl", b"mv-ttl", "?ttl=1h")
    for i, node in enumerate(cluster):
        other = cluster[(i + 1) % len(cluster)]
        assert traffic.get(node, f"mk-http-{other.id}-0") == (200, b"mv-0\n")
        assert traffic.get(node, "mk-missing")[0] == 404
        assert traffic.binary_get(node, f"mk-bin-{other.id}-1") == b"mv-1"
        assert traffic.binary_get(node, "mk-missing") is None
        # An unknown route, and a raw path: neither may become a label value.
        assert node.request("GET", "/api/v1/nothing/mk-raw-path")[0] == 404
    eventually("the writes on every node", lambda: converged(cluster), timeout=15)
    snapshotted = next(node for node in cluster if node is not leader_of(cluster))
    code, body, _ = snapshotted.request("POST", "/api/v1/snapshot", b"")
    assert code == 200, body
    snapshot = json.loads(body)
    stable = leader_of(cluster) is leader and leader.status().term == term
    forwarded = sum(traffic.http[n.id]["PUT", "200"] + traffic.rpc[n.id][SET, "OK"] for n in cluster if n is not leader)

    def check(node, connection):
        connection.status()  # The binary connection is open (and accepted) while we scrape.
        status = node.http_status()
        m = scrape(node)
        after = node.http_status()
        where = node.id
        # Raft: the values at the scrape, between the status before and after it.
        for metric, field in (("raft_cache_commit_index", "commit_index"), ("raft_cache_applied_index", "applied_index"),
                              ("raft_cache_last_log_index", "last_log_index")):
            assert status[field] <= m.value(metric) <= after[field], (where, metric, status[field], m.value(metric))
        assert m.value("raft_cache_applied_index") >= m.value("raft_cache_snapshot_index"), where
        assert status["term"] <= m.value("raft_cache_term") <= after["term"], where
        assert m.value("raft_cache_members") == len(status["members"]) == 3, where
        assert m.value("raft_cache_is_leader") == (1 if status["role"] == "leader" else 0), (where, status["role"])
        lags = {labels["follower"]: value for labels, value in m.samples("raft_cache_follower_lag_entries")}
        if status["role"] == "leader":
            assert set(lags) == {n.id for n in cluster if n is not node}, (where, lags)
            assert all(lag == 0 for lag in lags.values()), (where, "converged and idle, yet lagging", lags)
            # It became leader through an election (the founder's too: it campaigns alone).
            assert m.value("raft_cache_elections_started_total") >= 1, (where, f"leads in term {status['term']}",
                                                                         "but counted no election")
        else:
            assert lags == {}, (where, "a follower exports follower lag", lags)
        assert m.value("raft_cache_leader_changes_total") >= 1, (where, "never saw a leader")
        assert m.value("raft_cache_connections", port="http") >= 1, where  # this scrape's
        assert m.value("raft_cache_connections", port="raft") >= 1, where  # `connection`
        # The map, as the status tells it.
        assert m.value("raft_cache_keys") == status["keys"] == len(traffic.keys), (where, m.value("raft_cache_keys"))
        assert m.value("raft_cache_data_bytes") == status["bytes"], where
        memory = status["memory"]
        assert m.value("raft_cache_memory_used_bytes") == memory["used_bytes"] > 0, where
        assert m.value("raft_cache_memory_max_bytes") == memory["max_bytes"] == 0, where
        assert m.value("raft_cache_expiring_keys") == memory["expiring_keys"] == 1, where
        assert m.value("raft_cache_expired_keys_total") == memory["expired_keys"], where
        assert m.value("raft_cache_evicted_keys_total") == memory["evicted_keys"], where
        assert m.value("raft_cache_client_sessions") == status["client_sessions"], where
        # Snapshots.
        assert m.value("raft_cache_snapshot_index") == status["snapshot"]["index"], where
        assert m.value("raft_cache_snapshot_size_bytes") == status["snapshot"]["size_bytes"], where
        if node is snapshotted:
            assert m.value("raft_cache_snapshot_index") == snapshot["index"], where
            assert m.value("raft_cache_snapshot_size_bytes") == snapshot["size_bytes"] > 0, where
            assert m.value("raft_cache_snapshots_total") >= 1, where
            assert m.histogram_count("raft_cache_snapshot_duration_seconds") >= 1, where
        # The log: every node appended and synced every entry we wrote.
        assert m.histogram_count("raft_cache_log_append_duration_seconds") >= 1, where
        assert m.histogram_count("raft_cache_fsync_duration_seconds") >= 1, where
        assert m.histogram_count("raft_cache_append_batch_entries") >= 1, where
        assert m.value("raft_cache_append_batch_entries_sum") >= len(traffic.keys), where
        # HTTP: what this node answered on the key route, by method and code, exactly.
        http = {(labels["method"], labels["code"]): value
                for labels, value in m.samples("raft_cache_http_requests_total", route=KEY_ROUTE)}
        assert http == {k: v for k, v in traffic.http[node.id].items()}, (where, http, dict(traffic.http[node.id]))
        for route in {labels["route"] for labels, _ in m.samples("raft_cache_http_requests_total")}:
            assert m.histogram_count("raft_cache_http_request_duration_seconds", route=route) == m.total(
                "raft_cache_http_requests_total", route=route), (where, route, "histogram count != counter")
        # The binary protocol: gets are answered where asked; sets forwarded by followers reach the leader.
        for (method, code), count in traffic.rpc[node.id].items():
            value = m.value("raft_cache_rpc_requests_total", method=method, code=code)
            if method == SET and not stable:  # Which node took the forwarded sets is not known.
                assert value >= count, (where, method, code, value, count)
            elif method == SET and node is leader and code == "OK":
                assert value == count + forwarded, (where, method, code, value, f"{count} + {forwarded} forwarded")
            else:
                assert value == count, (where, method, code, value, count)
        for method in (GET, SET):
            assert m.histogram_count("raft_cache_rpc_request_duration_seconds", method=method) == m.total(
                "raft_cache_rpc_requests_total", method=method), (where, method, "histogram count != counter")
        # Labels name routes, methods and codes: never a key, a value or a raw path.
        leaks = [(family.name, labels) for family in m.families.values() for _, labels, _ in family.samples
                 if any(marker in v for v in labels.values() for marker in ("mk-", "mv-", "nothing"))]
        assert not leaks, (where, leaks)
        return m

    scrapes = {}
    for node in cluster:
        with node.client() as connection:
            scrapes[node.id] = settled(f"{node.id}'s /metrics", lambda: check(node, connection))
    leaders = [node_id for node_id, m in scrapes.items() if m.value("raft_cache_is_leader") == 1]
    assert leaders == [leader.id] or not stable, leaders
    assert sum(m.value("raft_cache_proposals_total") for m in scrapes.values()) >= len(traffic.keys)
    # Counters only grow.
    for node_id, m in scrapes.items():
        for name in ("raft_cache_proposals_total", "raft_cache_leader_changes_total"):
            assert m.value(name) >= before[node_id].value(name), (node_id, name)
    settled("exactly one node exporting is_leader 1, the leader", lambda: one_leader(cluster))


def one_leader(nodes):
    leader = leader_of(nodes)
    exported = [node for node in nodes if scrape(node, check=False).get("raft_cache_is_leader") == 1]
    assert leader is not None and exported == [leader], ([n.id for n in exported], leader and leader.id)
    return leader


@needs_promtool
def test_a_snapshot_sent_to_a_joining_node_is_counted_at_both_ends(workdir, cluster):
    leader = eventually("a leader", lambda: leader_of(cluster))
    with leader.client() as c:
        c.batch([rc.op("set", f"k{i}".encode(), b"v" * 100) for i in range(200)])
    code, body, _ = leader.request("POST", "/api/v1/snapshot", b"")  # The log it covers is gone.
    assert code == 200, body
    fresh = Node(workdir, "node-4", join=leader.addr)
    fresh.start()
    try:
        eventually("node-4 to catch up", lambda: converged(cluster + [fresh]), timeout=30)
        assert "installed the leader's snapshot" in fresh.log_text()

        def counted():
            sent = scrape(leader).get("raft_cache_snapshot_transfers_total", direction="sent")
            received = scrape(fresh).get("raft_cache_snapshot_transfers_total", direction="received")
            assert sent is not None and sent >= 1, ("sent", sent)
            assert received is not None and received >= 1, ("received", received)
        settled("the transfer counted", counted)
        m = scrape(fresh)
        assert m.value("raft_cache_keys") == 200 and m.value("raft_cache_members") == 4
        assert m.value("raft_cache_snapshot_index") == fresh.http_status()["snapshot"]["index"] > 0
    finally:
        fresh.stop()


READ, WRITE, ADMIN = "read-token-0123456789", "write-token-0123456789", "admin-token-0123456789"


def test_metrics_are_read_as_the_status_is(workdir):
    """With tokens on, GET /metrics wants what GET /api/v1/status does: any role, and a token."""
    unprivileged.writable_dir(workdir)
    tokens = os.path.join(workdir, "tokens")
    with open(tokens, "w") as f:
        f.write(f"read {READ} dashboards\nwrite {WRITE} app\nadmin {ADMIN} ops\n")
    node = Node(workdir, "node-1", args=[f"--auth-token-file={tokens}"], token=ADMIN)
    cluster = Cluster([node])
    try:
        cluster.start()
        answers = {}
        for who, headers in (("nobody", {}), ("an unknown token", {"Authorization": "Bearer not-a-token-0123456789"}),
                             ("reader", {"Authorization": f"Bearer {READ}"}),
                             ("writer", {"Authorization": f"Bearer {WRITE}"}),
                             ("admin", {"Authorization": f"Bearer {ADMIN}"})):
            codes = []
            for path in ("/api/v1/status", "/metrics"):
                request = urllib.request.Request(node.http + path, headers=headers)
                try:
                    with urllib.request.urlopen(request, timeout=5) as response:
                        codes.append(response.status)
                        if path == "/metrics":
                            assert Exposition(response.read().decode()).value("raft_cache_is_leader") == 1
                except urllib.error.HTTPError as error:
                    codes.append(error.code)
            answers[who] = tuple(codes)
        assert answers == {"nobody": (401, 401), "an unknown token": (401, 401), "reader": (200, 200),
                           "writer": (200, 200), "admin": (200, 200)}, answers
    finally:
        cluster.stop()


# A real Prometheus server.

class Prometheus(Process):
    """prometheus scraping `targets` (host:port) every second, on a free loopback port, its
    config, data and log in `folder`; run as the nodes are (unprivileged)."""

    def __init__(self, folder, targets):
        unprivileged.writable_dir(folder)
        super().__init__(os.path.join(folder, "prometheus.log"))
        self.folder = folder
        self.address = f"127.0.0.1:{free_port()}"
        self.config = os.path.join(folder, "prometheus.yml")
        with open(self.config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
                    "scrape_configs:\n  - job_name: raft-cache\n    static_configs:\n"
                    f"      - targets: [{', '.join(repr(t) for t in targets)}]\n")

    def start(self):
        self.launch([PROMETHEUS, f"--config.file={self.config}", f"--web.listen-address={self.address}",
                     f"--storage.tsdb.path={os.path.join(self.folder, 'data')}"])

    def api(self, path, **query):
        url = f"http://{self.address}{path}" + ("?" + urllib.parse.urlencode(query) if query else "")
        with urllib.request.urlopen(url, timeout=5) as response:
            answer = json.loads(response.read())
        assert answer["status"] == "success", answer
        return answer["data"]

    def ready(self):
        assert self.alive(), "prometheus exited:\n" + self.log_text()[-3000:]
        with urllib.request.urlopen(f"http://{self.address}/-/ready", timeout=5) as response:
            return response.status == 200

    def targets(self):
        """instance -> (health, last error) of the active targets."""
        return {t["labels"]["instance"]: (t["health"], t["lastError"]) for t in self.api("/api/v1/targets")["activeTargets"]}

    def instances(self, query):
        return sorted(series["metric"].get("instance") for series in self.api("/api/v1/query", query=query)["result"])


def waited(what, condition, timeout, state):
    """eventually(), failing with the last of what `state()` tells."""
    try:
        return eventually(what, condition, timeout)
    except TimedOut as error:
        raise TimedOut(f"{error}; last seen: {state()}") from None


def instance(node):
    return f"{node.host}:{node.http_port}"


@needs_prometheus
def test_prometheus_scrapes_every_node_and_follows_the_leader(workdir, cluster):
    prometheus = Prometheus(os.path.join(workdir, "prometheus"), [instance(node) for node in cluster])
    prometheus.start()
    try:
        try:
            eventually("prometheus ready", prometheus.ready, timeout=30)
        except TimedOut as error:
            raise TimedOut(f"{error}\n{prometheus.log_text()[-3000:]}") from None
        targets = {}

        def all_up():
            targets.update(prometheus.targets())
            return set(targets) == {instance(n) for n in cluster} and all(h == "up" for h, _ in targets.values())
        waited("every node's target up", all_up, 30, lambda: targets)
        assert all(error == "" for _, error in targets.values()), targets

        seen = []

        def names_the_leader(nodes):
            """The one series of raft_cache_is_leader == 1 is the instance of the node that leads."""
            def check():
                leader = leader_of(nodes)
                seen[:] = [prometheus.instances("raft_cache_is_leader == 1"), leader and leader.id]
                return leader if leader is not None and seen[0] == [instance(leader)] else None
            return check
        leader = waited("raft_cache_is_leader == 1 to name the leader alone", names_the_leader(cluster), 15,
                        lambda: seen)

        leader.kill()
        others = [node for node in cluster if node is not leader]
        eventually("a new leader", lambda: leader_of(others), timeout=30)
        new = waited("raft_cache_is_leader == 1 to name the new leader alone", names_the_leader(others), 30,
                     lambda: seen)
        waited(f"{leader.id}'s target down", lambda: prometheus.targets()[instance(leader)][0] == "down", 15,
               lambda: prometheus.targets())
        for node in others:
            assert prometheus.targets()[instance(node)] == ("up", ""), (node.id, prometheus.targets())
        assert scrape(new).value("raft_cache_elections_started_total") >= 1, f"{new.id} won an election it did not count"
        # The new leader's term, as scraped, is the one it tells.
        query = f'raft_cache_term{{instance="{instance(new)}"}}'
        waited(f"{new.id}'s term in prometheus", lambda: [float(series["value"][1]) for series in prometheus.api(
            "/api/v1/query", query=query)["result"]] == [new.status().term], 10,
            lambda: (prometheus.api("/api/v1/query", query=query)["result"], new.status().term))
    finally:
        prometheus.stop()
