"""The chaos watchers (tools/chaos/watchers.py) against fake nodes that speak the binary
protocol's Watch from one shared log: a watcher whose node is killed, paused (silent: the
kernel still holds the connection), or answers OUT_OF_RANGE resumes on another node with
since = the last index received and sees every change once; the reference reads them
whole; run.py --help offers --no-watchers. Pure Python, no real node."""

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import watch_check  # noqa: E402
import watchers  # noqa: E402
from watchers import rc  # noqa: E402

wire = rc.wire
SILENCE = 0.3        # the watchers' patience here
NOTE_SECONDS = 0.05  # how often a fake node sends a progress note when nothing changed


class FakeLog:
    """The changes every fake node serves: entry n changes k<n % 3>, or a t* key every third.
    It starts with a few, as a real cluster starts with its configuration (a watch's since 0
    means "from the applied index on")."""

    def __init__(self):
        self.entries = []
        self.changed = threading.Condition()
        for _ in range(5):
            self.apply()

    @property
    def applied(self):
        return len(self.entries)

    def apply(self):
        with self.changed:
            index = len(self.entries) + 1
            key = f"k{index % 3}" if index % 3 else "t0"
            self.entries.append([wire.kv_pb2.WatchEvent(kind=0, key=key.encode(), value=f"v{index}".encode(),
                                                        mod_index=index)])
            self.changed.notify_all()


class FakeNode:
    """Serves Watch on a loopback port: the log's changes after `since` under the prefix asked,
    a progress note, then each change and a note when none came for NOTE_SECONDS. kill() drops
    the connections and refuses new ones until start(); `paused` keeps them, silent; a `since`
    below `horizon` is OUT_OF_RANGE, as on a node restarted from a snapshot."""

    def __init__(self, log, node_id):
        self.log, self.id, self.tls = log, node_id, None
        self.horizon, self.paused, self.alive = 0, False, False
        self.port = self.listener = None
        self.connections = []
        self.start()

    @property
    def addr(self):
        return f"127.0.0.1:{self.port}"

    def start(self):
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", self.port or 0))
        self.listener.listen()
        self.port, self.alive = self.listener.getsockname()[1], True
        threading.Thread(target=self.accept, args=(self.listener,), daemon=True).start()

    def kill(self):
        self.alive = False
        self.listener.shutdown(socket.SHUT_RDWR)  # Wakes its accept(), which close() alone would not.
        self.listener.close()
        self.drop()

    def drop(self):
        """Ends every watch, as a restart would, but with no moment of refusing connections
        (those accepted meanwhile are served)."""
        connections, self.connections = self.connections, []
        for connection in connections:
            with contextlib.suppress(OSError):  # Closed already, its watcher gone.
                connection.shutdown(socket.SHUT_RDWR)

    def accept(self, listener):
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            self.connections.append(connection)
            threading.Thread(target=self.serve, args=(connection,), daemon=True).start()

    def serve(self, connection):
        decoder = wire.FrameDecoder()
        with connection:
            try:
                while not (frames := list(decoder.frames())):
                    data = connection.recv(65536)
                    if not data:
                        return
                    decoder.feed(data)
                self.stream(connection, frames[0].call_id, wire.kv_pb2.WatchRequest.FromString(frames[0].payload))
            except OSError:
                pass  # The watcher went away, or this node was killed.

    def stream(self, connection, call_id, request):
        def send(index, events=(), status=0, message="", payload=b""):
            while self.paused and self.alive:
                time.sleep(0.01)
            if not self.alive:
                raise ConnectionError("killed")
            if not status:
                payload = wire.kv_pb2.WatchResponse(index=index, events=list(events)).SerializeToString()
            connection.sendall(wire.encode_frame(wire.Envelope(call_id=call_id, kind=wire.RESPONSE, more=not status,
                                                               status=status, message=message, payload=payload)))

        if request.since and request.since < self.horizon:
            detail = wire.ErrorDetail(oldest_index=self.horizon).SerializeToString()
            return send(0, status=wire.wire_pb2.STATUS_CODE_OUT_OF_RANGE, payload=detail,
                        message=f"changes after index {request.since} are no longer held here")
        sent, first = request.since or self.log.applied, True
        while True:
            with self.log.changed:
                if self.log.applied == sent and not first:
                    self.log.changed.wait(NOTE_SECONDS)
                entries = self.log.entries[sent:]
            for index, events in enumerate(entries, start=sent + 1):
                matched = [e for e in events if e.key.startswith(request.prefix)]
                if matched:
                    send(index, matched)
            sent += len(entries)
            if first or not entries:  # The first note, after the history; then one whenever quiet.
                send(max(request.since, sent))
            first = False


