"""Real raft-cache processes, for the tests, the benchmarks and the chaos rounds: a node's
command line, log and signals; waiting for conditions with deadlines; finding the leader;
certificates; the load generator; and a cluster that its first node founds and the others
join. Run as root, every process runs as an unprivileged user (unprivileged.py).

The binaries are RAFT_CACHE_BIN, RAFT_CACHE_LOAD_BIN and WIRE_DUMP_BIN, or else the debug
builds in .build/debug."""

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

import raftcache_client as rc
import unprivileged

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))


def build_path(product, configuration="debug"):
    """Where `swift build` puts `product`."""
    return os.path.join(ROOT, ".build", configuration, product)


BINARY = os.environ.get("RAFT_CACHE_BIN", build_path("raft-cache"))
LOAD_BINARY = os.environ.get("RAFT_CACHE_LOAD_BIN", build_path("raft-cache-load"))
WIRE_DUMP_BINARY = os.environ.get("WIRE_DUMP_BIN", build_path("wire-dump"))

LEADER = rc.wire.kv_pb2.ROLE_LEADER


def _ephemeral_range():
    """The ports the kernel hands out by itself (to connect() and to bind() on port 0)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low, high = (int(n) for n in f.read().split())
        return low, high
    except (OSError, ValueError):
        return 32768, 60999  # Linux's default


_handed_out = set()
_random = random.Random()  # Its own: a test seeding `random` must not make every run pick the same ports.


def free_port():
    """A loopback port no one uses now, for a node (or proxy) to listen on later.

    Not one from bind(("127.0.0.1", 0)): that is a port of the kernel's ephemeral range, and
    from our close until the node's bind the kernel may give that very port to any outgoing
    connection on the machine. connect() takes even ports first and bind(0) odd ones, so they
    meet only once the even ones are in use, as while test_flood holds 20,000 connections, and
    then the node exits with EADDRINUSE ("cannot listen on --raft-addr", "cannot serve HTTP"):
    a cluster that never has its voters. Below (or above) that range the kernel hands out no
    port by itself; each port goes out once per process, checked free with a bind."""
    low, high = _ephemeral_range()
    pools = [range(max(1024, low - 20000), low), range(high + 1, 65536)]
    pool = max(pools, key=len)
    if len(pool) >= 2048:
        for _ in range(200):
            port = _random.choice(pool)
            if port in _handed_out:
                continue
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    continue  # In use (or in TIME_WAIT): another.
            _handed_out.add(port)
            return port
    with socket.socket() as s:  # No room outside the ephemeral range: the kernel's choice.
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TimedOut(AssertionError):
    """What eventually() raises: an AssertionError, so a test that waits in vain fails as one
    whose assertion failed."""


def eventually(what, condition, timeout=10.0, interval=0.05):
    """Calls `condition` until it returns something true, and returns that. A call that raises
    RPCError or OSError (a node not up yet, or gone) counts as false."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            result = condition()
            if result:
                return result
        except (rc.RPCError, OSError) as error:
            last = error
        time.sleep(interval)
    raise TimedOut(f"timed out waiting for {what} (last error: {last})")


class Process:
    """A program run as the unprivileged user, its output appended to `log_path`."""

    def __init__(self, log_path):
        self.log = open(log_path, "ab")
        self.process = None
        self.paused = False

    def launch(self, args):
        self.process = subprocess.Popen(self.launch_prefix() + unprivileged.command(args),
                                        stdout=self.log, stderr=self.log)
        self.paused = False

    def launch_prefix(self):
        """What runs the unprivileged command; a subclass may enter a namespace first."""
        return []

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
        self.resume()  # A stopped process would not act on SIGTERM.
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_text(self):
        self.log.flush()
        with open(self.log.name, "rb") as f:
            return f.read().decode(errors="replace")

    def exited(self):
        """None while the process runs (or was never started); once it has exited, its exit
        status and the last lines of its log (why a node did not come up)."""
        if self.process is None or self.process.poll() is None:
            return None
        tail = " | ".join(self.log_text().strip().splitlines()[-3:])
        return f"{os.path.basename(self.log.name)}: exited with status {self.process.returncode}: {tail}"


