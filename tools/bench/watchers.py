#!/usr/bin/env python3
"""Many watchers at once, for tools/bench/cache: N binary watch streams (/raftcache.KV/Watch)
multiplexed over a few connections to one node, in one asyncio process, each on a key of its
own (key-prefix + i), counting the changes they receive until stopped.

    python3 tools/bench/watchers.py --addr 127.0.0.1:8081 --watchers 1000 --connections 10 \\
        --key-prefix k --seconds 30

Prints one JSON object: watchers started, changes received, streams ended early (and why)."""

import argparse
import asyncio
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "clients", "python"))
import raftcache_client as rc  # noqa: E402

wire = rc.wire


async def connection(host, port, keys, first_call, counts, ready):
    """One connection carrying a watch of each key; counts changes until cancelled."""
    reader, writer = await asyncio.open_connection(host, port)
    for i, key in enumerate(keys):
        request = wire.kv_pb2.WatchRequest(key=key)
        writer.write(wire.request_frame(first_call + i, "/raftcache.KV/Watch", request))
    await writer.drain()
    decoder = wire.FrameDecoder()
    started = set()
    try:
        while True:
            data = await reader.read(1 << 16)
            if not data:
                counts["closed"] += 1
                return
            decoder.feed(data)
            for envelope in decoder.frames():
                if envelope.status != wire.wire_pb2.STATUS_CODE_OK or not envelope.more:
                    counts["ended"][rc.STATUS_NAMES.get(envelope.status, str(envelope.status))] = \
                        counts["ended"].get(rc.STATUS_NAMES.get(envelope.status, str(envelope.status)), 0) + 1
                    continue
                response = wire.kv_pb2.WatchResponse()
                response.ParseFromString(envelope.payload)
                if envelope.call_id not in started:
                    started.add(envelope.call_id)
                    counts["started"] += 1
                    if counts["started"] == counts["wanted"]:
                        ready.set()
                counts["changes"] += len(response.events)
    finally:
        writer.close()


async def run(args):
    host, port = rc.split_host_port(args.addr)
    counts = {"wanted": args.watchers, "started": 0, "changes": 0, "closed": 0, "ended": {}}
    ready = asyncio.Event()
    keys = [f"{args.key_prefix}{i}".encode() for i in range(args.watchers)]
    share = (len(keys) + args.connections - 1) // args.connections
    tasks = [asyncio.create_task(connection(host, port, keys[c * share:(c + 1) * share], 1 + c * share, counts, ready))
             for c in range(args.connections)]
    await asyncio.wait_for(ready.wait(), timeout=60)
    # Said on stdout at once, so a driver knows the watches are in place.
    print(json.dumps({"ready": counts["started"]}), flush=True)
    await asyncio.sleep(args.seconds)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    counts.pop("wanted")
    print(json.dumps(counts), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--addr", required=True, help="a node's binary address, host:port")
    parser.add_argument("--watchers", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--key-prefix", default="k")
    parser.add_argument("--seconds", type=float, default=30)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
