"""A raft-cache cluster whose nodes each live in a network namespace of their own, joined by
a bridge, so faults are real: a partition is a blackhole route inside a node's namespace
(packets to that peer vanish, as on a cut cable), a pause is SIGSTOP, a crash is SIGKILL.
Clients stay in the root namespace and reach every node over the bridge, so they can watch
how a node on the minority side answers. Needs root (ip netns, veth, bridge); the nodes
themselves run unprivileged (see tools/clients/python/unprivileged.py)."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "clients", "python"))
import raftcache_client as rc  # noqa: E402
import unprivileged  # noqa: E402

RAFT_PORT = 7000
HTTP_PORT = 8000


def sh(*args, check=True):
    return subprocess.run(args, check=check, capture_output=True, text=True)


class NetNode:
    def __init__(self, cluster, index):
        self.cluster = cluster
        self.id = f"n{index}"
        self.ip = f"{cluster.prefix}.{10 + index}"
        self.netns = f"{cluster.name}-{index}"
        self.addr = f"{self.ip}:{RAFT_PORT}"
        self.http = f"{'https' if cluster.certs else 'http'}://{self.ip}:{HTTP_PORT}"
        # The clients' TLS context (an admin certificate), or None without TLS.
        self.tls = rc.tls_context(*cluster.tls_files("admin")) if cluster.certs else None
        self.dir = os.path.join(cluster.workdir, self.id)
        self.process = None
        self.paused = False
        self.log = open(os.path.join(cluster.workdir, self.id + ".log"), "ab")

    def start(self, join=None):
        args = [self.cluster.binary, f"--local-id={self.id}", f"--raft-addr={self.addr}", f"--raft-dir={self.dir}",
                f"--port={self.ip}:{HTTP_PORT}", "--log-level=notice", "--timeout=1s"]
        if self.cluster.certs:
            ca, cert, key = self.cluster.tls_files(self.id)
            args += [f"--tls-ca-file={ca}", f"--tls-cert-file={cert}", f"--tls-key-file={key}"]
        elif self.cluster.insecure:
            args.append("--insecure")  # Nodes and clients reach each other across namespaces, not on loopback.
        if join:
            args.append(f"--leader-addr={join}")
        # Entering the namespace needs root; the node after it does not, and must not have it.
        self.process = subprocess.Popen(["ip", "netns", "exec", self.netns, *unprivileged.command(args)],
                                        stdout=self.log, stderr=self.log)
        self.paused = False

    def alive(self):
        return self.process is not None and self.process.poll() is None

    def kill(self):
        if self.alive():
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def pause(self):
        self.process.send_signal(signal.SIGSTOP)
        self.paused = True

    def resume(self):
        if self.paused and self.alive():
            self.process.send_signal(signal.SIGCONT)
        self.paused = False

    def stop(self):
        self.resume()
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def status(self, timeout=1.0):
        """GET /api/v1/status as a dict, or None when the node does not answer."""
        try:
            with urllib.request.urlopen(self.http + "/api/v1/status", timeout=timeout, context=self.tls) as response:
                return json.loads(response.read())
        except (OSError, ValueError, urllib.error.URLError):
            return None


class NetCluster:
    """`size` nodes n1..nN in namespaces <name>-1.. on the bridge <name>b, subnet <prefix>.0/24;
    with `tls`, speaking mutual TLS with certificates from `raft-cache certs` (else --insecure,
    unless `insecure` is False: then the nodes refuse everyone, who is not on their loopback)."""

    def __init__(self, binary, workdir, size=3, tls=False, insecure=True):
        tag = os.getpid() % 10000
        self.name = f"rc{tag}"
        self.prefix = f"10.{200 + tag % 50}.{tag % 250}"
        self.bridge = f"{self.name}b"
        self.binary = os.path.abspath(binary)
        self.workdir = workdir
        self.nodes = []
        self.cuts = set()
        self.size = size
        self.insecure = insecure
        self.certs = os.path.join(workdir, "certs") if tls else None
        if self.certs:
            unprivileged.writable_dir(workdir)
            unprivileged.writable_dir(self.certs)
            done = subprocess.run(unprivileged.command(
                [self.binary, "certs", f"--dir={self.certs}", "--client=admin:admin"]
                + [f"--node=n{i}" for i in range(1, size + 1)]), capture_output=True, text=True)
            if done.returncode != 0:
                raise SystemExit(f"chaos: raft-cache certs failed: {done.stderr}")

    def tls_files(self, name):
        return (os.path.join(self.certs, "ca.pem"), os.path.join(self.certs, f"{name}.pem"),
                os.path.join(self.certs, f"{name}-key.pem"))

    def __enter__(self):
        if os.geteuid() != 0:
            raise SystemExit("chaos: network namespaces need root")
        unprivileged.writable_dir(self.workdir)  # The nodes create their --raft-dir in it.
        sh("ip", "link", "add", self.bridge, "type", "bridge")
        sh("ip", "addr", "add", f"{self.prefix}.1/24", "dev", self.bridge)
        sh("ip", "link", "set", self.bridge, "up")
        for i in range(1, self.size + 1):
            node = NetNode(self, i)
            host, inner = f"{self.name}h{i}", f"{self.name}v{i}"
            sh("ip", "netns", "add", node.netns)
            sh("ip", "link", "add", host, "type", "veth", "peer", "name", inner)
            sh("ip", "link", "set", inner, "netns", node.netns)
            sh("ip", "link", "set", host, "master", self.bridge, "up")
            sh("ip", "netns", "exec", node.netns, "ip", "addr", "add", f"{node.ip}/24", "dev", inner)
            sh("ip", "netns", "exec", node.netns, "ip", "link", "set", inner, "up")
            sh("ip", "netns", "exec", node.netns, "ip", "link", "set", "lo", "up")
            self.nodes.append(node)
        return self

    def __exit__(self, *exc):
        for node in self.nodes:
            node.stop()
        for node in self.nodes:
            sh("ip", "netns", "del", node.netns, check=False)
        sh("ip", "link", "del", self.bridge, check=False)

    def start(self, timeout=30):
        """Founds the cluster on n1 and joins the others; returns once all are voters."""
        first = self.nodes[0]
        first.start()
        self.wait("n1 to lead", lambda: (first.status() or {}).get("role") == "leader", timeout)
        for node in self.nodes[1:]:
            node.start(join=first.addr)
        self.wait("every node a voter", lambda: sum(
            1 for m in (first.status() or {}).get("members", []) if m["suffrage"] == "voter") == self.size, timeout)

    @staticmethod
    def wait(what, condition, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            time.sleep(0.1)
        raise TimeoutError(f"chaos: timed out waiting for {what}")

    def leader(self):
        for node in self.nodes:
            if node.alive() and not node.paused and (node.status(0.5) or {}).get("role") == "leader":
                return node
        return None

    # Network faults: a cut from a to b drops every packet a sends to b.

    def cut(self, a, b):
        if (a.id, b.id) not in self.cuts:
            sh("ip", "netns", "exec", a.netns, "ip", "route", "add", "blackhole", f"{b.ip}/32")
            self.cuts.add((a.id, b.id))

    def partition(self, side):
        """Cuts both ways between `side` and everyone else."""
        for a in side:
            for b in self.nodes:
                if b not in side:
                    self.cut(a, b)
                    self.cut(b, a)

    def heal_network(self):
        by_id = {node.id: node for node in self.nodes}
        for a, b in sorted(self.cuts):
            sh("ip", "netns", "exec", by_id[a].netns, "ip", "route", "del", "blackhole", f"{by_id[b].ip}/32", check=False)
        self.cuts = set()

    def heal(self):
        """Ends every fault: the network whole, paused nodes resumed, dead ones restarted."""
        self.heal_network()
        for node in self.nodes:
            node.resume()
            if not node.alive():
                node.start()

    def converged(self):
        """Every node has applied the same index and holds the same map (same digest)."""
        statuses = [node.status() for node in self.nodes]
        if any(s is None for s in statuses):
            return False
        return len({(s["applied_index"], s["digest"]) for s in statuses}) == 1 and statuses[0]["leader_id"] != ""

    def remove_workdir(self):
        shutil.rmtree(self.workdir, ignore_errors=True)
