#!/usr/bin/env python3
"""Overload of one raft-cache node over HTTP, measured from outside: many writers of large
values, and beside them (optionally) thousands of idle connections and readers that take
their answers slowly. What the node does with work it cannot do in time is the point:
refuse it at once (503 with Retry-After) rather than let it wait out its deadline (504).

    tools/bench/overload.py --http 127.0.0.1:8000 [--writers 400] [--value-size 1MiB]
        [--seconds 20] [--idle 4000 --idle-port 9000] [--slow-readers 400] [--pid PID ...]

Prints one JSON report: writes answered by status, the refusals' latency (from the request
sent on an open connection to the answer's first byte read: connecting is reported apart)
and Retry-After, accepted writes per second and MiB/s, the nodes' peak resident memory
(--pid, sampled every 50 ms from /proc), and what the slow readers saw. The tests import
`flood` from here.

    tools/bench/overload.py --http 127.0.0.1:8000 --read-burst 400 [--value-size 1MiB] [--consistency stale]

Instead asks for one large value on 400 connections at once, and reports how long small writes
beside them took (the node answers reads confirmed together a slice of bytes at a time)."""

import argparse
import asyncio
import http.client
import json
import multiprocessing
import resource
import socket
import threading
import time

from benchsystems import resident_mb


def percentile(values, p):
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


class MemorySampler:
    """The peak VmRSS of each pid, sampled every `interval` seconds until stopped."""

    def __init__(self, pids, interval=0.05):
        self.pids = list(pids)
        self.peak = {pid: 0 for pid in self.pids}
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def rss(pid):
        """Bytes resident (0 for a process gone)."""
        try:
            return int(resident_mb(pid) * (1 << 20))
        except (OSError, AttributeError):  # Gone, or exiting (no VmRSS line any more).
            return 0

    def _run(self):
        while not self._stop.is_set():
            for pid in self.pids:
                self.peak[pid] = max(self.peak[pid], self.rss(pid))
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


class Response:
    """An HTTP/1.1 response: status, headers (lower-case names), body."""

    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    @property
    def closes(self):
        return self.headers.get("connection", "").lower() == "close"


async def connect(host, port):
    """A connection whose reader notes when the event loop first reads bytes after
    `reader.arrived` was cleared: an answer's first byte as it came off the socket, before this
    process's own work on it (with a hundred writers in one process, that work would otherwise
    be counted in the node's latency)."""
    reader, writer = await asyncio.open_connection(host, port)
    feed = reader.feed_data

    def feed_data(data):
        if reader.arrived is None:
            reader.arrived = time.monotonic()
        feed(data)
    reader.arrived = None
    reader.feed_data = feed_data
    return reader, writer


