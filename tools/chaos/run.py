#!/usr/bin/env python3
"""Chaos rounds against a real raft-cache cluster: concurrent clients over HTTP and the
binary protocol write, compare-and-set and read a few keys on every node, and set keys with
a time to live, while faults are injected - kill -9 and restart, SIGSTOP/SIGCONT, network
partitions (majority/minority, an isolated leader, one-way loss) made with network
namespaces. Meanwhile a watcher on every node streams the changes of the k* keys,
resuming after each break (see tools/chaos/watchers.py). Then every fault is healed, the
nodes must converge (same applied index and digest), the recorded history must be
linearizable (keys with a TTL: no value read after it expired; see
tools/chaos/linearizability.py), and each watcher must have received exactly the committed
changes of its keys, in order (see tools/chaos/watch_check.py; --no-watchers: none), and
counters incremented through client sessions, each increment sent again until answered,
must hold exactly the increments acknowledged (see tools/chaos/counters.py).

Prints operations by outcome (and the compare-and-sets and TTL sets), availability during
each fault and while healthy, the watchers' breaks and resumes, and the verdicts; writes the
history (JSON lines) for tools/chaos/linearizability.py, and what the watchers received.
Exit status: 0 linearizable, converged and watched exactly once, 1 not, 3 checker undecided.
With --expect-violation (used to show the checker has teeth, e.g. with --consistency stale)
0 means a violation was found (and the rest held). Needs root (network namespaces)."""

import argparse
import dataclasses
import json
import os
import random
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "clients", "python"))
import linearizability  # noqa: E402
import watch_check  # noqa: E402
from netcluster import NetCluster  # noqa: E402
from counters import Counters  # noqa: E402
from raftcache_cluster import BINARY, TimedOut, eventually  # noqa: E402
from watchers import Watchers  # noqa: E402
from workload import Workload  # noqa: E402

FAULTS = ("kill", "pause", "partition", "isolate-leader", "one-way")


