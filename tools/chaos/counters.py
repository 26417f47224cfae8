"""Exactly-once increments under faults: each counter has a client session (the Python
client's Session) that increments its own key c0, c1, ... again and again, sending each
increment again, with the same sequence number, through any node until one answers. An
increment not answered within the session's retry time (a long partition) is sent again, with
its number, once the faults are healed. Then every counter must hold exactly the increments
its client was told of: none lost, none applied twice."""

import os
import sys
from dataclasses import dataclass, field

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "clients", "python"))
import raftcache_client as rc  # noqa: E402

from workload import Workers  # noqa: E402


@dataclass
class Tally:
    key: str
    acknowledged: int = 0
    resent: int = 0
    error: str = ""
    session: object = field(default=None, repr=False)


class Counters(Workers):
    def __init__(self, nodes, count=2, timeout=1.0, retry_for=30.0):
        super().__init__()
        self.nodes = nodes
        self.tallies = [Tally(f"c{i}") for i in range(count)]
        self.timeout, self.retry_for = timeout, retry_for

    def start(self):
        self.start_each(self.count, self.tallies)

    def increment(self, tally, sequence=None):
        return tally.session.write("/raftcache.KV/Incr", rc.kv_pb2.IncrRequest(key=tally.key.encode(), by=1), sequence)

    def count(self, tally):
        try:
            tally.session = rc.Session([node.addr for node in self.nodes], timeout=self.timeout, tls=self.nodes[0].tls,
                                       token=self.nodes[0].token, retry_for=self.retry_for)
        except (rc.RPCError, OSError) as error:
            tally.error = f"no session: {error}"
            return
        while not self.stopping.is_set():
            try:
                answer = self.increment(tally)
            except (rc.RPCError, OSError):
                continue  # Unanswered: sent again after the faults.
            tally.acknowledged += 1
            if answer.value != tally.acknowledged + tally.resent and not tally.session.unanswered:
                tally.error = f"increment {tally.acknowledged} was answered {answer.value}"

    def check(self, node):
        """(ok, one line a counter), with the faults healed: each counter's unanswered
        increments sent again with their numbers, then its value read from `node` must be
        exactly the increments answered."""
        lines, ok = [], True
        for tally in self.tallies:
            if tally.session is not None:
                for sequence in sorted(tally.session.unanswered):
                    try:
                        self.increment(tally, sequence)
                        tally.resent += 1
                    except (rc.RPCError, OSError) as error:
                        tally.error = f"increment {sequence} unanswered after the faults: {error}"
                tally.session.close()
        with node.client(timeout=5.0) as client:
            for tally in self.tallies:
                value = int(client.get(tally.key.encode()) or b"0")
                answered = tally.acknowledged + tally.resent
                exact = value == answered and answered > 0 and not tally.error
                ok = ok and exact
                retries = tally.session.retries if tally.session else 0
                lines.append(f"{tally.key}: {value} held, {answered} answered ({tally.resent} of them sent again after the faults), "
                             f"{retries} retries{'' if exact else ' - NOT EXACTLY ONCE'}{f' ({tally.error})' if tally.error else ''}")
        return ok, lines
