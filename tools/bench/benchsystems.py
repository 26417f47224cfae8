"""The two systems tools/bench/compare measures, each a 3-node cluster on loopback that syncs
to disk: raft-cache (release build, default flags) and etcd (Debian's etcd-server, 3.4, its
JSON gateway for HTTP). Each can start, stop, report its term, time failovers and report
the memory of a node holding a million 100-byte values. Run as root, both run as an
unprivileged user (tools/clients/python/unprivileged.py)."""

import base64
import json
import os
import re
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools", "clients", "python"))
import unprivileged  # noqa: E402
from raftcache_cluster import (Cluster, Process, build_path, eventually, founder_and_joiners, free_port, load,  # noqa: E402
                               make_certs)

MILLION = 1_000_000
RELEASE_BINARY = build_path("raft-cache", "release")
RELEASE_LOAD_BINARY = build_path("raft-cache-load", "release")


def resident_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+) kB", f.read()).group(1)) / 1024


def cpu_seconds(pids):
    """The user and system CPU seconds the processes have used so far (from /proc)."""
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def wrk_script(workdir, name, query, keys=10_000, value="v" * 64):
    """A wrk script of PUTs of `value` to keys k0..k<keys-1> at random, with `query` after the key."""
    path = os.path.join(workdir, name + ".lua")
    with open(path, "w") as f:
        f.write(f'math.randomseed(os.time())\nlocal value = "{value}"\n'
                f'request = function() return wrk.format("PUT", "/api/v1/key/k" .. math.random(0, {keys - 1}) .. "{query}", nil, value) end\n')
    return path


def wrk(url, script, connections, seconds):
    """(requests/s, p50 ms, p99 ms, errors) of one wrk run (1 thread)."""
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script, url],
                         capture_output=True, text=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def percentile(p):
        value, unit = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
        return float(value) / 1000 if unit == "us" else float(value) * 1000 if unit == "s" else float(value)
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    return rate, percentile(50), percentile(99), errors


def until_ok(action, deadline=30.0):
    """Retries `action` until it succeeds; returns the seconds it took."""
    started = time.monotonic()
    eventually("a success", lambda: action() or True, timeout=deadline, interval=0.01)
    return time.monotonic() - started


class RaftCacheCluster(Cluster):
    """Three nodes on loopback; with `tls`, speaking mutual TLS (certificates from raft-cache
    certs) and taking bearer tokens, so HTTP clients without a certificate (wrk) send TOKEN."""

    TOKEN = "bench-write-token-0123456789"
    START_TIMEOUT = 30.0

    def __init__(self, workdir, binary=RELEASE_BINARY, tls=False, args=(), name=None):
        unprivileged.writable_dir(workdir)  # A tempfile.mkdtemp of root's (0700) would keep the nodes out.
        self.workdir = os.path.join(workdir, name or ("raft-cache-tls" if tls else "raft-cache"))
        unprivileged.writable_dir(self.workdir)
        self.certs = None
        args = list(args)
        if tls:
            self.certs = make_certs(os.path.join(self.workdir, "certs"), ["node-1", "node-2", "node-3"],
                                    ["admin:admin", "app:write"], binary=binary)
            tokens = os.path.join(self.workdir, "tokens")
            with open(tokens, "w") as f:
                f.write(f"write {self.TOKEN} bench\n")
            args.append(f"--auth-token-file={tokens}")
        super().__init__(founder_and_joiners(self.workdir, args=args, certs=self.certs, binary=binary))

    def http_url(self):
        return self.wait_for_leader().http

    def pids(self):
        return [node.process.pid for node in self.nodes]

    def load(self, *args):
        """raft-cache-load (release) against the leader, with the app's certificate under TLS."""
        return load([self.wait_for_leader()], *args, client="app", binary=RELEASE_LOAD_BINARY)

    def term(self):
        return self.wait_for_leader().status().term

    def failover(self, rounds, report=lambda round_number, ms: None):
        """Median and largest ms from kill -9 of the leader to the first write through another node."""
        times = []
        for i in range(rounds):
            leader = self.wait_for_leader()
            other = next(n for n in self.nodes if n is not leader)
            leader.kill()

            def write():
                with other.client(timeout=0.3) as c:
                    c.set(b"failover", str(i).encode())
            times.append(until_ok(write) * 1000)
            report(i + 1, times[-1])
            leader.start()
            eventually("the old leader to catch up", lambda: leader.status().applied_index >= other.status().commit_index,
                       timeout=30)
        return statistics.median(times), max(times)

    def memory_for_million(self):
        report = self.load("--sequential", f"--count={MILLION}", "--value-size=100", "--key-prefix=million-",
                           "--in-flight=256")
        if report["errors"]:
            raise RuntimeError(f"raft-cache-load failed: {report['errors']}")
        return max(resident_mb(node.process.pid) for node in self.nodes)


class EtcdMember(Process):
    """An etcd process: its name and its client and peer ports on loopback."""

    def __init__(self, workdir, index):
        super().__init__(os.path.join(workdir, f"etcd-{index}.log"))
        self.name = f"e{index}"
        self.client = free_port()
        self.peer = free_port()


