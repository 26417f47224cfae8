"""Who may call what. A TLS cluster made with `raft-cache certs`: peers authenticate each other,
clients by certificate (its OU is the role) or bearer token; a Raft message's sender must be
the peer its certificate names; a certificate rotated on disk is served after SIGHUP. A node
with --auth-token-file and no TLS: tokens and their roles over HTTP and the binary protocol,
never logged."""

import json
import os
import signal
import socket
import ssl
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import raftcache_client as rc  # noqa: E402
import raftcache_wire as wire  # noqa: E402
import unprivileged  # noqa: E402

from raftcache_cluster import (BINARY, LOAD_BINARY, WIRE_DUMP_BINARY, Node, WireDumpProxy, eventually,  # noqa: E402
                               founder_and_joiners, leader_of, load, make_certs, running, tls_files)

pytestmark = pytest.mark.skipif(not os.path.exists(BINARY), reason=f"{BINARY} is not built")

UNAUTHENTICATED = wire.wire_pb2.STATUS_CODE_UNAUTHENTICATED
PERMISSION_DENIED = wire.wire_pb2.STATUS_CODE_PERMISSION_DENIED
READ_TOKEN, WRITE_TOKEN, ADMIN_TOKEN = "read-token-0123456789", "write-token-0123456789", "admin-token-0123456789"


@pytest.fixture(scope="module")
def tls_cluster():
    workdir = tempfile.mkdtemp(prefix="raft-cache-tls-")
    unprivileged.writable_dir(workdir)
    certs = make_certs(os.path.join(workdir, "certs"), ["node-1", "node-2", "node-3"],
                       ["admin:admin", "app:write", "reader:read"])
    yield from running(workdir, founder_and_joiners(workdir, certs=certs))


def client_as(node, name, token=""):
    """A binary client of `node` with `name`'s certificate (None: none)."""
    ca, cert, key = tls_files(node.certs, name or "ca")
    return rc.Client(node.addr, timeout=3, tls=rc.tls_context(ca, cert if name else None, key if name else None),
                     token=token)


def https_as(node, name):
    ca, cert, key = tls_files(node.certs, name or "ca")
    return rc.tls_context(ca, cert if name else None, key if name else None)


def test_tls_cluster_serves_every_node(tls_cluster):
    for i, node in enumerate(tls_cluster):
        with node.client() as c:
            assert c.set(f"tls-{i}".encode(), b"v") > 0
        code, _, _ = node.request("PUT", f"/api/v1/key/https-{i}", b"over https")
        assert code == 200
    for node in tls_cluster:
        with client_as(node, "reader") as c:
            assert [c.get(f"tls-{i}".encode()) for i in range(3)] == [b"v"] * 3
        code, body, _ = node.request("GET", "/api/v1/key/https-2", tls=https_as(node, "reader"))
        assert (code, body) == (200, b"over https\n")
    # The node's certificate is valid for 127.0.0.1: an HTTPS client checking it as curl does.
    strict = ssl.create_default_context(cafile=tls_files(tls_cluster[0].certs, "admin")[0])
    strict.load_cert_chain(*tls_files(tls_cluster[0].certs, "admin")[1:])
    assert tls_cluster[0].request("GET", "/api/v1/status", tls=strict)[0] == 200


def test_roles_of_client_certificates(tls_cluster):
    follower = next(n for n in tls_cluster if n is not leader_of(tls_cluster))
    with client_as(follower, "reader") as c:
        with pytest.raises(rc.RPCError) as refused:
            c.set(b"k", b"v")
        assert refused.value.status == PERMISSION_DENIED
    with client_as(follower, "app") as c:
        assert c.set(b"app-key", b"v") > 0  # A writer's write, forwarded by a follower.
        with pytest.raises(rc.RPCError) as refused:
            c.call("/raftcache.Raft/RemoveServer", wire.raft_pb2.RemoveServerRequest(id="node-3"))
        assert refused.value.status == PERMISSION_DENIED
    code, body, _ = follower.request("PUT", "/api/v1/key/k", b"v", tls=https_as(follower, "reader"))
    assert code == 403 and "needs write" in json.loads(body)["message"]
    code, _, _ = follower.request("POST", "/api/v1/snapshot", tls=https_as(follower, "app"))
    assert code == 403
    # Probes answer anyone; everything else wants a credential.
    assert follower.request("GET", "/health", tls=https_as(follower, None))[0] == 200
    code, _, headers = follower.request("GET", "/api/v1/key/k", tls=https_as(follower, None))
    assert code == 401 and headers["WWW-Authenticate"] == "Bearer"
    with client_as(follower, None) as c:
        with pytest.raises(rc.RPCError) as refused:
            c.get(b"app-key")
        assert refused.value.status == UNAUTHENTICATED
    # Plain TCP to a TLS port gets a TLS alert record (type 21) at most, never an answer.
    with socket.create_connection(("127.0.0.1", follower.port), timeout=3) as s:
        s.sendall(wire.request_frame(1, "/raftcache.KV/Status", wire.kv_pb2.StatusRequest()))
        try:
            answer = s.recv(4096)
        except ConnectionResetError:
            answer = b""
        assert answer == b"" or answer[0] == 21


