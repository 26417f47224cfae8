"""A small client for raft-cache's binary protocol (the KV service of Protos/kv.proto).

    from raftcache_client import Client
    with Client("localhost:8081") as c:
        c.set(b"hello", b"world")
        c.get(b"hello")          # b"world", or None when the key is missing
        c.delete(b"hello")
        c.set(b"session", b"data", ttl_ms=30_000)        # gone 30 s after it is written
        c.txn([compare(b"lock", "exists", "!=")],        # take a lock if nobody holds it
              [op("set", b"lock", b"me", ttl_ms=10_000)], [op("get", b"lock")])
        c.status()               # a kv_pb2.StatusResponse

Any node takes any call: followers forward writes to the leader and serve linearizable
reads after asking the leader for a read index.

A node with TLS wants `tls=tls_context(ca, cert, key)` (a client certificate names the caller
and its role) or `tls=tls_context(ca)` with a bearer `token`; a node with tokens but no TLS
wants the token alone.
"""

import socket
import ssl

import raftcache_wire as wire

kv_pb2 = wire.kv_pb2

CONSISTENCY = {
    "linearizable": wire.kv_pb2.CONSISTENCY_LINEARIZABLE,
    "lease": wire.kv_pb2.CONSISTENCY_LEASE,
    "stale": wire.kv_pb2.CONSISTENCY_STALE,
}

STATUS_NAMES = {v.number: v.name.replace("STATUS_CODE_", "") for v in wire.wire_pb2.StatusCode.DESCRIPTOR.values}


class RPCError(Exception):
    """A call answered with a status other than OK."""

    def __init__(self, status, message, detail=None):
        super().__init__(f"{STATUS_NAMES.get(status, status)}: {message}")
        self.status = status
        self.message = message
        self.detail = detail


def tls_context(ca, cert=None, key=None):
    """A TLS context trusting the cluster CA `ca`, presenting `cert` and `key` if given. The
    node's certificate is checked against the CA, not against the address called: a cluster
    is called by address, and its certificates name node ids."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca)
    context.check_hostname = False
    if cert:
        context.load_cert_chain(cert, key)
    return context


def split_host_port(address, default_host="localhost"):
    """(host, port) of "host:port" or "[v6 address]:port"; an empty host is `default_host`.
    Raises ValueError for anything else."""
    host, colon, port = address.rpartition(":")
    if not colon or not port.isdigit() or int(port) > 65535 or host.startswith("[") != host.endswith("]"):
        raise ValueError(f"{address!r} is not host:port")
    if host.startswith("["):
        host = host[1:-1]
    return host or default_host, int(port)


COMPARE_TARGETS = {"exists": kv_pb2.COMPARE_TARGET_EXISTS, "value": kv_pb2.COMPARE_TARGET_VALUE,
                   "mod_index": kv_pb2.COMPARE_TARGET_MOD_INDEX}
COMPARE_RESULTS = {"=": kv_pb2.COMPARE_RESULT_EQUAL, "==": kv_pb2.COMPARE_RESULT_EQUAL,
                   "!=": kv_pb2.COMPARE_RESULT_NOT_EQUAL, "<": kv_pb2.COMPARE_RESULT_LESS,
                   ">": kv_pb2.COMPARE_RESULT_GREATER}
OP_TYPES = {"get": kv_pb2.KEY_OP_TYPE_GET, "set": kv_pb2.KEY_OP_TYPE_SET, "delete": kv_pb2.KEY_OP_TYPE_DELETE}


def compare(key, target, result="=", value=b"", mod_index=0):
    """A transaction's compare: target "exists", "value" or "mod_index"; result =, !=, < or >."""
    return kv_pb2.Compare(key=key, target=COMPARE_TARGETS[target], result=COMPARE_RESULTS[result], value=value,
                          mod_index=mod_index)


def op(kind, key, value=b"", ttl_ms=0):
    """An operation of a transaction or batch: kind "get", "set" or "delete"."""
    return kv_pb2.KeyOp(type=OP_TYPES[kind], key=key, value=value, ttl_ms=ttl_ms)