def inject(cluster, fault, rng):
    """Starts one fault; returns what ends it."""
    leader = cluster.leader() or rng.choice(cluster.nodes)
    others = [n for n in cluster.nodes if n is not leader]
    if fault in ("kill", "pause"):
        victim = leader if rng.random() < 0.5 else rng.choice(others)
        if fault == "kill":
            victim.kill()
            return lambda: victim.start()
        victim.pause()
        return victim.resume
    if fault == "partition":
        minority = rng.sample(cluster.nodes, (len(cluster.nodes) - 1) // 2)
        cluster.partition(minority)
        return cluster.heal_network
    if fault == "isolate-leader":
        cluster.partition([leader])
        return cluster.heal_network
    if fault == "one-way":
        for other in others:
            cluster.cut(leader, other)  # The leader's packets are lost; the others' arrive.
        return cluster.heal_network
    raise ValueError(fault)


def run_fault(cluster, fault, seconds, rng, windows):
    """Repeats the fault for `seconds`: a few seconds on, a couple off."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        began = time.monotonic()
        heal = inject(cluster, fault, rng)
        time.sleep(min(4.0, max(0.5, end - time.monotonic())))
        heal()
        windows.append((fault, began, time.monotonic()))
        time.sleep(min(2.0, max(0.0, end - time.monotonic())))


def availability(history, windows):
    """For each fault, and while healthy: the share of operations invoked then that succeeded."""
    counts = {}
    for op in history:
        kind = next((f for f, a, b in windows if a <= op["invoke"] <= b), "healthy")
        ok, total = counts.get(kind, (0, 0))
        counts[kind] = (ok + (op["outcome"] == "ok"), total + 1)
    return {kind: (ok / total, total) for kind, (ok, total) in counts.items()}


def report_watchers(logs, reference, history, workdir):
    """Checks what the watchers received, prints the verdict (and any violation), and keeps
    their logs and the reference in the work directory; whether the check passed."""
    path = os.path.join(workdir, "watchers.json")
    with open(path, "w") as f:
        json.dump({"watchers": [dataclasses.asdict(log) for log in logs],
                   "reference": dataclasses.asdict(reference)}, f)
    watch = watch_check.check(logs, reference, history)
    print(f"chaos: watchers: {watch.summary()}; logs in {path}")
    if not watch.ok:
        print(watch.report())
    return watch.ok


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default=BINARY, help="default: RAFT_CACHE_BIN or the debug build")
    parser.add_argument("--nodes", type=int, default=3, choices=(3, 5))
    parser.add_argument("--faults", default=",".join(FAULTS), help=f"comma-separated, of: {', '.join(FAULTS)}")
    parser.add_argument("--fault-seconds", type=float, default=20, help="how long each fault type runs")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--keys", type=int, default=8, help="keys k0.. for sets, deletes, gets and compare-and-set")
    parser.add_argument("--ttl-keys", type=int, default=4, help="keys t0.. for sets with a TTL and gets (0: none)")
    parser.add_argument("--consistency", default="linearizable", choices=("linearizable", "lease", "stale"))
    parser.add_argument("--history", help="where to write the history (default: in the work directory)")
    parser.add_argument("--budget", type=float, default=120, help="checker seconds per key")
    parser.add_argument("--drift", type=float, default=linearizability.DEFAULT_DRIFT_SECONDS,
                        help="seconds a value may outlive its TTL before a read of it counts as a violation"
                             " (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--expect-violation", action="store_true")
    parser.add_argument("--tls", action="store_true", help="mutual TLS between the nodes and with the clients")
    parser.add_argument("--no-watchers", dest="watchers", action="store_false",
                        help="no watchers on the nodes, and no check of what they receive")
    parser.add_argument("--counters", type=int, default=2,
                        help="counters incremented exactly once through client sessions (0: none)")
    args = parser.parse_args()
    faults = [f for f in args.faults.split(",") if f]
    for fault in faults:
        if fault not in FAULTS:
            parser.error(f"unknown fault {fault}")
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    workdir = tempfile.mkdtemp(prefix="raft-cache-chaos-")
    print(f"chaos: seed {seed}, {args.nodes} nodes, faults {', '.join(faults)}, {args.fault_seconds:.0f} s each, "
          f"reads {args.consistency}{', TLS' if args.tls else ''}; work directory {workdir}", flush=True)

    windows = []
    with NetCluster(args.binary, workdir, args.nodes, tls=args.tls) as cluster:
        cluster.start()
        workload = Workload(cluster.nodes, clients=args.clients, keys=args.keys, consistency=args.consistency,
                            ttl_keys=args.ttl_keys)
        watchers = Watchers(cluster.nodes if args.watchers else [])
        counters = Counters(cluster.nodes, count=args.counters)
        watchers.start()
        counters.start()
        workload.start()
        try:
            time.sleep(2)
            for fault in faults:
                print(f"chaos: {fault}", flush=True)
                run_fault(cluster, fault, args.fault_seconds, rng, windows)
                cluster.heal()
                time.sleep(2)
        finally:
            workload.stop()
            cluster.heal()
            counters.stop()
            watchers.stop()
        try:
            eventually("the nodes to converge", cluster.converged, 60)
            converged = True
        except TimedOut:
            converged = False
        statuses = [node.status_or_none() for node in cluster.nodes]
        reference = watchers.reference(statuses) if args.watchers else None
        counted, counter_lines = counters.check(cluster.wait_for_leader()) if args.counters else (True, [])

    history = workload.history
    path = args.history or os.path.join(workdir, "history.jsonl")
    with open(path, "w") as f:
        for op in history:
            f.write(json.dumps(op) + "\n")
    result = linearizability.check(history, budget_seconds=args.budget, drift_seconds=args.drift)
    summary = linearizability.summary(history)
    print(f"chaos: {summary['total']} operations: {summary['ok']} ok, {summary['fail']} failed, "
          f"{summary['unknown']} unknown; by op: {summary['by_op']}")
    cas = summary["by_op"].get("cas", {})
    print(f"chaos: compare-and-set: {cas.get('ok', 0)} ok, {cas.get('fail', 0)} failed (condition or refused), "
          f"{cas.get('unknown', 0)} unknown; sets with a TTL: {summary['ttl_writes']} on {summary['ttl_keys']} keys")
    for kind, (share, total) in sorted(availability(history, windows).items()):
        print(f"chaos: availability {kind}: {share:.1%} of {total} operations")
    print(f"chaos: converged: {converged} " + ", ".join(
        f"{s.node_id}@{s.applied_index}/{s.digest:x}" for s in statuses if s))
    print(f"chaos: history in {path}")
    print(result.report() if not result.ok else f"chaos: verdict: {result.verdict}")
    watched = not args.watchers or report_watchers(watchers.logs, reference, history, workdir)
    for line in counter_lines:
        print(f"chaos: counter {line}")
    if args.counters:
        print(f"chaos: counters: {'each increment counted exactly once' if counted else 'NOT EXACTLY ONCE'}")
    if args.expect_violation:
        return 0 if result.ok is False and converged and watched and counted else 1
    if not converged or result.ok is False or not watched or not counted:
        return 1
    return 0 if result.ok else 3


if __name__ == "__main__":
    sys.exit(main())
