"""Exactly-once increments under faults: each counter has a client session (the Python
client's Session) that increments its own key c0, c1, ... again and again, sending each
increment again, with the same sequence number, through any node until one answers. After
the round every counter must hold exactly the increments its client was told of: none lost,
none applied twice. An increment that could not be answered within the session's retry time
counts as unknown (then the counter may hold it or not)."""

import sys
import os
import threading
from dataclasses import dataclass

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "clients", "python"))
import raftcache_client as rc  # noqa: E402


@dataclass
class Tally:
    key: str
    acknowledged: int = 0
    unknown: int = 0
    retries: int = 0
    error: str = ""


class Counters:
    def __init__(self, nodes, count=2, timeout=1.0, retry_for=60.0):
        self.nodes = nodes
        self.tallies = [Tally(f"c{i}") for i in range(count)]
        self.timeout, self.retry_for = timeout, retry_for
        self.stopping = threading.Event()
        self.threads = []

    def start(self):
        for tally in self.tallies:
            thread = threading.Thread(target=self.count, args=(tally,), daemon=True)
            thread.start()
            self.threads.append(thread)

    def stop(self):
        self.stopping.set()
        for thread in self.threads:
            thread.join()

    def count(self, tally):
        addrs = [node.addr for node in self.nodes]
        try:
            session = rc.Session(addrs, timeout=self.timeout, tls=self.nodes[0].tls, token=self.nodes[0].token,
                                 retry_for=self.retry_for)
        except (rc.RPCError, OSError) as error:
            tally.error = f"no session: {error}"
            return
        with session:
            while not self.stopping.is_set():
                try:
                    value, _ = session.incr(tally.key.encode())
                except (rc.RPCError, OSError) as error:
                    tally.unknown += 1
                    tally.error = str(error)
                    continue
                tally.acknowledged += 1
                if tally.unknown == 0 and value != tally.acknowledged:
                    tally.error = f"increment {tally.acknowledged} was answered {value}"
            tally.retries = session.retries

    def check(self, node):
        """(ok, one line a counter): each counter's value read from `node` against its tally."""
        lines, ok = [], True
        with node.client(timeout=5.0) as client:
            for tally in self.tallies:
                value = int(client.get(tally.key.encode()) or b"0")
                exact = tally.acknowledged <= value <= tally.acknowledged + tally.unknown and not tally.error.startswith("increment")
                ok = ok and exact
                lines.append(f"{tally.key}: {value} held, {tally.acknowledged} acknowledged, {tally.unknown} unknown, "
                             f"{tally.retries} retries{'' if exact else ' - NOT EXACTLY ONCE'}"
                             f"{f' ({tally.error})' if tally.error else ''}")
        return ok, lines
