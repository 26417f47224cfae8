"""Watchers for the chaos rounds: one per node, each watching the workload's k* keys
(watch_check.PREFIX) over the binary protocol's streaming Watch while the faults go on, and
recording every response it receives in a watch_check.WatcherLog.

A watch that breaks - an error, the connection lost, the node killed, or SILENCE_SECONDS
without a message (a paused node: progress notes come every 5 s) - is resumed with since =
the last index received, on the watcher's own node first, else on the first other node that
answers; a round of them that all fail is retried after a short backoff, until the round
stops. After the round, read_reference reads the same changes once more, in one unbroken
watch, for tools/chaos/watch_check.py to compare them with."""

import contextlib
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "clients", "python"))
import raftcache_client as rc  # noqa: E402
from watch_check import PREFIX, SET, WatcherLog  # noqa: E402

SILENCE_SECONDS = 7.0
BACKOFF_SECONDS = (0.1, 2.0)    # after a round of failed resumes: first, and most
START_SECONDS = 10.0            # for every watcher's first response, before the workload starts
REFERENCE_SECONDS = 60.0        # for the reference to reach the cluster's applied index
OUT_OF_RANGE = rc.wire.wire_pb2.STATUS_CODE_OUT_OF_RANGE
LEADER = rc.wire.kv_pb2.ROLE_LEADER


@contextlib.contextmanager
def watching(node, since, silence):
    """The responses of a watch of PREFIX on `node` (its `addr` and `tls`) after `since`; a read
    that waits `silence` seconds raises TimeoutError. Cancelled when left."""
    # A healthy node sends a progress note every 5 s; a paused one (whose kernel still holds
    # the connection open) sends nothing, and that must count as a break.
    with rc.Client(node.addr, timeout=silence, tls=node.tls) as client:
        with contextlib.closing(client.watch(prefix=PREFIX.encode(), since=since, idle_timeout=silence)) as responses:
            yield responses


def entry(response):
    """A WatchResponse as a log records it."""
    return response.index, [(e.kind, e.key.decode(), e.value.decode() if e.kind == SET else None, e.mod_index)
                            for e in response.events]


def describe(error, silence):
    """What ended a watch, for the report."""
    if isinstance(error, TimeoutError):
        return f"nothing for {silence:g} s"
    return f"{type(error).__name__}: {error}"


def note_out_of_range(log, node, since, error):
    if isinstance(error, rc.RPCError) and error.status == OUT_OF_RANGE:
        oldest = error.detail.oldest_index if error.detail else 0
        log.out_of_range.append((node.id, since, oldest, error.message))


class Watcher:
    """Watches PREFIX from its node for the whole round, as the module's docstring says."""

    def __init__(self, node, others, stopping, silence=SILENCE_SECONDS):
        self.log = WatcherLog(node.id)
        self.nodes = [node] + list(others)
        self.stopping = stopping
        self.silence = silence
        self.answered = threading.Event()  # Its first response came.
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        delay = BACKOFF_SECONDS[0]
        while not self.stopping.is_set():
            if self.resume():
                delay = BACKOFF_SECONDS[0]
            else:
                self.stopping.wait(delay)
                delay = min(2 * delay, BACKOFF_SECONDS[1])

    def resume(self):
        """Watches on the first of its nodes that answers, until that watch ends; whether one answered."""
        return any(self.watch(node) for node in self.nodes if not self.stopping.is_set())

    def watch(self, node):
        """One watch on `node` from the last index received, recorded until it breaks or the
        round stops; whether the node answered."""
        since, before = self.log.last_index, len(self.log.responses)
        try:
            with watching(node, since, self.silence) as responses:
                for response in responses:
                    self.record(node, since, before, response)
                    if self.stopping.is_set():
                        return True
            why = "the node ended the watch"
        except Exception as error:  # Whatever ends a watch is a break, the unexpected too: the report says which.
            why = describe(error, self.silence)
            note_out_of_range(self.log, node, since, error)
        answered = len(self.log.responses) > before
        if answered:
            self.log.breaks.append((len(self.log.responses), node.id, why))
        return answered

    def record(self, node, since, before, response):
        if len(self.log.responses) == before:
            self.log.sessions.append((before, node.id, since))
            if self.log.started is None:
                self.log.started = time.monotonic()
                self.answered.set()
        self.log.responses.append(entry(response))


class Watchers:
    """A Watcher on each of `nodes` (reading on threads), and the reference after the round."""

    def __init__(self, nodes, silence=SILENCE_SECONDS):
        self.nodes = list(nodes)
        self.silence = silence
        self.stopping = threading.Event()
        self.watchers = [Watcher(n, [o for o in self.nodes if o is not n], self.stopping, silence) for n in self.nodes]

    @property
    def logs(self):
        return [w.log for w in self.watchers]

    def start(self, timeout=START_SECONDS):
        """Starts them, and returns once each has its first response (or `timeout` passed): the
        writes that follow are then all after the reference's start."""
        for watcher in self.watchers:
            watcher.thread.start()
        deadline = time.monotonic() + timeout
        for watcher in self.watchers:
            watcher.answered.wait(max(0.0, deadline - time.monotonic()))

    def stop(self):
        """Each stops at its next response (a progress note comes within 5 s) or break."""
        self.stopping.set()
        for watcher in self.watchers:
            watcher.thread.join()

    def reference(self, statuses, timeout=REFERENCE_SECONDS):
        """read_reference from the earliest start of any watcher up to the highest applied index
        of `statuses` (the nodes' StatusResponses, None for one that did not answer), on the
        leader first."""
        leader = next((s.node_id for s in statuses if s and s.role == LEADER), None)
        nodes = sorted(self.nodes, key=lambda n: n.id != leader)
        since = min((log.start for log in self.logs if log.responses), default=0)
        until = max((s.applied_index for s in statuses if s), default=0)
        return read_reference(nodes, since, until, self.silence, timeout)


def read_reference(nodes, since, until, silence=SILENCE_SECONDS, timeout=REFERENCE_SECONDS):
    """The changes after `since`, read in one unbroken watch up to a progress note at `until`
    or later, on the first of `nodes` that serves them all: a WatcherLog of that watch (with
    no responses, its breaks saying why, when none did)."""
    log = WatcherLog("reference")
    for node in nodes:
        why = read_whole(log, node, since, until, silence, timeout)
        if why is None:
            return log
        log.breaks.append((0, node.id, why))
    return log


def read_whole(log, node, since, until, silence, timeout):
    """Reads the reference from `node` into `log`: None once done, else why it could not."""
    deadline = time.monotonic() + timeout
    responses = []
    try:
        with watching(node, since, silence) as stream:
            for response in stream:
                responses.append(entry(response))
                if not response.events and response.index >= until:
                    log.responses, log.sessions = responses, [(0, node.id, since)]
                    return None
                if time.monotonic() > deadline:
                    return f"no progress note at {until} or later in {timeout:g} s (at {response.index})"
        return "the node ended the watch"
    except Exception as error:  # As for a watcher: any failure means another node is tried.
        note_out_of_range(log, node, since, error)
        return describe(error, silence)