class Writer:
    """Applies a change every 2 ms until stopped."""

    def __init__(self, log):
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, args=(log,), daemon=True)
        self.thread.start()

    def run(self, log):
        while not self.stopping.wait(0.002):
            log.apply()

    def stop(self):
        self.stopping.set()
        self.thread.join()


def history_of(log, since):
    """Every set of a k* key as an ok write: those after `since` invoked after the watchers
    started, the others before."""
    return [{"process": 0, "op": "set", "key": e.key.decode(), "value": e.value.decode(),
             "invoke": -1.0 if index <= since else time.monotonic(), "complete": None, "outcome": "ok"}
            for index, events in enumerate(log.entries, start=1) for e in events if e.key.startswith(b"k")]


def until(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def round_of(nodes, log, faults):
    """Watchers on `nodes` while a writer writes and `faults` (a function of the watchers' logs)
    runs; then the check."""
    watching = watchers.Watchers(nodes, silence=SILENCE)
    watching.start()
    writer = Writer(log)
    faults(watching.logs)
    writer.stop()
    watching.stop()
    since = min(watcher.start for watcher in watching.logs)
    reference = watchers.read_reference(nodes, since, log.applied, SILENCE, 5)
    history = history_of(log, since)
    return watching.logs, reference, watch_check.check(watching.logs, reference, history)


def test_watchers_resume_elsewhere_after_a_kill_and_a_pause_and_miss_nothing():
    log = FakeLog()
    n1, n2, n3 = nodes = [FakeNode(log, f"n{i}") for i in (1, 2, 3)]

    def faults(logs):
        time.sleep(0.1)
        n1.kill()  # n1's watcher resumes on n2.
        until(lambda: len(logs[0].sessions) == 2)
        n2.paused = True  # Then n1's and n2's hear nothing: n1 refuses, n2 is silent again, n3 answers.
        until(lambda: len(logs[0].sessions) == 3 and len(logs[1].sessions) == 2)
        n2.paused = False
        n1.start()
        time.sleep(0.1)

    logs, reference, result = round_of(nodes, log, faults)
    assert result.ok, result.report()
    first, second, third = logs
    assert [node for _, node, _ in first.sessions] == ["n1", "n2", "n3"]
    assert [node for _, node, _ in second.sessions] == ["n2", "n3"]
    assert [node for _, node, _ in third.sessions] == ["n3"]
    assert [why for _, _, why in first.breaks] == ["ConnectionError: the node closed the connection",
                                                   f"nothing for {SILENCE:g} s"]
    for log_ in (first, second):  # each resumed from the last index it had received
        for (position, _, since), (before, _, _) in zip(log_.sessions[1:], log_.breaks):
            assert position == before and since == log_.responses[position - 1][0]
    assert result.breaks == result.resumes == 3
    assert min(result.changes) > 100 and reference.sessions == [(0, "n1", reference.start)]
    for node in nodes:
        node.kill()


def test_out_of_range_on_resume_is_reported_and_another_node_serves():
    log = FakeLog()
    n1, n2 = nodes = [FakeNode(log, f"n{i}") for i in (1, 2)]

    def faults(logs):
        time.sleep(0.1)
        n1.horizon = log.applied + 1_000  # Restarted from a snapshot ahead of every watcher.
        n1.drop()
        until(lambda: logs[0].out_of_range and logs[0].sessions[-1][1] == "n2")
        time.sleep(0.1)

    logs, reference, result = round_of(nodes, log, faults)
    (node, since, oldest, message), = logs[0].out_of_range
    assert node == "n1" and oldest == n1.horizon and logs[0].sessions[-1][1:] == ("n2", since)
    # The reference too is refused by n1, and read on n2; the rest checks out.
    assert reference.sessions == [(0, "n2", reference.start)]
    assert result.violations == [
        f"reference: OUT_OF_RANGE from n1 for since {reference.start} (oldest index {oldest}): "
        f"changes after index {reference.start} are no longer held here",
        f"n1: OUT_OF_RANGE from n1 for since {since} (oldest index {oldest}): {message}"]
    for node in nodes:
        node.kill()


def test_run_help_offers_no_watchers():
    done = subprocess.run([sys.executable, os.path.join(os.path.dirname(HERE), "run.py"), "--help"],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert "--no-watchers" in done.stdout and "no watchers on the nodes" in done.stdout