def test_only_a_peer_speaks_raft_and_only_for_itself(tls_cluster):
    leader = leader_of(tls_cluster)
    follower = next(n for n in tls_cluster if n is not leader)
    other = next(n for n in tls_cluster if n not in (leader, follower))
    term = follower.status().term
    forged = wire.raft_pb2.AppendEntriesRequest(term=term + 1, leader_id=leader.id, target_id=follower.id)
    # An admin's certificate is no peer's.
    with client_as(follower, "admin") as c:
        with pytest.raises(rc.RPCError) as refused:
            c.call("/raftcache.Raft/AppendEntries", forged)
        assert refused.value.status == PERMISSION_DENIED
    # No certificate at all.
    with client_as(follower, None) as c:
        with pytest.raises(rc.RPCError) as refused:
            c.call("/raftcache.Raft/AppendEntries", forged)
        assert refused.value.status == UNAUTHENTICATED
    # A real peer's certificate, claiming to be the leader.
    with client_as(follower, other.id) as c:
        with pytest.raises(rc.RPCError) as refused:
            c.call("/raftcache.Raft/AppendEntries", forged)
        assert refused.value.status == PERMISSION_DENIED
        assert "cannot send a message from" in refused.value.message
    assert follower.status().term == term
    assert leader_of(tls_cluster) is leader


def served_serial(node):
    """The serial number of the certificate the node's binary port presents now."""
    ca, _, _ = tls_files(node.certs, "ca")
    context = rc.tls_context(ca)
    with socket.create_connection(("127.0.0.1", node.port), timeout=3) as raw:
        with context.wrap_socket(raw) as tls:
            return tls.getpeercert()["serialNumber"]


def test_certificate_rotated_on_disk_is_served_after_sighup(tls_cluster):
    node = tls_cluster[2]
    before = served_serial(node)
    make_certs(node.certs, [node.id], [])  # Signed by the same CA, a new serial and key.
    assert served_serial(node) == before  # Nothing changes until the node is told.
    node.process.send_signal(signal.SIGHUP)
    eventually("the new certificate to be served", lambda: served_serial(node) != before)
    assert "TLS certificate, key and CA read again" in node.log_text()
    with node.client() as c:  # Peers and clients still get through.
        assert c.set(b"after-rotation", b"v") > 0

    def everywhere():
        for member in tls_cluster:
            with member.client() as c:
                if c.get(b"after-rotation", "stale") != b"v":
                    return False
        return True
    eventually("every member to hold the write", everywhere)


@pytest.fixture(scope="module")
def token_cluster():
    """Three nodes with tokens and no TLS: the joiners join with the file's admin token."""
    workdir = tempfile.mkdtemp(prefix="raft-cache-tokens-")
    unprivileged.writable_dir(workdir)
    tokens = os.path.join(workdir, "tokens")
    with open(tokens, "w") as f:
        f.write(f"# role token name\nread {READ_TOKEN} dashboards\nwrite {WRITE_TOKEN} app\nadmin {ADMIN_TOKEN} ops\n")
    args = [f"--auth-token-file={tokens}"]
    yield from running(workdir, founder_and_joiners(workdir, args=args, token=ADMIN_TOKEN))


@pytest.fixture
def token_node(token_cluster):
    return token_cluster[0]


def test_a_follower_forwards_a_write_with_its_callers_token(token_cluster):
    follower = next(n for n in token_cluster if n is not leader_of(token_cluster))
    bearer = lambda token: {"Authorization": f"Bearer {token}"}  # noqa: E731
    assert follower.request("PUT", "/api/v1/key/forwarded", b"v", headers=bearer(WRITE_TOKEN))[0] == 200
    assert follower.request("PUT", "/api/v1/key/forwarded", b"x", headers=bearer(READ_TOKEN))[0] == 403
    with rc.Client(follower.addr, timeout=3, token=WRITE_TOKEN) as c:
        assert c.set(b"forwarded-bin", b"v") > 0
    for node in token_cluster:
        with rc.Client(node.addr, timeout=3, token=READ_TOKEN) as c:
            assert c.get(b"forwarded") == b"v"