class Node(Process):
    """One raft-cache node in `workdir`, its binary protocol (its Raft address) on `port` and its
    HTTP API on `http_port` of `host` (free loopback ports unless given). It joins through
    `join` (a member's address) or `api_endpoint` (a member's HTTP URL), or else founds a
    cluster. With `certs` (a folder `raft-cache certs` wrote) it speaks TLS with its own
    certificate, and the calls made through this object present `client_cert` (a name in that
    folder) and `token`."""

    def __init__(self, workdir, node_id, join=None, api_endpoint=None, args=(), certs=None, client_cert="admin",
                 token="", host="127.0.0.1", port=None, http_port=None, binary=None):
        unprivileged.writable_dir(workdir)  # The node creates its --raft-dir in it.
        super().__init__(os.path.join(workdir, node_id + ".log"))
        self.id = node_id
        self.binary = binary or BINARY
        self.host = host
        self.port = port or free_port()
        self.http_port = http_port or free_port()
        self.addr = f"{host}:{self.port}"
        self.http = f"{'https' if certs else 'http'}://{host}:{self.http_port}"
        self.certs = certs
        self.tls = rc.tls_context(*tls_files(certs, client_cert)) if certs else None
        self.token = token
        self.dir = os.path.join(workdir, node_id)
        self.join = join
        self.api_endpoint = api_endpoint
        self.args = list(args)

    def command(self):
        args = [self.binary, f"--local-id={self.id}", f"--raft-addr={self.addr}", f"--raft-dir={self.dir}",
                f"--port={self.host}:{self.http_port}", "--log-level=notice", "--max-value-size=65536"]
        if self.join:
            args.append(f"--leader-addr={self.join}")
        if self.api_endpoint:
            args.append(f"--leader-api-endpoint={self.api_endpoint}")
        if self.certs:
            ca, cert, key = tls_files(self.certs, self.id)
            args += [f"--tls-ca-file={ca}", f"--tls-cert-file={cert}", f"--tls-key-file={key}"]
        return args + self.args

    def start(self):
        self.launch(self.command())

    def request(self, method, path, body=None, headers=None, tls="default"):
        """An HTTP request to this node: (status, body bytes, headers). `tls`: an SSL context
        other than the node's own client context (or None for no client certificate)."""
        headers = dict(headers or {})
        if self.token:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        request = urllib.request.Request(self.http + path, data=body, method=method, headers=headers)
        context = self.tls if tls == "default" else tls
        try:
            with urllib.request.urlopen(request, timeout=5, context=context) as response:
                return response.status, response.read(), response.headers
        except urllib.error.HTTPError as error:
            return error.code, error.read(), error.headers

    def client(self, timeout=3.0):
        return rc.Client(self.addr, timeout=timeout, tls=self.tls, token=self.token)

    def status(self, timeout=3.0):
        """The node's StatusResponse; raises RPCError or OSError when it does not answer."""
        with self.client(timeout) as c:
            return c.status()

    def status_or_none(self, timeout=3.0):
        """status(), or None for a node that is down, paused or does not answer."""
        if not self.alive() or self.paused:
            return None
        try:
            return self.status(timeout)
        except (rc.RPCError, OSError):
            return None

    def http_status(self):
        """GET /api/v1/status as a dict."""
        code, body, _ = self.request("GET", "/api/v1/status")
        assert code == 200, body
        return json.loads(body)

    def disk_bytes(self, subdir=""):
        """Bytes of the files under this node's --raft-dir (or a folder of it)."""
        total = 0
        for folder, _, files in os.walk(os.path.join(self.dir, subdir)):
            total += sum(os.path.getsize(os.path.join(folder, f)) for f in files)
        return total


def voters(status):
    """The ids of the voters in a StatusResponse's configuration."""
    return {m.id for m in status.members if m.suffrage == rc.wire.raft_pb2.SUFFRAGE_VOTER}


def leader_of(nodes, timeout=3.0):
    """The node among `nodes` that says it leads, or None."""
    for node in nodes:
        status = node.status_or_none(timeout)
        if status is not None and status.role == LEADER:
            return node
    return None


def kill_leaders(nodes, times, keep_going=lambda: True):
    """Kills the leader (SIGKILL) and starts it again, `times` times while `keep_going()`, each
    time once a leader is back and the killed node answers; returns the ids killed, in order
    (to run in a thread beside a client that must ride it out)."""
    killed = []
    while keep_going() and len(killed) < times:
        leader = leader_of(nodes)
        if leader is None:
            continue
        leader.kill()
        killed.append(leader.id)
        leader.start()
        eventually("a leader again", lambda: leader_of(nodes) is not None, timeout=30)
        eventually(f"{leader.id} back", lambda: leader.status_or_none() is not None, timeout=30)
    return killed


def converged(nodes, timeout=3.0):
    """Every node answers, has applied the same index and holds the same pairs (same digest
    and count), and knows a leader."""
    statuses = [node.status_or_none(timeout) for node in nodes]
    if any(s is None for s in statuses):
        return False
    return (len({(s.applied_index, s.digest, s.keys) for s in statuses}) == 1 and statuses[0].applied_index > 0
            and statuses[0].leader_id != "")