async def read_response(reader):
    """The next answer; its `arrived` is when its first byte was read off the socket."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head[:-4].decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    response = Response(int(lines[0].split(" ")[1]), headers, body)
    response.arrived = reader.arrived or time.monotonic()
    reader.arrived = None
    return response


async def put(reader, writer, path, body, headers, expect_continue):
    """PUT `body` to `path` on a keep-alive connection; with `expect_continue` the body goes
    only once the node says 100 Continue (a refusal comes before it is sent)."""
    reader.arrived = None
    head = [f"PUT {path} HTTP/1.1", "Host: node", f"Content-Length: {len(body)}"]
    head += [f"{name}: {value}" for name, value in headers.items()]
    if expect_continue:
        head.append("Expect: 100-continue")
    reader.sent = time.monotonic()
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
    if expect_continue:
        response = await read_response(reader)
        if response.status != 100:
            return response
    writer.write(body)
    await writer.drain()
    return await read_response(reader)


class Writers:
    """`count` writers (coroutines), each writing `value_size` bytes to its own key over one keep-alive
    connection as fast as it is answered, until `seconds` pass (with `keys` more than `count`,
    each cycles through its share of them). A refusal (503) is waited out
    for the retry_after_ms its body gives (else Retry-After's seconds), as a client should.
    With `expect_continue` each write asks before sending its body (as curl does for large
    ones), so a refusal costs neither side the body."""

    def __init__(self, host, port, count, value_size, seconds, prefix="flood-", headers=None, expect_continue=True, keys=None,
                 first=0, total=None):
        self.host, self.port = host, port
        # Threads first..<first+count of `total` writers (the rest run in other processes).
        self.first, self.total = first, total or count
        self.keys = keys or self.total
        self.count, self.value_size, self.seconds = count, value_size, seconds
        self.prefix = prefix
        self.headers = dict(headers or {})
        self.expect_continue = expect_continue
        self.statuses = {}
        self.refusals_without_retry_after = 0
        # (when, latency in ms, limit) of each refusal, when relative to the run's start.
        self.refusal_log = []
        self.ok_ms = []
        self.kept_refusal_ms = []
        self.connect_ms = []
        self.connection_errors = 0

    async def _one(self, index, deadline, connected):
        body = self.bodies[index % 26]
        mine = list(range(index, self.keys, self.total))
        written = 0
        headers = {"Content-Type": "application/octet-stream", **self.headers}
        reader, writer = connected or (None, None)
        while time.monotonic() < deadline:
            started = time.monotonic()
            fresh = writer is None
            try:
                if writer is None:
                    reader, writer = await connect(self.host, self.port)
                    self.connect_ms.append((time.monotonic() - started) * 1000)
                path = f"/api/v1/key/{self.prefix}{mine[written % len(mine)]}"
                # A request's latency runs from its head handed to the socket (`put` notes
                # when) to its answer's first byte received; connecting is counted apart. No
                # task is made for the timeout: starting one would wait a turn of this loop.
                async with asyncio.timeout(30):
                    response = await put(reader, writer, path, body, headers, self.expect_continue)
            except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError):
                self.connection_errors += 1
                if writer is not None:
                    writer.close()
                writer = None
                await asyncio.sleep(0.05)
                continue
            took = (response.arrived - reader.sent) * 1000
            wait = 0.0
            self.statuses[response.status] = self.statuses.get(response.status, 0) + 1
            if response.status == 200:
                self.ok_ms.append(took)
                written += 1
            elif response.status == 503:
                if not fresh:
                    self.kept_refusal_ms.append(took)
                retry_after = response.headers.get("retry-after")
                if retry_after is None:
                    self.refusals_without_retry_after += 1
                try:
                    detail = json.loads(response.body)
                except ValueError:
                    detail = {}
                limit = detail.get("limit") or detail.get("message", "")[:80]
                self.refusal_log.append((started - self.started, took, limit))
                wait = detail.get("retry_after_ms", 1000 * int(retry_after or 1)) / 1000
            if response.closes:
                # A refusal that came before the body closes the connection (the body it did
                # not send cannot be told from a next request); connect again halfway through
                # the wait, as a pool would, so the next request does not wait for the
                # handshake, and the writers refused together do not all reconnect at once.
                writer.close()
                writer = None
                if wait and time.monotonic() + wait / 2 < deadline:
                    await asyncio.sleep(wait / 2)
                    wait -= wait / 2
                    connecting = time.monotonic()
                    try:
                        reader, writer = await connect(self.host, self.port)
                        self.connect_ms.append((time.monotonic() - connecting) * 1000)
                    except OSError:
                        self.connection_errors += 1
                    wait -= time.monotonic() - connecting
            if wait > 0:
                await asyncio.sleep(max(0.0, min(wait, deadline - time.monotonic())))
        if writer is not None:
            writer.close()

    async def _connect(self):
        started = time.monotonic()
        try:
            connected = await connect(self.host, self.port)
        except OSError:
            self.connection_errors += 1
            return None
        self.connect_ms.append((time.monotonic() - started) * 1000)
        return connected

    def run(self):
        # The values are made before the clock starts: a megabyte each, made by a hundred
        # writers in their first step, would keep this process from reading answers that long.
        self.bodies = {i % 26: bytes([65 + i % 26]) * self.value_size for i in range(self.first, self.first + self.count)}

        async def all_of_them():
            # Every writer connects first, then all begin: hundreds of connections arriving at
            # once wait their turn to be accepted, which is not what a refusal costs.
            connections = await asyncio.gather(*(self._connect() for _ in range(self.count)))
            started = self.started = time.monotonic()
            deadline = started + self.seconds
            await asyncio.gather(*(self._one(i, deadline, connected)
                                   for i, connected in zip(range(self.first, self.first + self.count), connections)))
            self.elapsed = time.monotonic() - started
        asyncio.run(all_of_them())
        return self

    def merge(self, other):
        """Adds what `other` (the same run's writers in another process) saw."""
        for code, n in other.statuses.items():
            self.statuses[code] = self.statuses.get(code, 0) + n
        self.refusal_log += [(when + other.started - self.started, took, limit) for when, took, limit in other.refusal_log]
        self.ok_ms += other.ok_ms
        self.connect_ms += other.connect_ms
        self.kept_refusal_ms += other.kept_refusal_ms
        self.refusals_without_retry_after += other.refusals_without_retry_after
        self.connection_errors += other.connection_errors
        self.elapsed = max(self.elapsed, other.elapsed)
        self.count += other.count

    def report(self):
        answered = sum(self.statuses.values())
        ok = self.statuses.get(200, 0)
        refusal_ms = [took for _, took, _ in self.refusal_log]
        refusal_limits = {}
        for _, _, limit in self.refusal_log:
            refusal_limits[limit] = refusal_limits.get(limit, 0) + 1
        return {
            "writers": self.total,
            "keys": self.keys,
            "value_bytes": self.value_size,
            "seconds": round(self.elapsed, 1),
            "answered": answered,
            "statuses": {str(code): n for code, n in sorted(self.statuses.items())},
            "connection_errors": self.connection_errors,
            "accepted_per_s": round(ok / self.elapsed, 1),
            "accepted_mib_per_s": round(ok * self.value_size / self.elapsed / (1 << 20), 1),
            "accepted_p50_ms": round(percentile(self.ok_ms, 50), 1),
            "accepted_p99_ms": round(percentile(self.ok_ms, 99), 1),
            "timeouts_504_share": round(self.statuses.get(504, 0) / answered, 4) if answered else 0.0,
            "refusals": len(refusal_ms),
            "refusals_without_retry_after": self.refusals_without_retry_after,
            "refusal_limits": refusal_limits,
            "refusal_p50_ms": round(percentile(refusal_ms, 50), 1),
            "refusal_p90_ms": round(percentile(refusal_ms, 90), 1),
            "refusal_p99_ms": round(percentile(refusal_ms, 99), 1),
            "refusal_max_ms": round(max(refusal_ms, default=0.0), 1),
            "refusal_p90_ms_by_limit": {limit: round(percentile([took for _, took, named in self.refusal_log if named == limit], 90), 1)
                                        for limit in refusal_limits},
            # When the slow ones came: the run's seconds with refusals over 100 ms, and how many.
            "refusals_over_100ms_by_second": self._slow_refusals_by_second(),
            # Refusals on a connection open before the request (kept, or opened while waiting),
            # not one opened for it after a failure.
            "kept_refusal_p99_ms": round(percentile(self.kept_refusal_ms, 99), 1),
            "connect_p99_ms": round(percentile(self.connect_ms, 99), 1),
        }

    def _slow_refusals_by_second(self):
        seconds = {}
        for when, took, _ in self.refusal_log:
            if took > 100:
                seconds[int(when)] = seconds.get(int(when), 0) + 1
        return {str(second): n for second, n in sorted(seconds.items())}


def _run_share(arguments):
    return Writers(*arguments[0], **arguments[1]).run()


def run_writers(host, port, count, value_size, seconds, processes=None, **options):
    """Writers spread over several processes, each an asyncio loop: one process would be
    short of CPU, and threads waiting for the interpreter lock would add their wait to the
    latencies measured."""
    processes = processes or max(1, min(4, count // 50))
    shares = [count // processes + (1 if i < count % processes else 0) for i in range(processes)]
    firsts = [sum(shares[:i]) for i in range(processes)]
    work = [((host, port, share, value_size, seconds), dict(options, first=first, total=count))
            for share, first in zip(shares, firsts)]
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        results = pool.map(_run_share, work)
    merged = results[0]
    for other in results[1:]:
        merged.merge(other)
    return merged


class IdleClients:
    """`count` connections spread over `ports`, opened and then left silent."""

    def __init__(self, host, ports, count):
        self.sockets = []
        self.failed = 0
        for i in range(count):
            s = socket.socket()
            try:
                s.connect((host, ports[i % len(ports)]))
                self.sockets.append(s)
            except OSError:
                self.failed += 1
                s.close()

    def still_open(self):
        """How many the node has not closed."""
        open_now = 0
        for s in self.sockets:
            s.setblocking(False)
            try:
                open_now += s.recv(1) != b""
            except BlockingIOError:
                open_now += 1
            except OSError:
                pass
        return open_now

    def close(self):
        for s in self.sockets:
            s.close()


class SlowReaders:
    """`count` threads, each asking for `key` again and again on one connection with a small
    receive buffer, and reading the answer `chunk` bytes every `pause` seconds: a client on a
    slow link, or one that stopped reading. Counts answers read whole, refusals (waited out as
    advised), and connections the node closed before the answer was (seen once what the
    node's kernel had taken is read: after `finish`, when the rest is read at once; not
    before, or hundreds of readers taking their answers at once would take the processor
    from the writers being measured). `start` returns once every reader has the head of its
    first answer: readers that are slow, not 400 asking at once (a read burst, measured
    apart), are what the writers run beside."""

    def __init__(self, host, port, count, key, chunk=4096, pause=1.0):
        self.host, self.port, self.count, self.key = host, port, count, key
        self.chunk, self.pause = chunk, pause
        self.finished = threading.Event()
        self.lock = threading.Lock()
        self.answered = threading.Condition(self.lock)
        self.first_heads = 0
        self.whole = 0
        self.cut_off = 0
        self.refused = 0

    def _one(self):
        request = f"GET /api/v1/key/{self.key} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        s, first = None, True
        while not self.finished.is_set():
            try:
                if s is None:
                    s = socket.socket()
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                    s.settimeout(10)
                    s.connect((self.host, self.port))
                s.sendall(request)
                got = b""
                while b"\r\n\r\n" not in got:
                    part = s.recv(self.chunk)
                    if not part:
                        raise ConnectionResetError
                    got += part
                head, _, body = got.partition(b"\r\n\r\n")
                if first:
                    first = False
                    with self.answered:
                        self.first_heads += 1
                        self.answered.notify_all()
                length = int(next((line.split(b":")[1] for line in head.split(b"\r\n")
                                   if line.lower().startswith(b"content-length:")), b"0"))
                if head.startswith(b"HTTP/1.1 503"):
                    while len(body) < length:
                        body += s.recv(65536)
                    with self.lock:
                        self.refused += 1
                    self.finished.wait(json.loads(body).get("retry_after_ms", 1000) / 1000)
                    continue
                while len(body) < length:
                    if self.finished.wait(self.pause):
                        # The end: take the rest at once, to see whether the node cut it off
                        # (what its kernel had taken arrives first).
                        part = s.recv(65536)
                    else:
                        part = s.recv(self.chunk)
                    if not part:
                        raise ConnectionResetError
                    body += part
                with self.lock:
                    self.whole += 1
            except OSError:
                with self.lock:
                    self.cut_off += 1
                s.close()
                s = None
        if s is not None:
            s.close()

    def start(self):
        self.threads = [threading.Thread(target=self._one, daemon=True) for _ in range(self.count)]
        for thread in self.threads:
            thread.start()
        with self.answered:
            if not self.answered.wait_for(lambda: self.first_heads == self.count, timeout=60):
                self.finished.set()
                raise TimeoutError(f"{self.count - self.first_heads} of {self.count} slow readers got no answer in 60 s")
        return self

    def finish(self):
        """Stops asking, reads what each answer has left, and waits for every reader."""
        self.finished.set()
        for thread in self.threads:
            thread.join()

    def report(self):
        return {"slow_readers": self.count, "answers_read_whole": self.whole, "closed_by_node": self.cut_off,
                "refused": self.refused}


def raise_open_file_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def put_value(host, port, key, value_size, headers=None):
    """Writes a value of `value_size` bytes to `key`: something for readers to ask for."""
    connection = http.client.HTTPConnection(host, port, timeout=30)
    connection.request("PUT", f"/api/v1/key/{key}", body=b"r" * value_size, headers=headers or {})
    assert connection.getresponse().status == 200
    connection.close()


def flood(host, port, writers, value_size, seconds, pids=(), idle=0, idle_ports=(), slow_readers=0, headers=None,
          expect_continue=True, keys=None):
    """Runs the writers (with the idle clients and slow readers beside them, if asked) and
    returns the report, with "peak_rss" by pid."""
    raise_open_file_limit()
    idle_clients = IdleClients(host, list(idle_ports) or [port], idle) if idle else None
    readers = None
    if slow_readers:
        # Something to read: a value as large as the writers'.
        put_value(host, port, "slow-read", value_size, headers)
        readers = SlowReaders(host, port, slow_readers, "slow-read").start()
    try:
        with MemorySampler(pids) as memory:
            report = run_writers(host, port, writers, value_size, seconds, headers=headers,
                                 expect_continue=expect_continue, keys=keys).report()
            if readers:
                readers.finish()
                report.update(readers.report())
        report["expect_continue"] = expect_continue
        report["peak_rss"] = {str(pid): peak for pid, peak in memory.peak.items()}
        if idle_clients:
            report["idle_clients"] = len(idle_clients.sockets)
            report["idle_open_after"] = idle_clients.still_open()
    finally:
        if idle_clients:
            idle_clients.close()
    return report


def latency_summary(name, latencies):
    """How many of `latencies` (ms) there were, and their p50, p99 and max, named `name`_..."""
    return {f"{name}_writes": len(latencies), f"{name}_p50_ms": round(percentile(latencies, 50), 1),
            f"{name}_p99_ms": round(percentile(latencies, 99), 1), f"{name}_max_ms": round(max(latencies, default=0.0), 1)}


class ProbeWrites:
    """While in use, a thread writing 10 bytes at a time to ten keys named `prefix`0-9 on a
    connection of its own, a millisecond apart; `latencies` holds each write's, in ms, from
    its request sent to its answer read."""

    def __init__(self, host, port, prefix):
        self.host, self.port, self.prefix = host, port, prefix
        self.latencies, self.stop = [], threading.Event()

    def _run(self):
        writes = http.client.HTTPConnection(self.host, self.port, timeout=60)
        while not self.stop.is_set():
            sent = time.monotonic()
            writes.request("PUT", f"/api/v1/key/{self.prefix}{len(self.latencies) % 10}", body=b"p" * 10)
            writes.getresponse().read()
            self.latencies.append((time.monotonic() - sent) * 1000)
            self.stop.wait(0.001)
        writes.close()

    def __enter__(self):
        self.thread = threading.Thread(target=self._run)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


def read_burst(host, port, readers, value_size, consistency="linearizable", probe_seconds=2.0):
    """`readers` connections with small receive buffers ask for one `value_size` value at once
    at `consistency` (the node confirms linearizable ones together, and reads stale ones in
    the same turns), while a probe writes 10 bytes at a time on a connection of its own.
    Returns the probe's latencies in ms (each from its request sent to its answer read) and
    the status each reader's answer began with (its rest is never read)."""
    raise_open_file_limit()
    put_value(host, port, "burst-read", value_size)
    sockets = []
    for _ in range(readers):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(10)
        s.connect((host, port))
        sockets.append(s)
    with ProbeWrites(host, port, "burst-probe-") as probe:
        time.sleep(probe_seconds / 4)
        request = f"GET /api/v1/key/burst-read?consistency={consistency} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        for s in sockets:
            s.sendall(request)
        time.sleep(probe_seconds)
    statuses = {}
    for s in sockets:
        try:
            status = s.recv(12)[9:12].decode() or "closed"
        except OSError:
            status = "no answer"
        statuses[status] = statuses.get(status, 0) + 1
        s.close()
    return {"probe_ms": probe.latencies, "reader_statuses": statuses}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--http", required=True, help="host:port of the node's HTTP API")
    parser.add_argument("--writers", type=int, default=400)
    parser.add_argument("--keys", type=int, help="keys written, each writer cycling through its share (default: one per writer)")
    parser.add_argument("--value-size", type=int, default=1 << 20, help="bytes of each value")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--idle", type=int, default=0, help="idle connections to hold open meanwhile")
    parser.add_argument("--idle-port", type=int, action="append", default=[], help="ports for them (default: --http's)")
    parser.add_argument("--slow-readers", type=int, default=0)
    parser.add_argument("--no-expect", action="store_true", help="send each body at once, without Expect: 100-continue")
    parser.add_argument("--pid", type=int, action="append", default=[], help="a node's pid, whose peak RSS to report")
    parser.add_argument("--read-burst", type=int, metavar="READERS",
                        help="instead: READERS reads of one --value-size value at once, and a probe's small writes beside them")
    parser.add_argument("--consistency", default="linearizable", help="of --read-burst's reads (linearizable, lease, stale)")
    args = parser.parse_args()
    host, port = args.http.rsplit(":", 1)
    if args.read_burst:
        burst = read_burst(host, int(port), args.read_burst, args.value_size, args.consistency)
        burst.update(latency_summary("probe", burst.pop("probe_ms")))
        print(json.dumps(burst, indent=1))
        return
    print(json.dumps(flood(host, int(port), args.writers, args.value_size, args.seconds, args.pid, args.idle,
                           args.idle_port, args.slow_readers, expect_continue=not args.no_expect,
                           keys=args.keys), indent=1))


if __name__ == "__main__":
    main()