def test_tokens_and_their_roles(token_node):
    node = token_node
    bearer = lambda token: {"Authorization": f"Bearer {token}"}  # noqa: E731
    assert node.request("PUT", "/api/v1/key/t", b"v", headers=bearer(WRITE_TOKEN))[0] == 200
    assert node.request("GET", "/api/v1/key/t", headers=bearer(READ_TOKEN))[:2] == (200, b"v\n")
    assert node.request("PUT", "/api/v1/key/t", b"x", headers=bearer(READ_TOKEN))[0] == 403
    assert node.request("POST", "/api/v1/snapshot", headers=bearer(WRITE_TOKEN))[0] == 403
    assert node.request("POST", "/api/v1/snapshot", headers=bearer(ADMIN_TOKEN))[0] == 200
    assert node.request("GET", "/api/v1/key/t", headers=bearer("not-a-token-at-all-really"))[0] == 401
    assert node.request("GET", "/api/v1/key/t", headers={"Authorization": ""})[0] == 401
    for token, may_write in ((READ_TOKEN, False), (WRITE_TOKEN, True)):
        with rc.Client(node.addr, timeout=3, token=token) as c:
            assert c.get(b"t") == b"v"
            if may_write:
                assert c.set(b"t2", b"v") > 0
            else:
                with pytest.raises(rc.RPCError) as refused:
                    c.set(b"t2", b"v")
                assert refused.value.status == PERMISSION_DENIED
    with rc.Client(node.addr, timeout=3, token="") as c:
        with pytest.raises(rc.RPCError) as refused:
            c.get(b"t")
        assert refused.value.status == UNAUTHENTICATED
    # Tokens are secrets: never in the log, whatever happened.
    log = node.log_text()
    assert all(token not in log for token in (READ_TOKEN, WRITE_TOKEN, ADMIN_TOKEN))


def test_a_changed_token_file_takes_effect_on_sighup(token_node):
    node = token_node
    tokens = [a.split("=", 1)[1] for a in node.args if a.startswith("--auth-token-file=")][0]
    rotated = "rotated-token-0123456789"
    with open(tokens, "a") as f:
        f.write(f"read {rotated}\n")
    assert node.request("GET", "/api/v1/status", headers={"Authorization": f"Bearer {rotated}"})[0] == 401
    node.process.send_signal(signal.SIGHUP)
    eventually("the new token to be accepted", lambda: node.request(
        "GET", "/api/v1/status", headers={"Authorization": f"Bearer {rotated}"})[0] == 200)
    assert rotated not in node.log_text()


@pytest.mark.skipif(not os.path.exists(WIRE_DUMP_BINARY), reason="wire-dump is not built")
def test_wire_dump_proxy_ends_tls_on_both_sides(tls_cluster):
    node = tls_cluster[0]
    # Clients see a node's certificate (one made for serving); the node sees the app's.
    ca, cert, key = tls_files(node.certs, node.id)
    _, app_cert, app_key = tls_files(node.certs, "app")
    proxy = WireDumpProxy(node.addr, "--tls-ca-file", ca, "--tls-cert-file", cert, "--tls-key-file", key,
                          "--tls-upstream-cert-file", app_cert, "--tls-upstream-key-file", app_key)
    try:
        assert "listening" in proxy.first_record()["note"]
        # The client speaks TLS to the proxy, the proxy to the node with the app certificate.
        with rc.Client(proxy.addr, timeout=3, tls=https_as(node, "reader")) as through:
            assert through.set(b"through-proxy", b"v") > 0
    finally:
        out, err = proxy.stop()
    records = [json.loads(line) for line in out.splitlines()]
    methods = [r.get("method") for r in records if r.get("kind") == "request"]
    assert "/raftcache.KV/Set" in methods, records


@pytest.mark.skipif(not os.path.exists(LOAD_BINARY), reason="raft-cache-load is not built")
def test_load_generator_speaks_tls(tls_cluster):
    report = load([tls_cluster[1]], "--count=200", "--in-flight=8", client="app", timeout=120)
    assert report["ok"] == 200 and report["errors"] == {}, report


def test_tls_keylog_file_is_written_with_a_warning(tls_cluster):
    """--tls-keylog-file (for Wireshark): NSS key log lines for every session, and a warning."""
    workdir = tempfile.mkdtemp(prefix="raft-cache-keylog-")
    unprivileged.writable_dir(workdir)
    keylog = os.path.join(workdir, "keys.log")
    node = Node(workdir, "node-1", certs=tls_cluster[0].certs, args=[f"--tls-keylog-file={keylog}"])
    node.start()
    try:
        eventually("node-1 to lead", lambda: node.status().role == rc.wire.kv_pb2.ROLE_LEADER)
        with open(keylog) as f:
            lines = f.read().splitlines()
        labels = {line.split(" ")[0] for line in lines}
        assert lines and all("SECRET" in label or label == "CLIENT_RANDOM" for label in labels), labels
        assert "TLS session secrets are written to" in node.log_text()
    finally:
        node.stop()
