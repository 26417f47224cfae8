"""A raft-cache cluster whose nodes each live in a network namespace of their own, joined by
a bridge, so faults are real: a partition is a blackhole route inside a node's namespace
(packets to that peer vanish, as on a cut cable), a pause is SIGSTOP, a crash is SIGKILL.
Clients stay in the root namespace and reach every node over the bridge, so they can watch
how a node on the minority side answers. Needs root (ip netns, veth, bridge); the nodes
themselves run unprivileged (see tools/clients/python/unprivileged.py)."""

import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "clients", "python"))
from raftcache_cluster import Cluster, Node, make_certs, unprivileged  # noqa: E402

RAFT_PORT = 7000
HTTP_PORT = 8000


def sh(*args, check=True):
    return subprocess.run(args, check=check, capture_output=True, text=True)


class NetNode(Node):
    """Node n<index>, at <prefix>.<10 + index> in the namespace <name>-<index>."""

    def __init__(self, cluster, index, join=None):
        self.netns = f"{cluster.name}-{index}"
        args = ["--timeout=1s"]
        if not cluster.certs and cluster.insecure:
            args.append("--insecure")  # Nodes and clients reach each other across namespaces, not on loopback.
        super().__init__(cluster.workdir, f"n{index}", join=join, args=args, certs=cluster.certs,
                         host=f"{cluster.prefix}.{10 + index}", port=RAFT_PORT, http_port=HTTP_PORT,
                         binary=cluster.binary)

    def launch_prefix(self):
        # Entering the namespace needs root; the node after it does not, and must not have it.
        return ["ip", "netns", "exec", self.netns]


class NetCluster(Cluster):
    """`size` nodes n1..nN in namespaces <name>-1.. on the bridge <name>b, subnet <prefix>.0/24;
    with `tls`, speaking mutual TLS with certificates from `raft-cache certs` (else --insecure,
    unless `insecure` is False: then the nodes refuse everyone, who is not on their loopback).
    The clients' calls present an admin certificate."""

    START_TIMEOUT = 30.0
    STATUS_TIMEOUT = 1.0  # A node that takes longer is as good as unavailable to the chaos rounds.

    def __init__(self, binary, workdir, size=3, tls=False, insecure=True):
        tag = os.getpid() % 10000
        self.name = f"rc{tag}"
        self.prefix = f"10.{200 + tag % 50}.{tag % 250}"
        self.bridge = f"{self.name}b"
        self.binary = os.path.abspath(binary)
        self.workdir = workdir
        self.cuts = set()
        self.insecure = insecure
        self.certs = None
        if tls:
            unprivileged.writable_dir(workdir)  # The nodes' user must reach the certs folder.
            self.certs = make_certs(os.path.join(workdir, "certs"), [f"n{i}" for i in range(1, size + 1)],
                                    ["admin:admin"], binary=self.binary)
        nodes = []
        for i in range(1, size + 1):
            nodes.append(NetNode(self, i, join=nodes[0].addr if nodes else None))
        super().__init__(nodes)

    def __enter__(self):
        if os.geteuid() != 0:
            raise SystemExit("chaos: network namespaces need root")
        sh("ip", "link", "add", self.bridge, "type", "bridge")
        sh("ip", "addr", "add", f"{self.prefix}.1/24", "dev", self.bridge)
        sh("ip", "link", "set", self.bridge, "up")
        for i, node in enumerate(self.nodes, start=1):
            host, inner = f"{self.name}h{i}", f"{self.name}v{i}"
            sh("ip", "netns", "add", node.netns)
            sh("ip", "link", "add", host, "type", "veth", "peer", "name", inner)
            sh("ip", "link", "set", inner, "netns", node.netns)
            sh("ip", "link", "set", host, "master", self.bridge, "up")
            sh("ip", "netns", "exec", node.netns, "ip", "addr", "add", f"{node.host}/24", "dev", inner)
            sh("ip", "netns", "exec", node.netns, "ip", "link", "set", inner, "up")
            sh("ip", "netns", "exec", node.netns, "ip", "link", "set", "lo", "up")
        return self

    def __exit__(self, *exc):
        self.stop()
        for node in self.nodes:
            sh("ip", "netns", "del", node.netns, check=False)
        sh("ip", "link", "del", self.bridge, check=False)

    # Network faults: a cut from a to b drops every packet a sends to b.

    def cut(self, a, b):
        if (a.id, b.id) not in self.cuts:
            sh("ip", "netns", "exec", a.netns, "ip", "route", "add", "blackhole", f"{b.host}/32")
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
            sh("ip", "netns", "exec", by_id[a].netns, "ip", "route", "del", "blackhole", f"{by_id[b].host}/32", check=False)
        self.cuts = set()

    def heal(self):
        """Ends every fault: the network whole, paused nodes resumed, dead ones restarted."""
        self.heal_network()
        for node in self.nodes:
            node.resume()
            if not node.alive():
                node.start()

    def remove_workdir(self):
        shutil.rmtree(self.workdir, ignore_errors=True)