class Client:
    def __init__(self, addr, timeout=5.0, tls=None, token=""):
        self.timeout = timeout
        self.token = token
        self.sock = socket.create_connection(split_host_port(addr), timeout=timeout)
        if tls:
            self.sock = tls.wrap_socket(self.sock)
        self.decoder = wire.FrameDecoder()
        self.next_call_id = 1

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def call(self, method, request, session=None):
        """Calls `method` and returns its decoded response, or raises RPCError. `session`:
        (session id, sequence, acked below) of a client session's write (see Session)."""
        call_id = self.next_call_id
        self.next_call_id += 1
        self.sock.sendall(wire.request_frame(call_id, method, request, timeout_ms=int(self.timeout * 1000),
                                             auth_token=self.token, session=session))
        while True:
            for envelope in self.decoder.frames():
                if envelope.call_id not in (call_id, 0):
                    continue
                if envelope.status != wire.wire_pb2.STATUS_CODE_OK:
                    detail = None
                    if envelope.payload:
                        detail = wire.ErrorDetail()
                        detail.ParseFromString(envelope.payload)
                    raise RPCError(envelope.status, envelope.message, detail)
                response = wire.METHODS[method][1]()
                response.ParseFromString(envelope.payload)
                return response
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("the node closed the connection")
            self.decoder.feed(data)

    def watch(self, key=b"", prefix=b"", since=0, keys_only=False, idle_timeout=None):
        """The changes of `key` (or of every key under `prefix`; neither: every key) as a
        generator of WatchResponses, one per log entry (index, events), in commit order:
        first those after `since` the node still holds, then a progress note (no events) at
        its applied index, then each change as the node applies it. Resume after a break with
        since = the last index seen. Ends with RPCError OUT_OF_RANGE (error.detail.oldest_index)
        when the node no longer holds what `since` asks for, RESOURCE_EXHAUSTED when this
        reader fell behind. Closing the generator cancels the watch; the connection is the
        watch's alone until then. `idle_timeout`: seconds without a response before reading
        raises TimeoutError (None: wait for ever; a node sends a progress note every 5 s, so
        a few more than that tell a paused or cut-off node)."""
        call_id = self.next_call_id
        self.next_call_id += 1
        request = wire.kv_pb2.WatchRequest(key=key, prefix=prefix, since=since, keys_only=keys_only)
        self.sock.sendall(wire.request_frame(call_id, "/raftcache.KV/Watch", request, auth_token=self.token))
        self.sock.settimeout(idle_timeout)  # A watch may be quiet for long: its progress notes come every 5 s.
        ended = False
        try:
            while True:
                for envelope in self.decoder.frames():
                    if envelope.call_id not in (call_id, 0):
                        continue
                    if envelope.status != wire.wire_pb2.STATUS_CODE_OK:
                        ended = True
                        detail = None
                        if envelope.payload:
                            detail = wire.ErrorDetail()
                            detail.ParseFromString(envelope.payload)
                        raise RPCError(envelope.status, envelope.message, detail)
                    if not envelope.more:
                        ended = True
                        return
                    response = wire.kv_pb2.WatchResponse()
                    response.ParseFromString(envelope.payload)
                    yield response
                data = self.sock.recv(65536)
                if not data:
                    ended = True
                    raise ConnectionError("the node closed the connection")
                self.decoder.feed(data)
        finally:
            try:  # The connection may be closed already.
                self.sock.settimeout(self.timeout)
                if not ended:
                    self.sock.sendall(wire.encode_frame(wire.Envelope(call_id=call_id, kind=wire.wire_pb2.FRAME_KIND_CANCEL)))
            except OSError:
                pass

    def get(self, key, consistency="linearizable"):
        response = self.get_versioned(key, consistency)
        return None if response is None else response.value

    def get_versioned(self, key, consistency="linearizable"):
        """The whole GetResponse (value, create_index, mod_index, applied_index), or None."""
        try:
            return self.call("/raftcache.KV/Get", wire.kv_pb2.GetRequest(key=key, consistency=CONSISTENCY[consistency]))
        except RPCError as error:
            if error.status == wire.wire_pb2.STATUS_CODE_NOT_FOUND:
                return None
            raise

    def set(self, key, value, if_mod_index=0, if_absent=False, ttl_ms=0):
        """The write's index. With if_mod_index (compare-and-set) or if_absent (create only),
        a condition that fails raises RPCError FAILED_PRECONDITION, the key's version in
        error.detail.current_version. With ttl_ms the key expires that long after the leader
        proposes the write."""
        request = wire.kv_pb2.SetRequest(key=key, value=value, if_mod_index=if_mod_index, if_absent=if_absent,
                                         ttl_ms=ttl_ms)
        return self.call("/raftcache.KV/Set", request).index

    def set_ttl(self, key, ttl_ms):
        """Changes an existing key's time to live (0: it no longer expires): the write's index.
        A missing key raises RPCError NOT_FOUND."""
        return self.call("/raftcache.KV/SetTTL", wire.kv_pb2.SetTTLRequest(key=key, ttl_ms=ttl_ms)).index

    def txn(self, compares=(), success=(), failure=()):
        """A transaction in one log entry: the TxnResponse (succeeded, results, index). Build its
        parts with compare() and op()."""
        request = wire.kv_pb2.TxnRequest(compares=list(compares), success=list(success), failure=list(failure))
        return self.call("/raftcache.KV/Txn", request)

    def batch(self, ops, consistency="linearizable"):
        """Several keys at once (op() of each): the BatchResponse (results, index). With any
        write it is one atomic log entry; with only gets, a read at `consistency`."""
        request = wire.kv_pb2.BatchRequest(ops=list(ops), consistency=CONSISTENCY[consistency])
        return self.call("/raftcache.KV/Batch", request)

    def incr(self, key, by=1):
        """Adds `by` to the key's decimal value (a missing key counts as 0): (new value, index)."""
        response = self.call("/raftcache.KV/Incr", wire.kv_pb2.IncrRequest(key=key, by=by))
        return response.value, response.index

    def delete(self, key, if_mod_index=0):
        return self.call("/raftcache.KV/Delete", wire.kv_pb2.DeleteRequest(key=key, if_mod_index=if_mod_index)).index

    def status(self):
        return self.call("/raftcache.KV/Status", wire.kv_pb2.StatusRequest())

    def open_session(self):
        """Opens a client session for exactly-once writes: (session id, idle timeout in ms)."""
        response = self.call("/raftcache.KV/OpenSession", wire.kv_pb2.OpenSessionRequest())
        return response.session_id, response.timeout_ms