class EtcdCluster:
    def __init__(self, workdir):
        self.workdir = os.path.join(workdir, "etcd")
        unprivileged.writable_dir(workdir)
        unprivileged.writable_dir(self.workdir)  # etcd creates its data directories in it.
        self.members = [EtcdMember(workdir, i) for i in (1, 2, 3)]
        self.initial = ",".join(f"{m.name}=http://127.0.0.1:{m.peer}" for m in self.members)

    def start_member(self, member, state="new"):
        member.launch(["etcd", "--name", member.name, "--data-dir", os.path.join(self.workdir, member.name),
                       "--listen-client-urls", f"http://127.0.0.1:{member.client}",
                       "--advertise-client-urls", f"http://127.0.0.1:{member.client}",
                       "--listen-peer-urls", f"http://127.0.0.1:{member.peer}",
                       "--initial-advertise-peer-urls", f"http://127.0.0.1:{member.peer}",
                       "--initial-cluster", self.initial, "--initial-cluster-state", state,
                       "--initial-cluster-token", "raft-cache-bench", "--log-level", "error"])

    def start(self):
        for member in self.members:
            self.start_member(member)
        eventually("an etcd leader", lambda: self.leader() is not None, timeout=30)

    def stop(self):
        for member in self.members:
            member.stop()

    def pids(self):
        return [member.process.pid for member in self.members]

    def call(self, member, path, body, timeout=2.0):
        request = urllib.request.Request(f"http://127.0.0.1:{member.client}{path}", data=json.dumps(body).encode(),
                                         method="POST")
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())

    def status(self, member):
        return self.call(member, "/v3/maintenance/status", {}, timeout=0.5)

    def leader(self):
        for member in self.members:
            if not member.alive():
                continue
            try:
                status = self.status(member)
            except (OSError, urllib.error.URLError):
                continue
            if status.get("leader") and status["leader"] == status["header"]["member_id"]:
                return member
        return None

    def url(self):
        return f"http://127.0.0.1:{eventually('an etcd leader', self.leader, timeout=30).client}"

    def term(self):
        return int(self.status(eventually("an etcd leader", self.leader, timeout=30))["header"]["raft_term"])

    def put(self, member, key, value, timeout=2.0):
        self.call(member, "/v3/kv/put", {"key": base64.b64encode(key.encode()).decode(),
                                          "value": base64.b64encode(value.encode()).decode()}, timeout)

    def preload(self, count, value):
        leader = self.leader()
        script = os.path.join(self.workdir, "preload.lua")
        self.sequential_puts(leader, script, count, value)

    def sequential_puts(self, member, script, count, value, prefix="k"):
        """Writes prefix0..prefix<count-1> with wrk, 64 connections, in rounds until all are there."""
        os.makedirs(self.workdir, exist_ok=True)
        with open(script, "w") as f:
            f.write(f"""local counter, stop = 0, 0
local v = "{base64.b64encode(value.encode()).decode()}"
local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
-- Base64, three bytes at a time (etcd's JSON gateway takes keys and values so).
local function b64(s)
  local out = {{}}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local quad = {{}}
    for j = 3, 0, -1 do
      local index = math.floor(n / 64 ^ j) % 64
      quad[#quad + 1] = alphabet:sub(index + 1, index + 1)
    end
    if not b then quad[3], quad[4] = "=", "=" elseif not c then quad[4] = "=" end
    out[#out + 1] = table.concat(quad)
  end
  return table.concat(out)
end
init = function(args) counter = tonumber(args[1]); stop = tonumber(args[2]) end
request = function()
  local k = counter
  counter = counter + 1
  if k >= stop then k = stop - 1 end
  return wrk.format("POST", "/v3/kv/put", nil, '{{"key":"' .. b64("{prefix}" .. k) .. '","value":"' .. v .. '"}}')
end
""")
        start = 0
        while start < count:
            seconds = max(2, min(20, (count - start) // 2000 + 1))
            done = subprocess.run(["wrk", "-t1", "-c64", f"-d{seconds}s", "-s", script, f"http://127.0.0.1:{member.client}",
                                   "--", str(start), str(count)], capture_output=True, text=True, check=True)
            start += int(re.search(r"(\d+) requests in", done.stdout).group(1)) - 64

    def failover(self, rounds):
        times = []
        for i in range(rounds):
            leader = eventually("an etcd leader", self.leader, timeout=30)
            other = next(m for m in self.members if m is not leader)
            leader.kill()
            times.append(until_ok(lambda: self.put(other, "failover", str(i), timeout=0.3)) * 1000)
            self.start_member(leader, state="existing")
            eventually("the old etcd leader to serve", lambda: self.status(leader) is not None, timeout=30)
        return statistics.median(times), max(times)

    def memory_for_million(self):
        leader = eventually("an etcd leader", self.leader, timeout=30)
        self.sequential_puts(leader, os.path.join(self.workdir, "million.lua"), MILLION, "v" * 100, prefix="million-")
        return max(resident_mb(m.process.pid) for m in self.members)
