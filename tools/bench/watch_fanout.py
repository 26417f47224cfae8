#!/usr/bin/env python3
"""One key many watch: N HTTP watchers (NDJSON) of one key at a node, then W writes of a
V-byte value to it, one after another, while a probe on a connection of its own writes 10
bytes to other keys again and again. Measures how long each change takes to reach every
watcher, and how long the probe's writes wait meanwhile (a change handed to watchers on the
node's loop holds every request beside it for as long as that takes).

    python3 tools/bench/watch_fanout.py --http 127.0.0.1:8000 --watchers 200 \\
        --value-size 262144 --writes 5

Prints one JSON object. The node needs --max-value-size at least --value-size."""

import argparse
import asyncio
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from overload import ProbeWrites, latency_summary, put_value, raise_open_file_limit  # noqa: E402


async def watch(host, port, key, writes, arrived, started):
    """Reads one NDJSON watch of `key` until it has `writes` changes; notes when each came."""
    reader, writer = await asyncio.open_connection(host, port, limit=1 << 26)
    writer.write(f"GET /api/v1/watch?key={key} HTTP/1.1\r\nHost: x\r\nAccept: application/x-ndjson\r\n\r\n".encode())
    await writer.drain()
    changes = 0
    while changes < writes:
        line = await reader.readline()
        if not line:
            raise ConnectionError("the node ended a watch")
        if not started.done() and line.startswith(b"{"):
            started.set_result(None)
        # Chunk sizes and the head are lines of their own; a message with events is a change
        # (keys in order: "events" first), one with none a progress note.
        if line.startswith(b'{"end"'):
            raise ConnectionError(f"the node ended a watch: {line.decode()}")
        if line.startswith(b'{"events":[{'):
            changes += 1
            arrived[changes - 1].append(time.monotonic())
    writer.close()


async def run(host, port, watchers, value_size, writes):
    key = "watch-fanout"
    arrived = [[] for _ in range(writes)]
    loop = asyncio.get_running_loop()
    firsts = [loop.create_future() for _ in range(watchers)]
    tasks = [asyncio.create_task(watch(host, port, key, writes, arrived, first)) for first in firsts]
    # Every watch has its first message (the progress note where it starts).
    await asyncio.wait_for(asyncio.gather(*firsts), 60)
    reached = []
    with ProbeWrites(host, port, "watch-fanout-probe-") as probe:
        for change in range(writes):
            written = time.monotonic()
            await asyncio.to_thread(put_value, host, port, key, value_size)
            while len(arrived[change]) < watchers:
                for failed in (task for task in tasks if task.done() and task.exception()):
                    raise failed.exception()
                await asyncio.sleep(0.005)
            reached.append((max(arrived[change]) - written) * 1000)
        await asyncio.wait_for(asyncio.gather(*tasks), 60)
    return {"watchers": watchers, "value_bytes": value_size, "writes": writes,
            "to_every_watcher_ms": [round(ms, 1) for ms in reached], **latency_summary("probe", probe.latencies)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--http", required=True, help="host:port of the node's HTTP API")
    parser.add_argument("--watchers", type=int, default=200)
    parser.add_argument("--value-size", type=int, default=256 << 10, help="bytes of each value written")
    parser.add_argument("--writes", type=int, default=5)
    args = parser.parse_args()
    raise_open_file_limit()
    host, port = args.http.rsplit(":", 1)
    print(json.dumps(asyncio.run(run(host, int(port), args.watchers, args.value_size, args.writes)), indent=1))


if __name__ == "__main__":
    main()