class Cluster:
    """Nodes of which the first founds the cluster and the others join it."""

    START_TIMEOUT = 10.0  # For the founder to lead, and then for every node to be a voter.
    STATUS_TIMEOUT = 3.0

    def __init__(self, nodes):
        self.nodes = list(nodes)

    def start(self, timeout=None):
        """Starts the first node, and the others once it leads; returns once all are voters."""
        timeout = timeout or self.START_TIMEOUT
        first = self.nodes[0]

        def started():
            """Fails at once, with its log, when a node has exited (it cannot listen, say)."""
            gone = [reason for reason in (node.exited() for node in self.nodes) if reason]
            if gone:
                raise AssertionError("; ".join(gone))
            return True
        first.start()
        eventually(f"{first.id} to lead", lambda: started() and first.status().role == LEADER, timeout)
        for node in self.nodes[1:]:
            node.start()
        eventually(f"{len(self.nodes)} voters",
                   lambda: started() and len(voters(first.status())) == len(self.nodes), timeout)

    def stop(self):
        for node in self.nodes:
            node.stop()

    def leader(self):
        return leader_of(self.nodes, self.STATUS_TIMEOUT)

    def wait_for_leader(self, timeout=30.0):
        return eventually("a leader", self.leader, timeout)

    def converged(self):
        return converged(self.nodes, self.STATUS_TIMEOUT)


def founder_and_joiners(workdir, count=3, **options):
    """Nodes node-1..node-<count> in `workdir`: node-1 to found the cluster, the others to
    join it. `options` go to every Node."""
    first = Node(workdir, "node-1", **options)
    return [first] + [Node(workdir, f"node-{i}", join=first.addr, **options) for i in range(2, count + 1)]


def running(workdir, nodes):
    """Starts a Cluster of `nodes` (the first founds it) and yields them; stops them and removes
    `workdir` afterwards (kept, logs and all, with RAFT_CACHE_KEEP_WORKDIR=1)."""
    cluster = Cluster(nodes)
    try:
        cluster.start()
        yield cluster.nodes
    finally:
        cluster.stop()
        if os.environ.get("RAFT_CACHE_KEEP_WORKDIR") != "1":
            shutil.rmtree(workdir, ignore_errors=True)


class WireDumpProxy:
    """wire-dump relaying a free loopback port, `addr`, to `forward` (a node's address) and
    printing each call as a line of JSON; `args` are more of its flags."""

    def __init__(self, forward, *args):
        self.addr = f"127.0.0.1:{free_port()}"
        # Unprivileged, as the nodes are: root would hide socket options only root may set.
        self.process = subprocess.Popen(
            unprivileged.command([WIRE_DUMP_BINARY, "--listen", self.addr, "--forward", forward, "--json", *args]),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def first_record(self):
        """The first line it prints (a note that it listens), once printed."""
        return json.loads(self.process.stdout.readline())

    def stop(self):
        """Interrupts it as Ctrl-C would; returns what it printed after the first line, and its stderr."""
        self.process.send_signal(signal.SIGINT)
        out, err = self.process.communicate(timeout=10)
        return out.decode(), err.decode()


def tls_files(certs, name):
    """The CA, and `name`'s certificate and key, in a folder `raft-cache certs` wrote."""
    return (os.path.join(certs, "ca.pem"), os.path.join(certs, f"{name}.pem"), os.path.join(certs, f"{name}-key.pem"))


def make_certs(folder, nodes, clients, binary=None):
    """Runs `raft-cache certs` for `nodes` and `clients` ("name:role") into `folder`, as the
    nodes' user so that they can read their keys; returns `folder`."""
    unprivileged.writable_dir(folder)
    args = [binary or BINARY, "certs", f"--dir={folder}"] + [f"--node={n}" for n in nodes] + \
        [f"--client={c}" for c in clients]
    done = subprocess.run(unprivileged.command(args), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return folder


def load(targets, *args, client="app", binary=None, timeout=600):
    """Runs the load generator against the nodes `targets` (as `client`, a certificate of their
    certs folder, when they speak TLS); returns its JSON report."""
    command = [binary or LOAD_BINARY, "--json"] + [f"--target={t.addr}" for t in targets]
    if targets[0].certs:
        ca, cert, key = tls_files(targets[0].certs, client)
        command += [f"--tls-ca-file={ca}", f"--tls-cert-file={cert}", f"--tls-key-file={key}"]
    done = subprocess.run(unprivileged.command(command + [str(a) for a in args]), capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode in (0, 1), done.stderr  # 1: some calls failed, as the report says.
    return json.loads(done.stdout)
