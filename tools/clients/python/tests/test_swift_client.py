"""The Swift client library (RaftCacheClient) on a live cluster, through its example program
(tools/examples/raft-cache-example): a loop of increments through a client session while the
leader is killed and restarted, again and again, loses and duplicates nothing, and its watch
streams the counter's changes."""

import json
import os
import subprocess
import sys
import tempfile
import threading

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import unprivileged  # noqa: E402

from raftcache_cluster import BINARY, build_path, founder_and_joiners, kill_leaders, running  # noqa: E402

EXAMPLE = os.environ.get("RAFT_CACHE_EXAMPLE_BIN", build_path("raft-cache-example"))

pytestmark = pytest.mark.skipif(not (os.path.exists(BINARY) and os.path.exists(EXAMPLE)),
                                reason="raft-cache or raft-cache-example is not built")


def test_a_write_loop_through_leader_kills_loses_and_duplicates_nothing():
    workdir = tempfile.mkdtemp(prefix="raft-cache-swift-client-")
    for nodes in running(workdir, founder_and_joiners(workdir)):
        count = 600
        args = [EXAMPLE, "--count", str(count), "--key", "swift-counter"]
        for node in nodes:
            args += ["--member", node.addr]
        example = subprocess.Popen(unprivileged.command(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        kills = []
        killer = threading.Thread(target=lambda: kills.extend(kill_leaders(nodes, 3, lambda: example.poll() is None)))
        killer.start()
        try:
            out, err = example.communicate(timeout=240)
        finally:
            if example.poll() is None:
                example.kill()
            killer.join(timeout=120)
        assert example.returncode == 0, (out, err)
        report = json.loads(out.strip().splitlines()[-1])
        print(f"\n{report} through {len(kills)} leader kills")
        assert report["answered"] == count
        assert report["value"] == report["start"] + count  # Exactly once each.
        assert report["watched"] > 0
        assert kills  # The loop did go through at least one leader kill.
