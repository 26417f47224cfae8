"""Real raft-cache processes on loopback for the cluster tests: start, stop, kill, ask for
status, and wait for conditions with deadlines. The binary is RAFT_CACHE_BIN or
.build/debug/raft-cache; the load generator RAFT_CACHE_LOAD_BIN or .build/debug/raft-cache-load.
Run as root, they run both as an unprivileged user (unprivileged.py) in a directory it owns."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import raftcache_client as rc  # noqa: E402
import unprivileged  # noqa: E402

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", ".."))
BINARY = os.environ.get("RAFT_CACHE_BIN", os.path.join(ROOT, ".build", "debug", "raft-cache"))
LOAD_BINARY = os.environ.get("RAFT_CACHE_LOAD_BIN", os.path.join(ROOT, ".build", "debug", "raft-cache-load"))

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def eventually(what, condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            result = condition()
            if result:
                return result
        except (rc.RPCError, OSError) as error:
            last = error
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what} (last error: {last})")


class Node:
    """One raft-cache process. With `certs` (a folder made by `raft-cache certs`) it speaks TLS
    with its own certificate, and the test's calls use `client_cert` (a name in that folder)
    and `token`."""

    def __init__(self, workdir, node_id, join=None, api_endpoint=None, args=(), certs=None, client_cert="admin",
                 token=""):
        self.id = node_id
        self.port = free_port()
        self.http_port = free_port()
        self.addr = f"127.0.0.1:{self.port}"
        self.certs = certs
        self.tls = rc.tls_context(*tls_files(certs, client_cert)) if certs else None
        self.token = token
        self.http = f"{'https' if certs else 'http'}://127.0.0.1:{self.http_port}"
        self.dir = os.path.join(workdir, node_id)
        self.join = join
        self.api_endpoint = api_endpoint
        self.args = list(args)
        self.process = None
        unprivileged.writable_dir(workdir)  # The node creates its --raft-dir in it.
        self.log = open(os.path.join(workdir, node_id + ".log"), "ab")

    def start(self):
        args = [BINARY, f"--local-id={self.id}", f"--raft-addr={self.addr}", f"--raft-dir={self.dir}",
                f"--port=127.0.0.1:{self.http_port}", "--log-level=notice", "--max-value-size=65536"]
        if self.join:
            args.append(f"--leader-addr={self.join}")
        if self.api_endpoint:
            args.append(f"--leader-api-endpoint={self.api_endpoint}")
        if self.certs:
            ca, cert, key = tls_files(self.certs, self.id)
            args += [f"--tls-ca-file={ca}", f"--tls-cert-file={cert}", f"--tls-key-file={key}"]
        self.process = subprocess.Popen(unprivileged.command(args + self.args), stdout=self.log, stderr=self.log)

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

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def client(self, timeout=3.0):
        return rc.Client(self.addr, timeout=timeout, tls=self.tls, token=self.token)

    def status(self):
        with self.client() as c:
            return c.status()

    def http_status(self):
        """GET /api/v1/status as a dict."""
        code, body, _ = self.request("GET", "/api/v1/status")
        assert code == 200, body
        return json.loads(body)

    def alive(self):
        return self.process is not None and self.process.poll() is None

    def log_text(self):
        self.log.flush()
        with open(self.log.name, "rb") as f:
            return f.read().decode(errors="replace")

    def disk_bytes(self, subdir=""):
        """Bytes of the files under this node's --raft-dir (or a folder of it)."""
        total = 0
        for folder, _, files in os.walk(os.path.join(self.dir, subdir)):
            total += sum(os.path.getsize(os.path.join(folder, f)) for f in files)
        return total


def tls_files(certs, name):
    """The CA, and `name`'s certificate and key, in a folder `raft-cache certs` wrote."""
    return (os.path.join(certs, "ca.pem"), os.path.join(certs, f"{name}.pem"), os.path.join(certs, f"{name}-key.pem"))


def make_certs(folder, nodes, clients):
    """Runs `raft-cache certs` (as the nodes' user, so they can read their keys)."""
    unprivileged.writable_dir(folder)
    args = [BINARY, "certs", f"--dir={folder}"] + [f"--node={n}" for n in nodes] + [f"--client={c}" for c in clients]
    done = subprocess.run(unprivileged.command(args), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return folder


def load(targets, *args, timeout=600):
    """Runs the load generator against the nodes' binary addresses; returns its JSON report."""
    command = [LOAD_BINARY, "--json"] + [f"--target={t.addr}" for t in targets] + [str(a) for a in args]
    done = subprocess.run(unprivileged.command(command), capture_output=True, text=True, timeout=timeout)
    assert done.returncode in (0, 1), done.stderr
    return json.loads(done.stdout)


def running(workdir, first, joiners):
    """Starts `first`, then the joiners once it leads; yields all three once they are voters,
    and stops them and removes `workdir` afterwards (kept, logs and all, with
    RAFT_CACHE_KEEP_WORKDIR=1)."""
    nodes = [first] + joiners
    try:
        first.start()
        eventually("node-1 to lead", lambda: first.status().role == rc.wire.kv_pb2.ROLE_LEADER)
        for node in joiners:
            node.start()
        eventually("three voters", lambda: sum(
            1 for m in first.status().members if m.suffrage == rc.wire.raft_pb2.SUFFRAGE_VOTER) == 3)
        yield nodes
    finally:
        for node in nodes:
            node.stop()
        if os.environ.get("RAFT_CACHE_KEEP_WORKDIR") != "1":
            shutil.rmtree(workdir, ignore_errors=True)


def leader_of(nodes):
    for node in nodes:
        if node.process.poll() is None:
            try:
                if node.status().role == rc.wire.kv_pb2.ROLE_LEADER:
                    return node
            except (rc.RPCError, OSError):
                pass
    return None