RETRYABLE = {wire.wire_pb2.STATUS_CODE_UNAVAILABLE, wire.wire_pb2.STATUS_CODE_DEADLINE_EXCEEDED,
             wire.wire_pb2.STATUS_CODE_ABORTED}


class Session:
    """Exactly-once writes through any of `addrs`: each write gets the next sequence number of
    a client session and is sent again, with the same number, until some node answers it
    (a lost answer, a dead leader, a broken connection); the cluster applies it once and
    answers a repeat with the first answer. Not thread-safe: one write at a time.

        with Session(["localhost:8081", "localhost:8082"]) as s:
            s.incr(b"visits")            # counted once, however often it is retried

    A session the leader ended (idle past its --session-timeout) raises RPCError
    FAILED_PRECONDITION with detail.session == "expired"; open a new Session. A write that
    could not be answered within `retry_for` raises and stays in `unanswered`: its outcome is
    unknown until it is sent again with the same number (`write(..., sequence=n)`)."""

    def __init__(self, addrs, timeout=3.0, tls=None, token="", retry_for=30.0):
        self.addrs = list(addrs)
        self.timeout, self.tls, self.token, self.retry_for = timeout, tls, token, retry_for
        self.clients = {}
        self.preferred = 0
        self.next_sequence = 1
        self.unanswered = set()  # Sequences sent and not answered: their answers must be kept.
        self.retries = 0
        self.id, self.timeout_ms = self._retrying(lambda c: c.open_session())

    def close(self):
        for client in self.clients.values():
            client.close()
        self.clients = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _client(self, addr):
        if addr not in self.clients:
            self.clients[addr] = Client(addr, timeout=self.timeout, tls=self.tls, token=self.token)
        return self.clients[addr]

    def _retrying(self, call):
        import time
        deadline = time.monotonic() + self.retry_for
        attempt = 0
        while True:
            addr = self.addrs[(self.preferred + attempt) % len(self.addrs)]
            advised = 0.0
            try:
                result = call(self._client(addr))
                self.preferred = self.addrs.index(addr)
                return result
            except RPCError as error:
                full = error.detail is not None and error.detail.session == "full"
                if (error.status not in RETRYABLE and not full) or time.monotonic() > deadline:
                    raise
                # An overloaded node says how long to wait (retry_after_ms), as does one
                # without a leader; never past the deadline.
                advised = error.detail.retry_after_ms / 1000 if error.detail is not None else 0.0
            except OSError:
                if time.monotonic() > deadline:
                    raise
            stale = self.clients.pop(addr, None)
            if stale:
                stale.close()
            attempt += 1
            self.retries += 1
            time.sleep(max(0.0, min(max(advised, min(0.5, 0.02 * attempt)), deadline - time.monotonic())))

    def write(self, method, request, sequence=None):
        """Sends a write of the session until it is answered: its response. `sequence`: send an
        unanswered write again (one from `unanswered`)."""
        if sequence is None:
            sequence = self.next_sequence
            self.next_sequence += 1
        self.unanswered.add(sequence)
        # Every answer below the oldest write not answered was received.
        tag = (self.id, sequence, min(self.unanswered))
        response = self._retrying(lambda c: c.call(method, request, session=tag))
        self.unanswered.discard(sequence)
        return response

    def set(self, key, value, if_mod_index=0, if_absent=False, ttl_ms=0):
        return self.write("/raftcache.KV/Set", kv_pb2.SetRequest(key=key, value=value, if_mod_index=if_mod_index,
                                                                 if_absent=if_absent, ttl_ms=ttl_ms)).index

    def incr(self, key, by=1):
        response = self.write("/raftcache.KV/Incr", kv_pb2.IncrRequest(key=key, by=by))
        return response.value, response.index

    def delete(self, key, if_mod_index=0):
        return self.write("/raftcache.KV/Delete", kv_pb2.DeleteRequest(key=key, if_mod_index=if_mod_index)).index

    def txn(self, compares=(), success=(), failure=()):
        return self.write("/raftcache.KV/Txn", kv_pb2.TxnRequest(compares=list(compares), success=list(success),
                                                                 failure=list(failure)))
